//! `kanta-sim demo`: the self-driven walk-through. It generates a kit, starts the archive
//! on loopback, connects as every organisation and with every certificate of the negative
//! kit, and prints what the archive said, next to what it should have said.

use crate::finding::RuleId;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use rustls::SupportedProtocolVersion;

use clap::Args;

use super::{Failure, exit};
use crate::archive::{ExchangeLog, StoredExchange};
use crate::client::{HttpVersion, MtlsClient, load_identity};
use crate::config::Config;
use crate::pki::KeyAlgorithm;
use crate::pki::{self, GenerateOptions, Index};

/// `kanta-sim demo` arguments.
#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// Keep the generated kit and data here instead of a temporary directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Key algorithm of the kit.
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Rsa2048)]
    pub key: KeyAlgorithm,
    /// Where the self-driven suites write their reports (default: `reports` under --keep,
    /// otherwise ./kanta-sim-demo-reports).
    #[arg(long)]
    pub reports: Option<PathBuf>,
}

/// What a step expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// HTTP status from the strict listener.
    Status(u16),
    /// Handshake refused with this code.
    Refused(RuleId),
}

struct Step {
    label: String,
    role: Option<String>,
    versions: &'static [&'static SupportedProtocolVersion],
    http: HttpVersion,
    method: &'static str,
    path: &'static str,
    expect: Expect,
    expect_code: Option<RuleId>,
}

struct Outcome {
    ok: bool,
    got: String,
    reason: String,
}

static BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

fn steps(index: &Index) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, a) in index.with_prefix("client:").enumerate() {
        steps.push(Step {
            label: format!(
                "{} ({})",
                a.role,
                a.subject
                    .as_deref()
                    .unwrap_or_default()
                    .split(", O=")
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                    .unwrap_or("")
            ),
            role: Some(a.role.clone()),
            versions: if i == 1 { TLS12 } else { BOTH },
            http: if i == 2 {
                HttpVersion::Http2
            } else {
                HttpVersion::Http1
            },
            method: "GET",
            path: "/health",
            expect: Expect::Status(200),
            expect_code: None,
        });
    }
    if let Some(first) = index.with_prefix("client:").next() {
        steps.push(Step {
            label: "archive a signed asiakkuusasiakirja (SP1) → AA".into(),
            role: Some(first.role.clone()),
            versions: BOTH,
            http: HttpVersion::Http1,
            method: "POST",
            path: "/archive",
            expect: Expect::Status(200),
            expect_code: None,
        });
    }
    steps.push(Step {
        label: "no client certificate".into(),
        role: None,
        versions: BOTH,
        http: HttpVersion::Http1,
        method: "GET",
        path: "/health",
        expect: Expect::Refused(RuleId::T001),
        expect_code: Some(RuleId::T001),
    });
    for (role, expect) in [
        ("bad:expired", Expect::Refused(RuleId::T003)),
        ("bad:not-yet-valid", Expect::Refused(RuleId::T004)),
        ("bad:revoked", Expect::Refused(RuleId::T005)),
        ("bad:unknown-issuer", Expect::Refused(RuleId::T002)),
        ("bad:server-auth-only", Expect::Refused(RuleId::T006)),
        ("bad:unregistered-org", Expect::Status(403)),
        ("bad:inactive-org", Expect::Status(403)),
    ] {
        if index.get(role).is_some() {
            steps.push(Step {
                label: role.into(),
                role: Some(role.into()),
                versions: BOTH,
                http: HttpVersion::Http1,
                method: "GET",
                path: "/health",
                expect,
                expect_code: match (role, expect) {
                    ("bad:unregistered-org", _) => Some(RuleId::A002),
                    ("bad:inactive-org", _) => Some(RuleId::A003),
                    (_, Expect::Refused(c)) => Some(c),
                    _ => None,
                },
            });
        }
    }
    steps
}

/// A signed SP1 archive message from the kit's first organisation (Testilä).
fn archive_message(kit: &Path) -> Result<String, Failure> {
    use crate::document::{Body, Metadata, build_cda};
    use crate::document::{SignatureType, sign_kanta_document};
    use crate::message::build::{MessageSpec, build_archive_message};
    use crate::xmldsig::{Signer, new_signature_id};
    // Unique per run, so that a kept data directory does not see a replay.
    let run = time::OffsetDateTime::now_utc()
        .unix_timestamp_nanos()
        .to_string();
    let meta = Metadata::client_relationship_example(
        &format!("1.2.246.10.99900016.10.0.2026.{run}"),
        "010190-902S",
    );
    let signer = Signer::from_kit(kit, "system-signature:1.2.246.10.99900016.10.0")
        .map_err(Failure::internal)?;
    let cda = sign_kanta_document(
        &build_cda(&meta, &Body::example(&meta, 2000)),
        &signer,
        SignatureType::System,
        time::OffsetDateTime::now_utc(),
        &new_signature_id(),
    )
    .map_err(Failure::internal)?;
    Ok(build_archive_message(
        &MessageSpec::for_document(&meta, &run),
        &meta,
        &cda,
    ))
}

async fn newest_record(log: &ExchangeLog, after: i64) -> Option<StoredExchange> {
    // The server logs a refused handshake after the client has already seen the alert.
    for _ in 0..40 {
        if let Ok(mut r) = log.recent(1)
            && let Some(rec) = r.pop()
            && rec.id > after
        {
            return Some(rec);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

async fn run_step(
    step: &Step,
    kit: &Path,
    index: &Index,
    addr: SocketAddr,
    log: &ExchangeLog,
) -> Result<Outcome, Failure> {
    let before = log
        .recent(1)
        .ok()
        .and_then(|mut r| r.pop())
        .map_or(0, |r| r.id);
    let identity = match &step.role {
        Some(role) => {
            let a = index.require(kit, role).map_err(Failure::internal)?;
            let key = a
                .key
                .as_ref()
                .ok_or_else(|| Failure::internal(format!("{role} has no key")))?;
            Some(load_identity(&kit.join(&a.cert), &kit.join(key)).map_err(Failure::internal)?)
        }
        None => None,
    };
    let ca = kit.join(
        &index
            .require(kit, "root-ca")
            .map_err(Failure::internal)?
            .cert,
    );
    let client =
        MtlsClient::new(&ca, identity, step.versions, step.http).map_err(Failure::internal)?;
    let (body, ct) = if step.method == "POST" {
        (
            Bytes::from(archive_message(kit)?),
            Some("text/xml; charset=UTF-8"),
        )
    } else {
        (Bytes::new(), None)
    };
    let result = client.request(addr, step.method, step.path, ct, body).await;
    let record = newest_record(log, before).await;
    let codes = record
        .as_ref()
        .map(|r| r.record.codes.clone())
        .unwrap_or_default();
    let reason = record
        .as_ref()
        .map(|r| r.record.summary.clone())
        .unwrap_or_default();
    let code_ok = step
        .expect_code
        .is_none_or(|c| codes.iter().any(|x| x == c.as_str()));
    Ok(match result {
        Ok(resp) => Outcome {
            ok: step.expect == Expect::Status(resp.status)
                && code_ok
                && (step.method != "POST" || reason.starts_with("AA:")),
            got: format!(
                "HTTP {} over {} {}",
                resp.status,
                resp.tls_version,
                resp.alpn.unwrap_or_default()
            ),
            reason: if reason.is_empty() {
                String::from_utf8_lossy(&resp.body)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            } else {
                reason
            },
        },
        Err(e) => Outcome {
            ok: matches!(step.expect, Expect::Refused(_)) && code_ok,
            got: format!("refused ({})", root_cause(&e)),
            reason,
        },
    })
}

/// The innermost cause: what the TLS layer said, rather than "operation was canceled".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Runs the demo; returns the exit code.
pub async fn run(args: DemoArgs) -> Result<u8, Failure> {
    let temp;
    let base: PathBuf = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempdir()?;
            temp.0.clone()
        }
    };
    let kit = base.join("certs");
    outln!("kanta-sim demo: mutual TLS at the simulated Kanta archive\n");
    outln!("1. Generating the test PKI into {} …", kit.display());
    let started = std::time::Instant::now();
    let index = pki::generate_kit(&GenerateOptions {
        force: true,
        key: args.key,
        ..GenerateOptions::new(kit.clone()).map_err(Failure::internal)?
    })
    .map_err(Failure::usage)?;
    outln!(
        "   {} artefacts in {:.1} s (index: {}/INDEX.md)\n",
        index.artefacts.len(),
        started.elapsed().as_secs_f64(),
        kit.display()
    );

    let mut cfg = Config::builtin().map_err(Failure::internal)?;
    cfg.server.listen = "127.0.0.1:0".parse().map_err(Failure::internal)?;
    cfg.server.diagnostic_listen = Some("127.0.0.1:0".parse().map_err(Failure::internal)?);
    cfg.tls.certs_dir = kit.clone();
    cfg.data.dir = base.join("data");
    let server = crate::app::start(cfg).await.map_err(Failure::usage)?;
    outln!(
        "2. Archive listening on https://{} (strict), diagnostics on https://{}\n",
        server.bound.listen,
        server
            .bound
            .diagnostic
            .map(|d| d.to_string())
            .unwrap_or_default()
    );

    outln!("3. Connecting with each certificate:\n");
    let mut failures = 0;
    for step in steps(&index) {
        let o = run_step(&step, &kit, &index, server.bound.listen, &server.log).await?;
        let expected = match step.expect {
            Expect::Status(s) => format!(
                "HTTP {s}{}",
                step.expect_code
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default()
            ),
            Expect::Refused(c) => format!("refused {c}"),
        };
        if !o.ok {
            failures += 1;
        }
        outln!(
            "   {} {:<62} expected {:<16} got {}",
            if o.ok { "✔" } else { "✘" },
            step.label,
            expected,
            o.got
        );
        if !o.reason.is_empty() {
            outln!("       archive says: {}", o.reason);
        }
    }
    outln!(
        "   · bad:weak-key: this demo's TLS client (aws-lc) refuses to use RSA-1024 keys; present it with\n     curl --ciphers DEFAULT@SECLEVEL=0 --cert {0}/bad-weak-key.pem --key {0}/bad-weak-key.key.pem …\n     and the archive refuses it with T-007 (the test suite does exactly that).",
        kit.display()
    );

    if let Some(diag) = server.bound.diagnostic {
        outln!(
            "\n4. The diagnostic listener explains a refusal instead of ending the handshake (bad:expired):\n"
        );
        let a = index
            .require(&kit, "bad:expired")
            .map_err(Failure::internal)?;
        let ca = kit.join(
            &index
                .require(&kit, "root-ca")
                .map_err(Failure::internal)?
                .cert,
        );
        let key = a.key.as_ref().map(|k| kit.join(k)).unwrap_or_default();
        let id = load_identity(&kit.join(&a.cert), &key).map_err(Failure::internal)?;
        let client =
            MtlsClient::new(&ca, Some(id), BOTH, HttpVersion::Http1).map_err(Failure::internal)?;
        match client.request(diag, "GET", "/", None, Bytes::new()).await {
            Ok(r) => {
                let text = String::from_utf8_lossy(&r.body).into_owned();
                for line in text.lines().filter(|l| {
                    l.starts_with("VERDICT") || l.starts_with("  T-") || l.starts_with("  A-")
                }) {
                    outln!("   {line}");
                }
            }
            Err(e) => {
                failures += 1;
                outln!("   ✘ diagnostic listener did not answer: {e}");
            }
        }
    }
    outln!(
        "\n5. Signing a client-relationship document with Testilä's system-signature certificate, then validating it:\n"
    );
    failures += signature_walkthrough(&kit)?;
    outln!(
        "\n6. Every exchange is in the log: kanta-sim log --data {}",
        base.join("data").display()
    );
    server.shutdown().await;
    outln!("\n7. The self-driven pre-test and deployment-test suites, with reports:\n");
    let reports = match (&args.reports, &args.keep) {
        (Some(r), _) => r.clone(),
        (None, Some(keep)) => keep.join("reports"),
        (None, None) => PathBuf::from("kanta-sim-demo-reports"),
    };
    for suite in ["pre-test", "deployment-test"] {
        let code = run_suite(suite, &kit, &base, &reports.join(suite)).await?;
        if code != exit::OK {
            failures += 1;
        }
    }
    if failures == 0 {
        outln!("\nAll steps behaved as the archive should.");
        Ok(exit::OK)
    } else {
        outln!("\n{failures} step(s) did not behave as expected.");
        Ok(exit::FAILED)
    }
}

/// Runs one suite self-driven against a fresh archive and writes its reports.
async fn run_suite(
    suite: &str,
    kit: &std::path::Path,
    base: &std::path::Path,
    reports: &std::path::Path,
) -> Result<u8, Failure> {
    let cases: Vec<_> = crate::cases::embedded()
        .map_err(Failure::internal)?
        .into_iter()
        .filter(|c| c.suite == suite)
        .collect();
    let mut config = Config::builtin().map_err(Failure::internal)?;
    config.server.listen = "127.0.0.1:0".parse().map_err(Failure::internal)?;
    config.server.diagnostic_listen = None;
    config.tls.certs_dir = kit.to_owned();
    config.data.dir = base.join(format!("data-{suite}"));
    let result = crate::app::run_cases(crate::testcase::run::RunOptions {
        cases,
        suite: suite.to_owned(),
        self_drive: true,
        config,
        step_timeout: std::time::Duration::from_secs(30),
        orgs: Vec::new(),
        deviations: Default::default(),
        skips: Default::default(),
        seed: 1,
        clock: None,
        progress: crate::testcase::run::Progress::Quiet,
    })
    .await
    .map_err(Failure::internal)?;
    for c in &result.cases {
        let passed = c.verdict() == crate::testcase::engine::Verdict::Passed;
        outln!(
            "   {} {:<11} {}",
            if passed { "✔" } else { "✘" },
            c.case.id,
            c.case.title_en
        );
    }
    let (report, files) = crate::report::Report::from_run(&result);
    report
        .write(&files, Some(reports), None, None)
        .map_err(Failure::internal)?;
    outln!(
        "   reports: {}/report.html (and report.json, junit.xml)\n",
        reports.display()
    );
    Ok(result.exit_code())
}

/// A temporary directory removed on drop (std has none; tempfile is a dev-dependency only).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir, Failure> {
    let p = std::env::temp_dir().join(format!("kanta-sim-demo-{}", std::process::id()));
    std::fs::create_dir_all(&p).map_err(Failure::internal)?;
    Ok(TempDir(p))
}

/// Signs a sample document, validates it, then validates copies with one changed byte and
/// with another organisation's signature; returns how many of these behaved unexpectedly.
fn signature_walkthrough(kit: &Path) -> Result<usize, Failure> {
    use crate::document::sample::SampleDocument;
    use crate::document::{SignatureType, sign_kanta_document};
    use crate::pipeline::validate_text;
    use crate::xmldsig::{Signer, new_signature_id};
    let trust = crate::pki::TrustStore::from_kit(kit).map_err(Failure::internal)?;
    let cfg = crate::config::Config::builtin().map_err(Failure::internal)?;
    let profile = crate::pipeline::ArchiveProfile::new(
        &cfg,
        crate::identity::SoteRegister::bundled().map_err(Failure::internal)?,
        crate::rules::codes::CodeLists::bundled().map_err(Failure::internal)?,
    );
    let opts = profile.context(Some(&trust), None, time::OffsetDateTime::now_utc());
    let sign = |role: &str| -> Result<String, Failure> {
        let signer = Signer::from_kit(kit, role).map_err(Failure::internal)?;
        sign_kanta_document(
            &SampleDocument::default().to_xml(),
            &signer,
            SignatureType::System,
            time::OffsetDateTime::now_utc(),
            &new_signature_id(),
        )
        .map_err(Failure::internal)
    };
    let good = sign("system-signature:1.2.246.10.99900016.10.0")?;
    let i = good.find("representation=\"B64\">").map_or(0, |i| i + 40);
    let mut tampered = good.clone().into_bytes();
    if let Some(b) = tampered.get_mut(i) {
        *b = if *b == b'Q' { b'R' } else { b'Q' };
    }
    let tampered = String::from_utf8(tampered).map_err(Failure::internal)?;
    let foreign = sign("system-signature:1.2.246.10.99900024.10.0")?;
    let mut unexpected = 0;
    for (label, xml, expect) in [
        ("signed by the custodian", good.as_str(), None),
        (
            "one byte of the body changed",
            tampered.as_str(),
            Some(RuleId::G008),
        ),
        (
            "signed by another organisation",
            foreign.as_str(),
            Some(RuleId::G016),
        ),
    ] {
        let v = validate_text(xml, &opts);
        let ok = match expect {
            None => v.passed(),
            Some(c) => v.findings.iter().any(|f| f.code == c),
        };
        if !ok {
            unexpected += 1;
        }
        outln!(
            "   {} {label:<34} {}",
            if ok { "✔" } else { "✘" },
            if v.passed() {
                "valid".to_owned()
            } else {
                format!(
                    "refused: {}",
                    v.findings
                        .iter()
                        .map(|f| f.code.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
        );
        let shown = expect
            .and_then(|c| v.findings.iter().find(|f| f.code == c))
            .or(v.findings.first());
        if let Some(f) = shown {
            outln!(
                "       {}: {}",
                f.code,
                f.message.chars().take(160).collect::<String>()
            );
        }
    }
    Ok(unexpected)
}
