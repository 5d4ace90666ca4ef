//! `kanta-sim faults`: check a fault plan offline, or set, clear and list the plan in force
//! in a running archive through its admin listener (`serve --admin-listen`).

use std::path::PathBuf;

use bytes::Bytes;
use clap::Subcommand;
use http_body_util::{BodyExt as _, Full};

use super::{Failure, exit};
use crate::faults::{FaultKind, FaultPlan};

#[derive(Debug, Subcommand)]
pub(super) enum FaultsCommand {
    /// Check a plan file: every entry, or the first problem with its line (exit 2).
    Check {
        /// The plan (TOML, `[[fault]]` entries).
        file: PathBuf,
    },
    /// The fault kinds a plan can use.
    Kinds,
    /// Put a plan in force in a running archive, from now (windows and counts start anew).
    Set {
        /// The plan (checked here first).
        file: PathBuf,
        /// The admin listener: HOST:PORT or http://HOST:PORT.
        #[arg(long, value_parser = crate::client::listen_addr)]
        admin: std::net::SocketAddr,
    },
    /// No faults from now on.
    Clear {
        /// The admin listener.
        #[arg(long, value_parser = crate::client::listen_addr)]
        admin: std::net::SocketAddr,
    },
    /// The plan in force, with how often each entry has applied.
    List {
        /// The admin listener.
        #[arg(long, value_parser = crate::client::listen_addr)]
        admin: std::net::SocketAddr,
        /// Print the JSON as the listener gives it.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(c: FaultsCommand, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
    match c {
        FaultsCommand::Check { file } => {
            let plan = FaultPlan::load(&file).map_err(Failure::usage)?;
            outln!(
                "{}: {} entr{}",
                file.display(),
                plan.entries.len(),
                if plan.entries.len() == 1 { "y" } else { "ies" }
            );
            for e in &plan.entries {
                outln!(
                    "  line {:>3}  {:<12} {:<10} {}",
                    e.line,
                    e.name,
                    e.kind.name(),
                    describe_limits(e)
                );
            }
            Ok(exit::OK)
        }
        FaultsCommand::Kinds => {
            for (_, name, what) in FaultKind::ALL {
                outln!("{name:<20} {what}");
            }
            Ok(exit::OK)
        }
        FaultsCommand::Set { file, admin } => {
            let plan = FaultPlan::load(&file).map_err(Failure::usage)?;
            let text = std::fs::read(&file)
                .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let source: String =
                form_urlencoded::byte_serialize(file.display().to_string().as_bytes()).collect();
            let (status, body) = rt.block_on(call(
                admin,
                "PUT",
                &format!("/faults?source={source}"),
                Bytes::from(text),
            ))?;
            answer(status, &body)?;
            outln!(
                "fault plan {} in force at {admin}: {} entr{}",
                file.display(),
                plan.entries.len(),
                if plan.entries.len() == 1 { "y" } else { "ies" }
            );
            Ok(exit::OK)
        }
        FaultsCommand::Clear { admin } => {
            let (status, body) = rt.block_on(call(admin, "DELETE", "/faults", Bytes::new()))?;
            answer(status, &body)?;
            outln!("no faults at {admin} from now on");
            Ok(exit::OK)
        }
        FaultsCommand::List { admin, json } => {
            let (status, body) = rt.block_on(call(admin, "GET", "/faults", Bytes::new()))?;
            let v = answer(status, &body)?;
            if json {
                outln!("{v:#}");
                return Ok(exit::OK);
            }
            match v["plan"].as_str() {
                None => outln!("no fault plan in force at {admin}"),
                Some(source) => {
                    outln!("fault plan {source} in force at {admin}:");
                    for e in v["entries"].as_array().into_iter().flatten() {
                        outln!(
                            "  {:<12} {:<10} applied {:>4}  {}",
                            e["entry"]["name"].as_str().unwrap_or("?"),
                            e["entry"]["kind"].as_str().unwrap_or("?"),
                            e["applied"],
                            if e["live"].as_bool() == Some(true) {
                                "live"
                            } else {
                                "over"
                            }
                        );
                    }
                }
            }
            Ok(exit::OK)
        }
    }
}

fn describe_limits(e: &crate::faults::FaultEntry) -> String {
    let mut parts = Vec::new();
    if let Some(o) = &e.org {
        parts.push(format!("org {o}"));
    }
    if let Some(u) = e.use_case {
        parts.push(format!("{u:?}").to_lowercase());
    }
    match e.for_secs {
        Some(f) => parts.push(format!("from {} s for {f} s", e.after_secs)),
        None if e.after_secs > 0 => parts.push(format!("from {} s on", e.after_secs)),
        None => {}
    }
    if let Some(c) = e.count {
        parts.push(format!("{c} time(s)"));
    }
    if e.delay_ms > 0 {
        parts.push(format!("{} ms", e.delay_ms));
    }
    if let Some(r) = e.rule {
        parts.push(format!("rule {r}"));
    }
    if parts.is_empty() {
        "always".into()
    } else {
        parts.join(", ")
    }
}

/// The listener's JSON, or its error as a usage error (a refused plan).
fn answer(status: u16, body: &[u8]) -> Result<serde_json::Value, Failure> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Failure::internal(format!(
            "the admin listener answered {status} with something that is not JSON: {e}"
        ))
    })?;
    if status == 200 {
        Ok(v)
    } else {
        Err(Failure::usage(format!(
            "the admin listener refused: {}",
            v["error"].as_str().unwrap_or("(no reason given)")
        )))
    }
}

/// One plain-HTTP request to the admin listener; nothing listening is exit 5.
async fn call(
    admin: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), Failure> {
    let tcp = tokio::net::TcpStream::connect(admin).await.map_err(|e| {
        Failure::unreachable(format!("connecting to the admin listener {admin}: {e}"))
    })?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .map_err(|e| Failure::unreachable(format!("{admin}: {e}")))?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, admin.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/toml")
        .body(Full::new(body))
        .map_err(Failure::internal)?;
    let res = send
        .send_request(req)
        .await
        .map_err(|e| Failure::unreachable(format!("{admin}: {e}")))?;
    let status = res.status().as_u16();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::unreachable(format!("{admin}: {e}")))?
        .to_bytes();
    Ok((status, bytes))
}
