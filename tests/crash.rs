//! Killing the archive (SIGKILL) in the middle of a load leaves no half-written document:
//! every acknowledged (AA) document is there and still verifies, every stored document has
//! its message, the database is intact, and the server starts again on the same data.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kanta_sim::archive::{ArchiveStore, DocumentStore};
use kanta_sim::client::{HttpVersion, MtlsClient, load_identity};
use kanta_sim::document::kanta_verify_options;
use kanta_sim::message::build::signed_sp1_message;
use kanta_sim::pki::{GenerateOptions, TrustStore, generate_kit};
use kanta_sim::xmldsig::{Signer, verify_document};

const ORG: &str = "1.2.246.10.99900016.10.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_load_leaves_no_half_written_document() {
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    let data = tmp.path().join("data");
    let ready = tmp.path().join("ready.json");
    let index = generate_kit(&GenerateOptions::new(kit.clone()).unwrap()).unwrap();
    let signer = Signer::from_kit(&kit, &format!("system-signature:{ORG}")).unwrap();
    let messages: Vec<(String, Bytes)> = (0..80)
        .map(|i| {
            let oid = format!("{ORG}.2026.900.{i}");
            let message = signed_sp1_message(
                &signer,
                ORG,
                &oid,
                &i.to_string(),
                40_000,
                &format!("sig_{i}"),
            )
            .unwrap();
            (oid, Bytes::from(message))
        })
        .collect();
    let (mut child, addr) = common::spawn_serve(&kit, &data, &ready);
    let a = index.get(&format!("client:{ORG}")).unwrap();
    let identity = load_identity(&kit.join(&a.cert), &kit.join(a.key.as_ref().unwrap())).unwrap();
    let client = MtlsClient::new(
        &kit.join(&index.get("root-ca").unwrap().cert),
        Some(identity),
        &[&rustls::version::TLS13],
        HttpVersion::Http1,
    )
    .unwrap();

    let messages = Arc::new(messages);
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, messages, next, accepted) = (
            client.clone(),
            messages.clone(),
            next.clone(),
            accepted.clone(),
        );
        workers.spawn(async move {
            let Ok(mut conn) = client.connect(addr).await else {
                return;
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((oid, body)) = messages.get(i) else {
                    return;
                };
                match conn
                    .request("POST", "/archive", Some("text/xml"), body.clone())
                    .await
                {
                    Ok((200, resp)) if resp.windows(13).any(|w| w == b"typeCode=\"AA\"") => {
                        accepted.lock().unwrap().push(oid.clone())
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
    // Let some documents through, then kill the server while requests are in flight.
    let started = Instant::now();
    while accepted.lock().unwrap().len() < 10 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    while workers.join_next().await.is_some() {}
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() >= 10,
        "too few acknowledged before the kill: {}",
        accepted.len()
    );
    assert!(
        accepted.len() < 80,
        "the kill came after everything was done; the test proves nothing"
    );

    // The database after the crash.
    let conn = rusqlite::Connection::open(data.join("kanta-sim.sqlite")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM document d LEFT JOIN message m ON m.root = d.message_root AND m.extension = d.message_extension WHERE m.root IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    // The audit trail: every archived document has its exchange row (written in the same
    // transaction), which refers to the archived message instead of copying it.
    let unaudited: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM document d WHERE NOT EXISTS (SELECT 1 FROM exchange e WHERE e.message_root = d.message_root AND e.message_extension = d.message_extension AND e.archived = 1 AND e.request IS NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        unaudited, 0,
        "archived documents without their exchange row"
    );
    drop(conn);
    let store = ArchiveStore::open(&data).unwrap();
    let trust = TrustStore::from_kit(&kit).unwrap();
    for oid in &accepted {
        let stored = store
            .get(oid)
            .unwrap()
            .unwrap_or_else(|| panic!("{oid} was acknowledged but is not stored"));
        let report = verify_document(
            std::str::from_utf8(stored.cda.as_deref().unwrap()).unwrap(),
            &kanta_verify_options(Some(&trust)),
        )
        .unwrap();
        assert!(report.is_valid(), "{oid}: {:?}", report.codes());
    }
    assert!(store.count().unwrap() as usize >= accepted.len());
    drop(store);

    // And the archive starts again on the same data and keeps archiving.
    let (mut again, addr) = common::spawn_serve(&kit, &data, &ready);
    let mut conn = client.connect(addr).await.unwrap();
    let (status, resp) = conn
        .request("POST", "/archive", Some("text/xml"), messages[79].1.clone())
        .await
        .unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&resp);
    assert!(
        text.contains("typeCode=\"AA\"") || text.contains("W-016") || text.contains("L-001"),
        "{text}"
    );
    again.kill().unwrap();
    again.wait().unwrap();
}
