//! `kanta-sim load`: a load generator for the archive, run as its own process against a
//! running `kanta-sim serve` (any address or host name), or against one it starts itself
//! (`--serve`), whose CPU time it then reports per request. Messages are built and signed
//! before the clock starts (`--presign`); each worker keeps one mutual-TLS connection alive.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;

use super::{Failure, exit};
use crate::client::{HttpVersion, MtlsClient, Target, load_identity};
use crate::message::build::signed_sp1_message;
use crate::pki::Index;
use crate::xmldsig::Signer;

/// `kanta-sim load` arguments.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The archive: HOST:PORT, an address, or an https:// URL (not with --serve).
    #[arg(long, required_unless_present = "serve", conflicts_with = "serve")]
    target: Option<Target>,
    /// Start an archive of its own (this binary's `serve`, a fresh data directory, the kit
    /// of --certs, generated when missing) and report its CPU time per request.
    #[arg(long)]
    serve: bool,
    /// Kit directory (client certificate, signer, root).
    #[arg(long, default_value = "certs/generated")]
    certs: PathBuf,
    /// Organisation whose client and system-signature certificates are used.
    #[arg(long, default_value = "1.2.246.10.99900016.10.0")]
    organisation: String,
    /// Number of requests.
    #[arg(long, default_value_t = 500)]
    requests: usize,
    /// Build and sign this many documents (unique ids) before the clock starts; the run
    /// sends each once, so this is also the number of archiving requests (default:
    /// --requests).
    #[arg(long)]
    presign: Option<usize>,
    /// Concurrent kept-alive connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Display-form size; 12 500 gives a signed document of about 20 KB.
    #[arg(long, default_value_t = 12_500)]
    body_bytes: usize,
    /// Send `GET /health` instead (the transport-only baseline).
    #[arg(long)]
    health: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// An archive started by `load --serve`: a child process, stopped on drop.
struct OwnServer {
    child: std::process::Child,
    _data: tempfile::TempDir,
    addr: SocketAddr,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OwnServer {
    fn start(certs: &std::path::Path) -> Result<Self, Failure> {
        crate::testcase::run::ensure_kit(certs).map_err(Failure::internal)?;
        let data = tempfile::tempdir().map_err(Failure::internal)?;
        let ready = data.path().join("ready.json");
        let exe = std::env::current_exe().map_err(Failure::internal)?;
        let mut child = std::process::Command::new(exe)
            .arg("serve")
            .arg("--certs")
            .arg(certs)
            .arg("--data")
            .arg(data.path().join("data"))
            .args(["--listen", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(Failure::internal)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Failure::internal(format!(
                    "the archive exited at start ({status})"
                )));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(Failure::internal("the archive did not start within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let bound: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ready).map_err(Failure::internal)?)
                .map_err(Failure::internal)?;
        let addr = bound["listen"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| Failure::internal("the ready file names no address"))?;
        Ok(Self {
            child,
            _data: data,
            addr,
        })
    }

    /// The archive's CPU time so far.
    fn cpu(&self) -> Option<Duration> {
        process_cpu(self.child.id())
    }
}

/// A process's CPU time so far (user + system, all threads), where the system tells.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// Runs the load.
pub async fn run(args: LoadArgs) -> Result<u8, Failure> {
    let own = if args.serve {
        Some(OwnServer::start(&args.certs)?)
    } else {
        None
    };
    let target: Target = match (&own, &args.target) {
        (Some(o), _) => o.addr.into(),
        (None, Some(t)) => t.clone(),
        (None, None) => return Err(Failure::usage("--target HOST:PORT or --serve is needed")),
    };
    let requests = args.presign.unwrap_or(args.requests);
    let index = Index::load(&args.certs).map_err(Failure::usage)?;
    let client_role = format!("client:{}", args.organisation);
    let a = index
        .require(&args.certs, &client_role)
        .map_err(Failure::usage)?;
    let key = a
        .key
        .as_ref()
        .ok_or_else(|| Failure::usage(format!("{client_role} has no key")))?;
    let identity =
        load_identity(&args.certs.join(&a.cert), &args.certs.join(key)).map_err(Failure::usage)?;
    let ca = args.certs.join(
        &index
            .require(&args.certs, "root-ca")
            .map_err(Failure::usage)?
            .cert,
    );
    let versions: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let client = MtlsClient::new(&ca, Some(identity), versions, HttpVersion::Http1)
        .map_err(Failure::usage)?;

    let run = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let bodies: Vec<Bytes> = if args.health {
        vec![Bytes::new(); requests]
    } else {
        let signer = Signer::from_kit(
            &args.certs,
            &format!("system-signature:{}", args.organisation),
        )
        .map_err(Failure::usage)?;
        let mut v = Vec::with_capacity(requests);
        for i in 0..requests {
            v.push(Bytes::from(
                signed_sp1_message(
                    &signer,
                    &args.organisation,
                    &format!("{}.2026.{run}.{i}", args.organisation),
                    &format!("{run}{i:06}"),
                    args.body_bytes,
                    &format!("sig_{i}"),
                )
                .map_err(Failure::internal)?,
            ));
        }
        v
    };
    let size = bodies.first().map_or(0, Bytes::len);
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = own.as_ref().and_then(OwnServer::cpu);
    // The load generator shares the machine: what it spent itself while the clock ran
    // (not the presigning) says how much of the cores the archive had.
    let own_cpu_before = process_cpu(std::process::id());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, bodies, next, target, health) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            target.clone(),
            args.health,
        );
        workers.spawn(async move {
            // What was measured is kept when the connection fails (the server died, was
            // stopped, or cut us off): the statistics are printed all the same.
            let mut latencies = Vec::new();
            let mut not_accepted = 0usize;
            let mut conn = match client.connect(target.clone()).await {
                Ok(c) => c,
                Err(e) => return (latencies, not_accepted, Some(e.to_string())),
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t = Instant::now();
                let sent = if health {
                    conn.request("GET", "/health", None, Bytes::new()).await
                } else {
                    conn.request(
                        "POST",
                        "/archive",
                        Some("text/xml; charset=UTF-8"),
                        body.clone(),
                    )
                    .await
                };
                let (status, resp) = match sent {
                    Ok(r) => r,
                    Err(e) => return (latencies, not_accepted, Some(e.to_string())),
                };
                latencies.push(t.elapsed());
                let accepted =
                    status == 200 && (health || resp.windows(13).any(|w| w == b"typeCode=\"AA\""));
                if !accepted {
                    not_accepted += 1;
                }
            }
            (latencies, not_accepted, None)
        });
    }
    let mut latencies = Vec::new();
    let mut not_accepted = 0;
    let mut errors: Vec<String> = Vec::new();
    while let Some(r) = workers.join_next().await {
        let (l, n, e) = r.map_err(Failure::internal)?;
        latencies.extend(l);
        not_accepted += n;
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let server_cpu = match (cpu_before, own.as_ref().and_then(OwnServer::cpu)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let loader_cpu = match (own_cpu_before, process_cpu(std::process::id())) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    drop(own);
    let per_request_ms = |c: Option<Duration>| {
        c.filter(|_| !latencies.is_empty())
            .map(|c| c.as_secs_f64() * 1e3 / latencies.len() as f64)
    };
    let cpu_per_request_ms = per_request_ms(server_cpu);
    let loader_cpu_per_request_ms = per_request_ms(loader_cpu);
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "requests": latencies.len(), "concurrency": args.concurrency, "bytes_per_request": size,
                "seconds": elapsed.as_secs_f64(), "per_second": rate,
                "p50_ms": p50.as_secs_f64() * 1e3, "p99_ms": p99.as_secs_f64() * 1e3, "not_accepted": not_accepted,
                "connection_errors": errors,
                "server_cpu_ms_per_request": cpu_per_request_ms,
                "loader_cpu_ms_per_request": loader_cpu_per_request_ms,
            })
        );
    } else {
        outln!(
            "{} {} requests ({} bytes each) over {} kept-alive mTLS connections in {:.2} s: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, not accepted {}",
            latencies.len(),
            if args.health {
                "GET /health"
            } else {
                "archive"
            },
            size,
            args.concurrency,
            elapsed.as_secs_f64(),
            rate,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            not_accepted
        );
        if let Some(c) = cpu_per_request_ms {
            outln!("server CPU (user + system, all threads): {c:.3} ms per request");
        }
        if let Some(c) = loader_cpu_per_request_ms {
            outln!("load generator's own CPU while the clock ran: {c:.3} ms per request");
        }
        if !errors.is_empty() {
            outln!(
                "{} of {} connections failed before their share was sent (first: {}); {} requests unsent",
                errors.len(),
                args.concurrency.max(1),
                errors[0],
                requests.saturating_sub(latencies.len())
            );
        }
    }
    Ok(if not_accepted == 0 && errors.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}
