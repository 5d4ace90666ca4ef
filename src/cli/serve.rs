//! `kanta-sim serve`: start the archive (through `app`) until SIGINT or SIGTERM.

use std::path::PathBuf;

use clap::Args;

use super::{Failure, exit, runtime};
use crate::config::Config;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Configuration file laid over the built-in default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Strict listener address (port 0 = any free port).
    #[arg(long, value_parser = crate::client::listen_addr)]
    listen: Option<std::net::SocketAddr>,
    /// Also start the diagnostic listener here.
    #[arg(long, value_parser = crate::client::listen_addr)]
    diagnostic_listen: Option<std::net::SocketAddr>,
    /// Certificate kit directory (from `certs init`).
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Data directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the bound addresses here (JSON) once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Start the archivist's view here (loopback, or any address with --archivist-mtls).
    #[arg(long, value_parser = crate::client::listen_addr)]
    archivist_listen: Option<std::net::SocketAddr>,
    /// The archivist's view requires a professional certificate (mutual TLS).
    #[arg(long)]
    archivist_mtls: bool,
    /// Also serve Kela's validation-service contract over plain HTTP here (loopback unless
    /// validation.allow_network), so an existing validation script needs only its base URL
    /// changed.
    #[arg(long, value_parser = crate::client::listen_addr)]
    validation_listen: Option<std::net::SocketAddr>,
    /// A fault plan (TOML, docs/FAULTS.md) in force from the start: archive-side faults on
    /// purpose, to test a client system's retries and duplicate handling.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// The fault admin listener (loopback, plain HTTP) that `kanta-sim faults set|clear|list
    /// --admin ADDR` talks to.
    #[arg(long, value_parser = crate::client::listen_addr)]
    admin_listen: Option<std::net::SocketAddr>,
}

pub(super) fn run(args: ServeArgs) -> Result<u8, Failure> {
    let mut cfg = Config::load(args.config.as_deref()).map_err(Failure::usage)?;
    cfg.apply_env().map_err(Failure::usage)?;
    if let Some(l) = args.listen {
        cfg.server.listen = l;
    }
    if let Some(d) = args.diagnostic_listen {
        cfg.server.diagnostic_listen = Some(d);
    }
    if let Some(c) = args.certs {
        cfg.tls.certs_dir = c;
    }
    if let Some(d) = args.data {
        cfg.data.dir = d;
    }
    if let Some(r) = args.ready_file {
        cfg.server.ready_file = Some(r);
    }
    if let Some(a) = args.archivist_listen {
        cfg.archivist.listen = Some(a);
    }
    if args.archivist_mtls {
        cfg.archivist.mtls = true;
    }
    if let Some(v) = args.validation_listen {
        if !v.ip().is_loopback() && !cfg.validation.allow_network {
            return Err(Failure::usage(format!(
                "--validation-listen {v}: not a loopback address; the validation service is plain HTTP without client authentication (set validation.allow_network = true in a configuration file to allow it)"
            )));
        }
        cfg.validation.listen = Some(v);
    }
    if let Some(f) = args.faults {
        cfg.faults.plan = Some(f);
    }
    if let Some(a) = args.admin_listen {
        if !a.ip().is_loopback() {
            return Err(Failure::usage(format!(
                "--admin-listen {a}: not a loopback address; the fault admin listener is plain HTTP without authentication"
            )));
        }
        cfg.faults.admin_listen = Some(a);
    }
    if let Some(a) = cfg.archivist.listen
        && !a.ip().is_loopback()
        && !cfg.archivist.mtls
    {
        return Err(Failure::usage(format!(
            "--archivist-listen {a}: not a loopback address; add --archivist-mtls to require professional certificates"
        )));
    }
    let rt = runtime()?;
    let args_mtls = cfg.archivist.mtls;
    let grace = std::time::Duration::from_secs(cfg.server.shutdown_grace_secs);
    let result = rt.block_on(async move {
        let server = crate::app::start(cfg).await.map_err(Failure::usage)?;
        outln!("kanta-sim archive listening on https://{} (mutual TLS, strict)", server.bound.listen);
        if let Some(d) = server.bound.diagnostic {
            outln!("kanta-sim diagnostic listener on https://{d} (accepts any client certificate, explains)");
        }
        if let Some(a) = server.bound.archivist {
            outln!("kanta-sim archivist view on {}://{a}/", if args_mtls { "https" } else { "http" });
        }
        if let Some(v) = server.bound.validation {
            outln!("kanta-sim validation service on http://{v}/shark-validointi/validoi/asiakirja/tulos (Kela's contract, plain HTTP)");
        }
        if let Some(a) = server.bound.admin {
            outln!("kanta-sim fault admin on http://{a}/faults (kanta-sim faults set|clear|list --admin {a})");
        }
        if let Some((source, entries)) = server.faults().status() {
            outln!("fault plan {source} in force: {} entr{} (every injected fault is logged with F-001)", entries.len(), if entries.len() == 1 { "y" } else { "ies" });
        }
        outln!("exchange log: {}", server.log.path().display());
        wait_for_signal().await;
        tracing::info!("shutting down");
        // Stop accepting; connections are closed. Work already running gets the grace time.
        if tokio::time::timeout(grace, server.shutdown()).await.is_err() {
            tracing::warn!("listeners did not stop within server.shutdown_grace_secs");
        }
        Ok(exit::OK)
    });
    // Blocking work still in flight (a request's parse or signature check) is not waited
    // for beyond the grace time: the process exits within a few seconds of SIGTERM.
    rt.shutdown_timeout(grace);
    result
}

pub(super) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
