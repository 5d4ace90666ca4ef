//! The independent conformance corpus: messages that kanta-sim did not build.
//!
//! The templates in `tests/conformance/` were written by hand after the structure of the
//! published Kanta artefacts (docs/INTERFACE.md, "Conformance corpus", says which template
//! follows which artefact). This test fills them with fictional test data, signs the CDA
//! with `xmlsec1` (never with kanta-sim's signer), wraps it by string substitution (never with
//! kanta-sim's message builder), sends it over mutual TLS with `curl` to a `kanta-sim serve`
//! process, and checks the acknowledgement; the same message goes through
//! `kanta-sim validate` and the frame and document through the plain-HTTP validation
//! service. Then each deliberate mutation must get its rule id.
//!
//! Nothing here imports kanta-sim's document, message or signature code: the only crate
//! items used are the test PKI generator (trust material) and the register's list of
//! organisations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kanta_sim::pki::{GenerateOptions, Index, generate_kit};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance");
const RECEIVER: &str = "1.2.246.556.18007.2";
const EFFECTIVE_TIME: &str = "20261130101500+0200";

fn template(name: &str) -> String {
    std::fs::read_to_string(Path::new(CORPUS).join(name)).unwrap()
}

/// Runs a tool; `None` (skip) when it is missing outside CI.
fn tool(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Option<Output> {
    let mut cmd = Command::new(name);
    cmd.args(args);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{name} is required in CI: {e}"
            );
            eprintln!("skipping: {name} not available ({e})");
            return None;
        }
    };
    if let Some(input) = stdin {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    Some(child.wait_with_output().unwrap())
}

struct Kit {
    dir: PathBuf,
    index: Index,
}

fn kit() -> &'static Kit {
    static KIT: OnceLock<Kit> = OnceLock::new();
    KIT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("kit-conformance-{}", std::process::id()));
        let index = generate_kit(&GenerateOptions {
            force: true,
            ..GenerateOptions::new(dir.clone()).unwrap()
        })
        .unwrap();
        Kit { dir, index }
    })
}

fn cert_and_key(role: &str) -> (PathBuf, PathBuf) {
    let a = kit()
        .index
        .get(role)
        .unwrap_or_else(|| panic!("no role {role}"));
    (
        kit().dir.join(&a.cert),
        kit().dir.join(a.key.as_ref().unwrap()),
    )
}

fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("conformance-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// Asiakkuusasiakirja, system signature (after the published SP1 pair).
    Sp1,
    /// Phase-II asiakasasiakirja, two professional signatures (after the published SP17 pair).
    Sp17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Envelope {
    Soap11,
    Soap12,
    Bare,
}

#[derive(Debug, Clone)]
struct Variant {
    name: &'static str,
    profile: Profile,
    envelope: Envelope,
    /// The client certificate's organisation (the sender).
    sender: &'static str,
    custodian: (&'static str, &'static str),
    organiser: (&'static str, &'static str),
    unit: (&'static str, &'static str),
    /// Kit role of the signing certificate.
    signer: &'static str,
    client: (&'static str, &'static str),
    /// Indentation removed before signing.
    compact: bool,
    /// Line ends turned into CRLF after signing (CDA and message).
    crlf: bool,
    /// The case id written `<id root="…" nullFlavor="NA"/>` (SP17).
    case_with_null_flavor: bool,
    /// The base64 values in CDATA sections.
    cdata: bool,
    /// Warnings an accepted message carries.
    warnings: &'static [&'static str],
}

const TESTILA: (&str, &str) = ("1.2.246.10.99900016.10.0", "Testilän hyvinvointialue");
const TESTILA_UNIT: (&str, &str) = ("1.2.246.10.99900016.10.1", "Testilän perhesosiaalityö");
const CITY: (&str, &str) = ("1.2.246.10.9990063.10.40", "Harjoituslahden kaupunki");
const CITY_UNIT: (&str, &str) = (
    "1.2.246.10.9990063.10.40006001",
    "Harjoituslahden perhekeskus",
);
const PRODUCER: (&str, &str) = ("1.2.246.10.99900032.10.0", "Simulaatiohoiva Oy");
const PRODUCER_UNIT: (&str, &str) = (
    "1.2.246.10.99900032.10.1",
    "Simulaatiohoivan asumispalveluyksikkö",
);
const LEGACY: (&str, &str) = (
    "1.2.246.537.10.99900067.10.0",
    "Perinnelän sosiaalipalvelujen kuntayhtymä",
);
const KOKEILUMAKI_PREDECESSOR_UNIT: (&str, &str) = (
    "1.2.246.10.9990100.10.2001213",
    "Kokeilumäen lapsiperheiden palvelutarpeen arviointi",
);
const KOKEILUMAKI: (&str, &str) = ("1.2.246.10.99900024.10.0", "Kokeilumäen hyvinvointialue");
const HETU: &str = "1.2.246.21";

fn variants() -> Vec<Variant> {
    let sp1 = Variant {
        name: "SP1, SOAP 1.1, indented, comments in the body, ep2: prefix",
        profile: Profile::Sp1,
        envelope: Envelope::Soap11,
        sender: TESTILA.0,
        custodian: TESTILA,
        organiser: TESTILA,
        unit: TESTILA_UNIT,
        signer: "system-signature:1.2.246.10.99900016.10.0",
        client: (HETU, "150515A911Y"),
        compact: false,
        crlf: false,
        case_with_null_flavor: false,
        cdata: false,
        warnings: &[],
    };
    vec![
        sp1.clone(),
        Variant {
            name: "SP1, SOAP 1.2, compact",
            envelope: Envelope::Soap12,
            compact: true,
            ..sp1.clone()
        },
        Variant {
            name: "SP1, bare HL7, CRLF line ends after signing, base64 in CDATA",
            envelope: Envelope::Bare,
            crlf: true,
            cdata: true,
            ..sp1.clone()
        },
        Variant {
            name: "SP1 of a city (.10.40, seven-digit business id) about a temporary-id person",
            sender: CITY.0,
            custodian: CITY,
            organiser: CITY,
            unit: CITY_UNIT,
            signer: "system-signature:1.2.246.10.9990063.10.40",
            client: ("1.2.246.10.9990063.22.2026", "010111A998F"),
            ..sp1.clone()
        },
        Variant {
            name: "SP1 by a producer into the organiser's register (register use right)",
            sender: PRODUCER.0,
            custodian: PRODUCER,
            organiser: TESTILA,
            unit: PRODUCER_UNIT,
            signer: "system-signature:1.2.246.10.99900032.10.0",
            envelope: Envelope::Soap12,
            ..sp1.clone()
        },
        Variant {
            name: "SP1 of an organisation under the legacy root",
            sender: LEGACY.0,
            custodian: LEGACY,
            organiser: LEGACY,
            unit: LEGACY,
            signer: "system-signature:1.2.246.537.10.99900067.10.0",
            ..sp1.clone()
        },
        Variant {
            name: "SP1 of a wellbeing county whose unit keeps a predecessor's OID",
            sender: KOKEILUMAKI.0,
            custodian: KOKEILUMAKI,
            organiser: KOKEILUMAKI,
            unit: KOKEILUMAKI_PREDECESSOR_UNIT,
            signer: "system-signature:1.2.246.10.99900024.10.0",
            ..sp1.clone()
        },
        Variant {
            name: "SP17 of a unit custodian, two professional signatures, case id with root and nullFlavor",
            profile: Profile::Sp17,
            envelope: Envelope::Soap11,
            custodian: TESTILA_UNIT,
            organiser: TESTILA,
            unit: TESTILA_UNIT,
            signer: "professional:99900000011",
            client: (HETU, "050512A907L"),
            case_with_null_flavor: true,
            warnings: &["H-012"],
            ..sp1.clone()
        },
        Variant {
            name: "SP17, SOAP 1.2, compact, CRLF",
            profile: Profile::Sp17,
            envelope: Envelope::Soap12,
            signer: "professional:99900000011",
            client: (HETU, "050512A907L"),
            compact: true,
            crlf: true,
            ..sp1
        },
    ]
}

/// Changes applied on the way: to the filled template before signing, to the signed CDA,
/// and to the frame (with the MIME in it).
#[derive(Default)]
struct Mutation {
    before_signing: Option<Box<dyn Fn(String) -> String>>,
    after_signing: Option<Box<dyn Fn(String) -> String>>,
    frame: Option<Box<dyn Fn(String) -> String>>,
    /// Leave the signature templates unsigned (when they were removed before signing).
    unsigned: bool,
}

struct Built {
    cda: String,
    frame: String,
    message: String,
    document_oid: String,
}

fn next_number() -> u32 {
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

fn fill(text: &str, pairs: &[(&str, String)]) -> String {
    let mut t = text.to_owned();
    for (k, v) in pairs {
        t = t.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(
        !t.contains("{{"),
        "unfilled placeholder in {}",
        &t[t.find("{{").unwrap()..][..40.min(t.len() - t.find("{{").unwrap())]
    );
    t
}

/// Whitespace between tags removed (what a compact writer produces).
fn compact(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find('>') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        if trimmed.starts_with('<') {
            rest = trimmed;
        }
    }
    out.push_str(rest);
    out
}

fn xmlsec_sign(xml: &str, role: &str, which: usize, name: &str) -> Option<String> {
    let (cert, key) = cert_and_key(role);
    let input = scratch().join(format!("{name}-in-{which}.xml"));
    let output = scratch().join(format!("{name}-out-{which}.xml"));
    std::fs::write(&input, xml).unwrap();
    let xpath = format!(
        "(//*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#'])[{which}]"
    );
    let keyspec = format!("{},{}", key.display(), cert.display());
    let o = tool(
        "xmlsec1",
        &[
            "--sign",
            "--privkey-pem",
            &keyspec,
            "--id-attr:ID",
            "urn:hl7finland:signatureTimestamp",
            "--id-attr:ID",
            "urn:hl7-org:v3:nonXMLBody",
            "--node-xpath",
            &xpath,
            "--output",
            output.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    )?;
    assert!(
        o.status.success(),
        "xmlsec1 --sign failed for {name}:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(std::fs::read_to_string(output).unwrap())
}

/// Fills, signs (xmlsec1) and wraps one message. `None` when xmlsec1 is missing.
fn build(v: &Variant, m: &Mutation) -> Option<Built> {
    let n = next_number();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let document_oid = format!("{}.95.2026.{stamp}.{n}", v.custodian.0);
    let relationship = format!("{}.95.2026.{stamp}.{n}.1", v.custodian.0);
    let case = format!("{}.95.2026.{stamp}.{n}.2", v.custodian.0);
    let now = time::OffsetDateTime::now_utc();
    // Seven fractional digits, as a published signature writes its timestamp.
    let signing_time = format!(
        "{}.{:07}Z",
        now.format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap(),
        now.nanosecond() / 100
    );
    let (cda_t, display_t, json_t, author, author_name) = match v.profile {
        Profile::Sp1 => ("cda-sp1.xml", "display-sp1.xhtml", "json-sp1.json", "", ""),
        Profile::Sp17 => (
            "cda-sp17.xml",
            "display-sp17.xhtml",
            "json-sp17.json",
            "99900000011",
            "Tuula Testinen",
        ),
    };
    let common = vec![
        ("DOC_OID", document_oid.clone()),
        ("CUSTODIAN", v.custodian.0.to_owned()),
        ("CUSTODIAN_NAME", v.custodian.1.to_owned()),
        ("ORGANISER", v.organiser.0.to_owned()),
        ("ORGANISER_NAME", v.organiser.1.to_owned()),
        ("UNIT", v.unit.0.to_owned()),
        ("UNIT_NAME", v.unit.1.to_owned()),
        ("CLIENT_ROOT", v.client.0.to_owned()),
        ("CLIENT_EXT", v.client.1.to_owned()),
        ("RELATIONSHIP", relationship),
        ("AUTHOR", author.to_owned()),
        ("AUTHOR_NAME", author_name.to_owned()),
    ];
    let display = fill(&template(display_t), &common);
    let json = fill(&template(json_t), &common);
    let (open, close) = if v.cdata {
        ("<![CDATA[", "]]>")
    } else {
        ("", "")
    };
    let mut pairs = common.clone();
    pairs.extend([
        ("EFFECTIVE_TIME", EFFECTIVE_TIME.to_owned()),
        ("SIG_ID", format!("sig_conformance_{n}")),
        ("TS_ID", format!("CDA-timestamp.sig_conformance_{n}")),
        ("SIGNING_TIME", signing_time),
        ("CASE", case),
        (
            "CASE_NULL_FLAVOR",
            if v.case_with_null_flavor {
                " nullFlavor=\"NA\"".to_owned()
            } else {
                String::new()
            },
        ),
        (
            "DISPLAY_B64",
            format!("{open}{}{close}", B64.encode(display.as_bytes())),
        ),
        (
            "JSON_B64",
            format!("{open}{}{close}", B64.encode(json.as_bytes())),
        ),
    ]);
    let mut cda = fill(&template(cda_t), &pairs);
    if v.compact {
        cda = compact(&cda);
    }
    if let Some(f) = &m.before_signing {
        cda = f(cda);
    }
    if !m.unsigned {
        let signatures = cda.matches("<Signature xmlns=").count();
        for which in 1..=signatures {
            cda = xmlsec_sign(&cda, v.signer, which, &format!("doc{n}"))?;
        }
    }
    if let Some(f) = &m.after_signing {
        cda = f(cda);
    }
    if v.crlf {
        cda = cda.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    let b64 = B64.encode(cda.as_bytes());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let mime = fill(
        &template("mime.txt"),
        &[
            ("MESSAGE_EXT", n.to_string()),
            ("DOC_OID", document_oid.clone()),
            ("CDA_BASE64_LINES", lines.join("\n")),
        ],
    );
    let service_request = match v.profile {
        Profile::Sp1 => "SP1",
        Profile::Sp17 => "SP17",
    };
    let mut frame_pairs = common;
    frame_pairs.extend([
        ("MIME", mime),
        ("MESSAGE_ROOT", format!("{}.77", v.sender)),
        ("MESSAGE_EXT", format!("{stamp}{n:04}")),
        ("EFFECTIVE_TIME", EFFECTIVE_TIME.to_owned()),
        ("FRAME_EFFECTIVE_TIME", EFFECTIVE_TIME.to_owned()),
        ("RECEIVER", RECEIVER.to_owned()),
        ("SENDER", v.sender.to_owned()),
        ("SERVICE_REQUEST", service_request.to_owned()),
        ("PERFORMER_HETU", "231087-930B".to_owned()),
        ("FRAME_CUSTODIAN", v.custodian.0.to_owned()),
    ]);
    let mut frame = fill(&template("frame.xml"), &frame_pairs);
    if let Some(f) = &m.frame {
        frame = f(frame);
    }
    let mut message = match v.envelope {
        Envelope::Soap11 => fill(&template("soap11.xml"), &[("HL7", frame.clone())]),
        Envelope::Soap12 => fill(&template("soap12.xml"), &[("HL7", frame.clone())]),
        Envelope::Bare => frame.clone(),
    };
    if v.crlf {
        message = message.replace('\n', "\r\n");
    }
    Some(Built {
        cda,
        frame,
        message,
        document_oid,
    })
}

struct Served {
    child: std::process::Child,
    archive: String,
    validation: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let dir = scratch().join(format!("serve-{}", next_number()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("kanta-sim.toml");
    std::fs::write(&config, "[archive]\naccept_bare_hl7 = true\n").unwrap();
    let ready = dir.join("ready.json");
    let child = Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--certs")
        .arg(&kit().dir)
        .arg("--data")
        .arg(dir.join("data"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--validation-listen",
            "127.0.0.1:0",
            "--ready-file",
        ])
        .arg(&ready)
        .env("KANTA_SIM_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut served = Served {
        child,
        archive: String::new(),
        validation: String::new(),
    };
    let started = std::time::Instant::now();
    while !ready.is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not become ready"
        );
        assert!(
            served.child.try_wait().unwrap().is_none(),
            "server exited early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    served.archive = v["listen"].as_str().unwrap().to_owned();
    served.validation = v["validation"].as_str().unwrap().to_owned();
    served
}

/// What the archive answered, read from the HL7 acknowledgement in the body.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    ack: String,
    /// Rule ids, warnings marked `(W)`.
    codes: Vec<String>,
    texts: Vec<String>,
}

fn read_ack(body: &str) -> Answer {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let ack = doc
        .descendants()
        .find(|n| n.has_tag_name("acknowledgement"))
        .unwrap_or_else(|| panic!("no acknowledgement in {body}"));
    let mut codes = Vec::new();
    let mut texts = Vec::new();
    for d in ack
        .children()
        .filter(|n| n.has_tag_name("acknowledgementDetail"))
    {
        let code = d
            .children()
            .find(|n| n.has_tag_name("code"))
            .and_then(|c| c.attribute("code"))
            .unwrap_or("")
            .to_owned();
        let warning = d.attribute("typeCode") == Some("W");
        codes.push(if warning { format!("{code}(W)") } else { code });
        texts.push(
            d.children()
                .find(|n| n.has_tag_name("text"))
                .and_then(|t| t.text())
                .unwrap_or("")
                .to_owned(),
        );
    }
    codes.sort();
    Answer {
        ack: ack.attribute("typeCode").unwrap_or("").to_owned(),
        codes,
        texts,
    }
}

fn send(served: &Served, v: &Variant, built: &Built) -> Option<Answer> {
    let (cert, key) = cert_and_key(&format!("client:{}", v.sender));
    let (root, _) = cert_and_key("root-ca");
    let content_type = match v.envelope {
        Envelope::Soap12 => "Content-Type: application/soap+xml; charset=UTF-8",
        Envelope::Soap11 | Envelope::Bare => "Content-Type: text/xml; charset=UTF-8",
    };
    let o = tool(
        "curl",
        &[
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--cacert",
            root.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "-H",
            content_type,
            "--data-binary",
            "@-",
            &format!("https://{}/archive", served.archive),
        ],
        Some(built.message.as_bytes()),
    )?;
    assert!(
        o.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(read_ack(&String::from_utf8_lossy(&o.stdout)))
}

/// `kanta-sim validate --json` on a file: (passed, codes with warnings marked).
fn validate_offline(text: &str, name: &str) -> (bool, Vec<String>) {
    let file = scratch().join(format!("{name}.xml"));
    std::fs::write(&file, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
        .args(["validate", "--json", "--trust"])
        .arg(&kit().dir)
        .arg(&file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let passed = v["passed"].as_bool().unwrap();
    assert_eq!(o.status.code(), Some(if passed { 0 } else { 3 }));
    let mut codes: Vec<String> = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let code = f["code"].as_str().unwrap();
            if f["severity"] == "warning" {
                format!("{code}(W)")
            } else {
                code.to_owned()
            }
        })
        .collect();
    codes.sort();
    (passed, codes)
}

fn expected(warnings: &[&str]) -> Vec<String> {
    let mut w: Vec<String> = warnings.iter().map(|c| format!("{c}(W)")).collect();
    w.sort();
    w
}

/// An archive to send to, when xmlsec1 and curl are here: they are what make this corpus
/// independent (signed and sent by tools that are not ours); without them nothing is shown.
fn served_with_tools() -> Option<Served> {
    if tool("xmlsec1", &["--version"], None).is_none()
        || tool("curl", &["--version"], None).is_none()
    {
        return None;
    }
    Some(serve())
}

#[test]
fn messages_built_by_other_tools_are_accepted() {
    let Some(served) = served_with_tools() else {
        return;
    };
    for v in variants() {
        let built = build(&v, &Mutation::default()).unwrap();
        // xmlsec1 itself verifies what it signed (CRLF variants included: XML parsers
        // normalise line ends before canonicalization).
        let (root, _) = cert_and_key("root-ca");
        let (service_ca, _) = cert_and_key("service-ca");
        let (prof_ca, _) = cert_and_key("professional-ca");
        let file = scratch().join(format!("verify-{}.xml", next_number()));
        std::fs::write(&file, &built.cda).unwrap();
        let o = tool(
            "xmlsec1",
            &[
                "--verify",
                "--trusted-pem",
                root.to_str().unwrap(),
                "--untrusted-pem",
                service_ca.to_str().unwrap(),
                "--untrusted-pem",
                prof_ca.to_str().unwrap(),
                "--id-attr:ID",
                "urn:hl7finland:signatureTimestamp",
                "--id-attr:ID",
                "urn:hl7-org:v3:nonXMLBody",
                file.to_str().unwrap(),
            ],
            None,
        )
        .unwrap();
        assert!(
            o.status.success(),
            "{}: xmlsec1 does not verify its own signature: {}",
            v.name,
            String::from_utf8_lossy(&o.stderr)
        );

        let answer = send(&served, &v, &built).unwrap();
        assert_eq!(
            (answer.ack.as_str(), answer.codes.clone()),
            ("AA", expected(v.warnings)),
            "{}: {:?}",
            v.name,
            answer.texts
        );
        let (passed, codes) = validate_offline(&built.message, "variant");
        assert!(passed, "{}: validate: {codes:?}", v.name);
        assert_eq!(codes, expected(v.warnings), "{}: validate", v.name);
        let (passed, codes) = validate_offline(&built.cda, "variant-cda");
        assert!(passed, "{}: validate (CDA): {codes:?}", v.name);

        // Kela's validation-service contract over plain HTTP: frame and document apart.
        let request = serde_json::json!({
            "messageId": format!("conformance-{}", built.document_oid),
            "palveluPyynto": if v.profile == Profile::Sp1 { "SP1" } else { "SP17" },
            "level": "1",
            "siirtokehysXml": built.frame,
            "asiakirjaXml": built.cda,
        });
        let o = tool(
            "curl",
            &[
                "--silent",
                "--show-error",
                "--write-out",
                "\n%{http_code}",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
                &format!(
                    "http://{}/shark-validointi/validoi/asiakirja/tulos",
                    served.validation
                ),
            ],
            Some(request.to_string().as_bytes()),
        )
        .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(out.trim(), "200", "{}: validation service: {out}", v.name);
    }
}

/// One deliberate defect and what the archive must say about it.
struct Case {
    name: &'static str,
    variant: usize,
    mutation: Mutation,
    ack: &'static str,
    /// Rule ids over mTLS (warnings marked `(W)`).
    codes: &'static [&'static str],
    /// A phrase one of the finding texts must contain.
    says: Option<&'static str>,
}

/// Decodes the base64 between `after` and `until`, changes it and encodes it again.
fn recode_between(
    text: &str,
    after: &str,
    until: &str,
    change: impl Fn(String) -> String,
) -> String {
    let a = text.find(after).unwrap() + after.len();
    let b = a + text[a..].find(until).unwrap();
    let decoded = String::from_utf8(B64.decode(text[a..b].trim()).unwrap()).unwrap();
    let changed = change(decoded.clone());
    assert_ne!(changed, decoded, "the change did not apply");
    format!("{}{}{}", &text[..a], B64.encode(changed), &text[b..])
}

fn boxed(f: impl Fn(String) -> String + 'static) -> Option<Box<dyn Fn(String) -> String>> {
    Some(Box::new(f))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "frame custodian under assignedEntity (not the published shape)",
            variant: 0,
            mutation: Mutation {
                frame: boxed(|f| {
                    f.replacen(
                        "<assignedCustodian classCode=\"ASSIGNED\">",
                        "<assignedEntity>",
                        1,
                    )
                    .replacen("</assignedCustodian>", "</assignedEntity>", 1)
                }),
                ..Mutation::default()
            },
            ack: "AA",
            codes: &["H-011(W)"],
            says: Some("assignedCustodian"),
        },
        Case {
            name: "signed CDA re-indented after signing",
            variant: 1,
            mutation: Mutation {
                after_signing: boxed(|c| {
                    c.replacen("<ep2:json", "\n\t\t\t<ep2:json", 1).replacen(
                        "</nonXMLBody>",
                        "\n\t\t</nonXMLBody>",
                        1,
                    )
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["G-008"],
            says: Some("re-indented after signing"),
        },
        Case {
            name: "a comment carrying base64 inserted into the signed display form",
            variant: 0,
            mutation: Mutation {
                after_signing: boxed(|c| {
                    c.replacen(
                        "representation=\"B64\">",
                        "representation=\"B64\"><!--PHA+c2lzw6RsbHnDtnQ8L3A+-->",
                        1,
                    )
                }),
                ..Mutation::default()
            },
            // Comments are not signed and never read: the document is what was signed.
            ack: "AA",
            codes: &[],
            says: None,
        },
        Case {
            name: "an element inside the base64 display form",
            variant: 0,
            mutation: Mutation {
                before_signing: boxed(|c| {
                    c.replacen(
                        "representation=\"B64\">",
                        "representation=\"B64\"><b>x</b>",
                        1,
                    )
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["B-001"],
            says: Some("element <b>"),
        },
        Case {
            name: "one word of the display form changed after signing",
            variant: 0,
            mutation: Mutation {
                after_signing: boxed(|c| {
                    recode_between(&c, "Näyttömuoto (XHTML, base64) -->", "\n", |x| {
                        x.replacen("Testihenkilö", "Testihenkila", 1)
                    })
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["G-008"],
            says: Some("digest mismatch"),
        },
        Case {
            name: "no signature at all",
            variant: 0,
            mutation: Mutation {
                before_signing: boxed(|c| {
                    let a = c.find("<signatureCollection").unwrap();
                    let b = c.find("</signatureCollection>").unwrap() + 22;
                    format!("{}{}", &c[..a], &c[b..])
                }),
                unsigned: true,
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["G-001"],
            says: None,
        },
        Case {
            name: "the frame names another client",
            variant: 0,
            mutation: Mutation {
                frame: boxed(|f| {
                    f.replacen("extension=\"150515A911Y\"", "extension=\"120354-911F\"", 1)
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["H-009"],
            says: Some("client id"),
        },
        Case {
            name: "the frame's effectiveTime differs (as in a published SP17 pair)",
            variant: 8,
            mutation: Mutation {
                frame: boxed(|f| {
                    f.replacen(
                        "<effectiveTime value=\"20261130101500+0200\" />",
                        "<effectiveTime value=\"20261130101100+0200\" />",
                        1,
                    )
                }),
                ..Mutation::default()
            },
            ack: "AA",
            codes: &["H-013(W)"],
            says: None,
        },
        Case {
            name: "Content-ID is not the document id",
            variant: 0,
            mutation: Mutation {
                frame: boxed(|f| f.replacen("Content-ID: &lt;", "Content-ID: &lt;9.", 1)),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["M-008"],
            says: None,
        },
        Case {
            name: "another receiver",
            variant: 0,
            mutation: Mutation {
                frame: boxed(|f| f.replacen(RECEIVER, "1.2.246.556.18007.1", 1)),
                ..Mutation::default()
            },
            ack: "AR",
            codes: &["W-012"],
            says: None,
        },
        Case {
            name: "SP17 for a client-relationship document",
            variant: 0,
            mutation: Mutation {
                frame: boxed(|f| f.replacen("code=\"SP1\"", "code=\"SP17\"", 1)),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["S-003"],
            says: None,
        },
        Case {
            name: "an identity code outside the test series in the JSON",
            variant: 0,
            mutation: Mutation {
                before_signing: boxed(|c| {
                    recode_between(
                        &c,
                        "Rakenteinen muoto (JSON, base64) -->",
                        "</ep2:json>",
                        |j| {
                            j.replacen(
                                "\"turvakielto\"",
                                "\"huoltaja\": \"311299F1236\", \"turvakielto\"",
                                1,
                            )
                        },
                    )
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["P-002"],
            says: Some("311299F1236"),
        },
        Case {
            name: "a temporary id whose root is not a temporary-id root",
            variant: 3,
            mutation: Mutation {
                before_signing: boxed(|c| {
                    c.replace("1.2.246.10.9990063.22.2026", "1.2.246.10.9990063.23.2026")
                }),
                frame: boxed(|f| {
                    f.replace("1.2.246.10.9990063.22.2026", "1.2.246.10.9990063.23.2026")
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["P-004"],
            says: None,
        },
        Case {
            name: "a business id written with its leading zero",
            variant: 3,
            mutation: Mutation {
                before_signing: boxed(|c| {
                    c.replace("1.2.246.10.9990063.10.40\"", "1.2.246.10.09990063.10.40\"")
                }),
                frame: boxed(|f| {
                    f.replace("1.2.246.10.9990063.10.40\"", "1.2.246.10.09990063.10.40\"")
                }),
                ..Mutation::default()
            },
            ack: "AE",
            codes: &["A-002", "A-004", "G-016", "H-002"],
            says: Some("1.2.246.10.9990063.10.40"),
        },
    ]
}

/// The frame's identity-code scan over a message built from the hand-written templates
/// (signed by xmlsec1, sent by curl): a code in a MIME part's headers is found at the byte
/// where the message carries it, and a code-shaped string in an attachment's base64 is not
/// read as text.
#[test]
fn identity_codes_in_the_mime_entity_are_found_where_sent_and_not_in_base64() {
    let Some(served) = served_with_tools() else {
        return;
    };
    let variants = variants();
    let v = &variants[0];
    // An attachment whose base64 line starts with a code-shaped string (before a `+`), and
    // a code outside the test series in the document part's headers.
    let attachment = "------=_Part_X_conformance\nContent-Type: application/octet-stream\n\
        Content-Transfer-Encoding: BASE64\nContent-ID: &lt;liite@client.invalid&gt;\n\n\
        040314V0452+QUJD\n";
    let mutation = Mutation {
        frame: boxed(move |f| {
            let closing = f.rfind("------=_Part_").unwrap();
            let boundary = &f[closing..f[closing..].find("--\n").unwrap() + closing];
            let part = attachment.replace("------=_Part_X_conformance", boundary);
            let mut f = f.clone();
            f.insert_str(closing, &part);
            f.replacen(
                "Content-ID: &lt;",
                "Content-Description: 311299-1236\nContent-ID: &lt;",
                1,
            )
        }),
        ..Mutation::default()
    };
    let built = build(v, &mutation).unwrap();
    assert!(built.message.contains("040314V0452+QUJD"));
    let answer = send(&served, v, &built).unwrap();
    assert_eq!(answer.codes, ["P-002"], "{:?}", answer.texts);
    let said = answer
        .texts
        .iter()
        .find_map(|t| {
            let rest = t.split("identity code 311299-1236 at byte ").nth(1)?;
            rest.split(' ').next()?.parse::<usize>().ok()
        })
        .unwrap_or_else(|| panic!("{:?}", answer.texts));
    assert_eq!(&built.message[said..said + 11], "311299-1236");
    assert!(
        answer.texts.iter().all(|t| !t.contains("040314V0452")),
        "{:?}",
        answer.texts
    );
}

#[test]
fn each_deliberate_defect_gets_its_rule() {
    let Some(served) = served_with_tools() else {
        return;
    };
    let variants = variants();
    for case in cases() {
        let v = &variants[case.variant];
        let built = build(v, &case.mutation).unwrap();
        let answer = send(&served, v, &built).unwrap();
        let mut want: Vec<String> = case.codes.iter().map(|c| (*c).to_owned()).collect();
        want.sort();
        assert_eq!(
            (answer.ack.as_str(), &answer.codes),
            (case.ack, &want),
            "{}: {:?}",
            case.name,
            answer.texts
        );
        if let Some(phrase) = case.says {
            assert!(
                answer.texts.iter().any(|t| t.contains(phrase)),
                "{}: no finding says {phrase:?}: {:?}",
                case.name,
                answer.texts
            );
        }
        // Offline, the same rules (less the ones that need the sender's certificate).
        let (passed, codes) = validate_offline(&built.message, "case");
        let offline: Vec<String> = want
            .iter()
            .filter(|c| !c.starts_with("A-"))
            .cloned()
            .collect();
        assert_eq!(codes, offline, "{}: validate", case.name);
        assert_eq!(passed, case.ack == "AA", "{}: validate verdict", case.name);
    }
}
