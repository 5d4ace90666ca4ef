//! Shared by the integration tests: one generated kit per test binary, and a server on
//! 127.0.0.1:0 per test.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use kanta_sim::app::App;
use kanta_sim::archive::StoredExchange;
use kanta_sim::client::{ClientResponse, HttpVersion, MtlsClient, load_identity};
use kanta_sim::config::Config;
use kanta_sim::pki::{GenerateOptions, Index, generate_kit};
use rustls::SupportedProtocolVersion;

pub static BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
pub static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
pub static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The kit of this test binary, generated once.
pub fn kit(name: &str) -> &'static (PathBuf, Index) {
    static KIT: OnceLock<(PathBuf, Index)> = OnceLock::new();
    KIT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("kit-{name}-{}", std::process::id()));
        let index = generate_kit(&GenerateOptions {
            force: true,
            ..GenerateOptions::new(dir.clone()).unwrap()
        })
        .unwrap();
        (dir, index)
    })
}

pub fn path_of(kit: &(PathBuf, Index), role: &str) -> (PathBuf, Option<PathBuf>) {
    let a = kit.1.get(role).unwrap_or_else(|| panic!("no role {role}"));
    (kit.0.join(&a.cert), a.key.as_ref().map(|k| kit.0.join(k)))
}

pub fn sha256_of(kit: &(PathBuf, Index), role: &str) -> String {
    kit.1.get(role).unwrap().sha256.clone()
}

pub struct TestServer {
    pub handle: App,
    pub data: tempfile::TempDir,
}

impl TestServer {
    pub fn addr(&self) -> SocketAddr {
        self.handle.bound.listen
    }

    /// Waits until the log holds a record satisfying `pred` (the server logs a refused
    /// handshake after the client has seen the alert).
    pub async fn wait_for(&self, pred: impl Fn(&StoredExchange) -> bool) -> StoredExchange {
        for _ in 0..200 {
            if let Some(r) = self
                .handle
                .log
                .recent(500)
                .unwrap()
                .into_iter()
                .find(|r| pred(r))
            {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "no matching exchange; log holds: {:#?}",
            self.handle
                .log
                .recent(500)
                .unwrap()
                .iter()
                .map(|r| (&r.record.codes, &r.record.summary))
                .collect::<Vec<_>>()
        );
    }

    /// The server still answers a good client (after something hostile).
    pub async fn assert_serving(&self, kit: &(PathBuf, Index)) {
        let ok = get(
            kit,
            self.addr(),
            Some(&format!("client:{TESTILA}")),
            BOTH,
            HttpVersion::Http1,
            "/health",
        )
        .await;
        assert_eq!(ok.expect("a good client is still served").status, 200);
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

pub fn config(kit: &(PathBuf, Index), data: &Path) -> Config {
    let mut cfg = Config::builtin().unwrap();
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.server.diagnostic_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.tls.certs_dir = kit.0.clone();
    cfg.data.dir = data.to_owned();
    cfg
}

pub async fn start(kit: &(PathBuf, Index)) -> TestServer {
    start_with(kit, |_| {}).await
}

pub async fn start_with(kit: &(PathBuf, Index), tweak: impl FnOnce(&mut Config)) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(kit, data.path());
    tweak(&mut cfg);
    let handle = kanta_sim::app::start(cfg).await.unwrap();
    TestServer { handle, data }
}

pub fn client(
    kit: &(PathBuf, Index),
    role: Option<&str>,
    versions: &[&'static SupportedProtocolVersion],
    http: HttpVersion,
) -> MtlsClient {
    let identity = role.map(|r| {
        let (cert, key) = path_of(kit, r);
        load_identity(&cert, &key.unwrap()).unwrap()
    });
    MtlsClient::new(&path_of(kit, "root-ca").0, identity, versions, http).unwrap()
}

pub async fn get(
    kit: &(PathBuf, Index),
    addr: SocketAddr,
    role: Option<&str>,
    versions: &[&'static SupportedProtocolVersion],
    http: HttpVersion,
    path: &str,
) -> Result<ClientResponse, kanta_sim::client::ClientError> {
    client(kit, role, versions, http)
        .request(addr, "GET", path, None, Bytes::new())
        .await
}

pub const TESTILA: &str = "1.2.246.10.99900016.10.0";
pub const KOKEILUMAKI: &str = "1.2.246.10.99900024.10.0";
pub const SIMULAATIOHOIVA: &str = "1.2.246.10.99900032.10.0";

/// An OpenSSL configuration at security level 0, so that curl will present a 1024-bit
/// key and the archive has to refuse it itself.
pub fn openssl_seclevel0_conf() -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openssl-seclevel0.cnf");
    std::fs::write(
        &p,
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = system_default_sect\n[system_default_sect]\nCipherString = DEFAULT@SECLEVEL=0\n",
    )
    .unwrap();
    p
}

/// curl's arguments for POSTing XML `file` to `url` as `role` of `kit` over mutual TLS
/// (the kit's root as the only CA); the caller adds what it wants of the answer.
pub fn curl_post(kit: &(PathBuf, Index), role: &str, file: &Path, url: &str) -> Vec<String> {
    let (cert, key) = path_of(kit, role);
    let ca = path_of(kit, "root-ca").0;
    let key = key.unwrap_or_else(|| panic!("{role} has no key"));
    [
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "-H",
        "Content-Type: text/xml; charset=UTF-8",
        "--data-binary",
        &format!("@{}", file.display()),
        url,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs curl off the async runtime, returning (exit status, stdout, stderr). Panics in CI
/// when curl is missing; elsewhere returns None so the caller can skip.
pub async fn curl(args: &[&str], env: &[(&str, &Path)]) -> Option<(i32, String, String)> {
    let mut cmd = std::process::Command::new("curl");
    cmd.arg("--max-time").arg("20").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    match tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
    {
        Ok(o) => Some((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "curl is required in CI: {e}"
            );
            eprintln!("skipping: curl not available ({e})");
            None
        }
    }
}

/// Starts `kanta-sim serve` as its own process on 127.0.0.1:0 (stdout piped, stderr
/// discarded) and waits for its ready file; returns the child and the bound address.
pub fn spawn_serve(kit: &Path, data: &Path, ready: &Path) -> (std::process::Child, SocketAddr) {
    let _ = std::fs::remove_file(ready);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
        .args([
            "serve",
            "--certs",
            kit.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            ready.to_str().unwrap(),
        ])
        .env("KANTA_SIM_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let v = wait_ready(&mut child, ready);
    (child, v["listen"].as_str().unwrap().parse().unwrap())
}

/// Waits (up to 20 s) for a spawned kanta-sim's ready file and returns its JSON.
pub fn wait_ready(child: &mut std::process::Child, ready: &Path) -> serde_json::Value {
    let started = std::time::Instant::now();
    while !ready.is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not become ready"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    serde_json::from_str(&std::fs::read_to_string(ready).unwrap()).unwrap()
}

/// Headless Chromium, when installed (`.ci/run` installs it; in CI its absence is a failure).
pub fn chromium() -> Option<&'static str> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (.ci/run)"
        );
        eprintln!("chromium not installed: skipping the browser check");
    }
    found
}

/// Loads `url` in headless Chromium with a fresh profile: the DOM it parsed, and a
/// screenshot written to `shot` (which must come out as a real image).
pub fn chromium_load(chromium: &str, url: &str, shot: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    // Without the background-networking flags Chromium keeps trying the closed network.
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let run = |extra: &[&str]| {
        std::process::Command::new(chromium)
            .args(base)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .output()
            .unwrap()
    };
    let dom = String::from_utf8_lossy(&run(&["--dump-dom", url]).stdout).into_owned();
    let _ = std::fs::remove_file(shot);
    run(&[
        "--window-size=1280,1400",
        &format!("--screenshot={}", shot.display()),
        url,
    ]);
    assert!(
        std::fs::metadata(shot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot at {}",
        shot.display()
    );
    dom
}

/// A plain HTTP/1.1 GET (the archivist's view on loopback): the status and the whole answer.
pub fn http_get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_fmt(
        &mut s,
        format_args!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut s, &mut body).unwrap();
    let status = body
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body)
}

/// Runs the kanta-sim binary in `dir` (its temporary files there too, standard input closed):
/// the exit code, and standard output followed by standard error.
pub fn sim(args: &[&str], dir: &Path) -> (i32, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// A run's `report.json` in `dir`.
pub fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}
