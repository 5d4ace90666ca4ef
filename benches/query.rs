//! Query cost against archive size: documents are generated in bulk straight into the
//! store (10 000 and 1 000 000 by default, five per client across three registers), then
//! each query kind is timed twice: in process against the store, and end to end over
//! mutual TLS through a server started on the loaded data directory (message parsing,
//! rules, scoping, response writing). The 10 000-document run is the baseline of the
//! ratios.
//!
//!   cargo bench --bench query [-- --sizes 10000,1000000 --rounds 200]

use std::time::Instant;

use kanta_sim::archive::{ArchiveStore, DocumentQuery, DocumentStore, execute};
use kanta_sim::client::reference::ReferenceClient;
use kanta_sim::config::Config;
use kanta_sim::document::ArchivedDocument;
use kanta_sim::document::DocStatus;
use kanta_sim::identity::{HETU_OID, Hetu};
use kanta_sim::message::query::QueryRequest;
use kanta_sim::message::usecase::QueryKind;
use kanta_sim::pki::{GenerateOptions, generate_kit};
use time::OffsetDateTime;

const ORGS: [&str; 3] = [
    "1.2.246.10.99900016.10.0",
    "1.2.246.10.99900024.10.0",
    "1.2.246.10.99900032.10.0",
];

/// A valid 900-series HETU for client number `n` (distinct for n < 99 × 36 500).
fn hetu(n: u64) -> String {
    let day = n % 28 + 1;
    let month = (n / 28) % 12 + 1;
    let year = (n / 336) % 100;
    let individual = 900 + (n / 33_600) % 99;
    let digits =
        u32::try_from(day * 10_000_000 + month * 100_000 + year * 1_000 + individual).unwrap_or(0);
    let h = format!(
        "{day:02}{month:02}{year:02}-{individual:03}{}",
        Hetu::check_char(digits)
    );
    debug_assert!(h.parse::<Hetu>().is_ok(), "{h}");
    h
}

fn documents(n: u64) -> impl Iterator<Item = ArchivedDocument> {
    (0..n).map(|i| {
        let client = i / 5;
        let org = ORGS[usize::try_from(client % 3).unwrap_or(0)];
        let oid = format!("{org}.77.{i}");
        ArchivedDocument {
            client_id: hetu(client),
            document_group: Some(if i % 5 == 0 { "1" } else { "5" }.into()),
            document_type: (i % 5 != 0).then(|| "15007".into()),
            case_id: Some(format!("{org}.88.{}", client * 2 + i % 2)),
            client_relationship: Some(format!("{org}.89.{client}")),
            effective_time: Some(format!("2026{:02}{:02}100000+0200", i % 12 + 1, i % 28 + 1)),
            cda: vec![b'x'; 256],
            ..ArchivedDocument::minimal(&oid, org)
        }
    })
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Row {
    name: String,
    p50: f64,
    p99: f64,
}

fn time_it(rounds: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut t = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let s = Instant::now();
        f(i);
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    (percentile(&mut t, 0.5), percentile(&mut t, 0.99))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let sizes: Vec<u64> = arg("--sizes")
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 1_000_000]);
    let rounds: usize = arg("--rounds").and_then(|r| r.parse().ok()).unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    generate_kit(&GenerateOptions::new(kit.clone()).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let register = kanta_sim::identity::SoteRegister::bundled().unwrap();
    let mut results: Vec<(u64, Vec<Row>)> = Vec::new();
    for &n in &sizes {
        let data = tmp.path().join(format!("data-{n}"));
        let store = ArchiveStore::open(&data).unwrap();
        let s = Instant::now();
        store
            .bulk_load(documents(n), OffsetDateTime::now_utc())
            .unwrap();
        let load_s = s.elapsed().as_secs_f64();
        let db_mb =
            std::fs::metadata(data.join("kanta-sim.sqlite")).map_or(0, |m| m.len()) / 1_000_000;
        eprintln!(
            "{n} documents loaded in {load_s:.1} s ({:.0}/s), database {db_mb} MB",
            n as f64 / load_s
        );
        let clients = n / 5;
        let today = OffsetDateTime::now_utc().date();
        let mut rows = Vec::new();
        // Clients of Testilä (client % 3 == 0), asked by Testilä.
        let client_of = |i: usize| hetu((i as u64 * 3 * 7919) % clients / 3 * 3);
        for kind in QueryKind::ALL {
            let (p50, p99) = time_it(rounds, |i| {
                let q = match kind {
                    QueryKind::Document => QueryRequest::for_document(&format!(
                        "{}.77.{}",
                        ORGS[0],
                        (i as u64 * 15 * 7919) % n / 15 * 15
                    )),
                    _ => QueryRequest::for_client(&client_of(i)),
                };
                let registers = kanta_sim::rules::access::readable_registers(
                    q.register, ORGS[0], &register, today,
                );
                let scoped = DocumentQuery::for_request(&q, kind, registers, 20);
                let r = execute(&store, kind, &scoped).unwrap();
                std::hint::black_box(r);
            });
            rows.push(Row {
                name: format!("store  {}", kind.as_str()),
                p50,
                p99,
            });
        }
        // Scoping: Kokeilumäki asking about Testilä's client finds nothing.
        let (p50, p99) = time_it(rounds, |i| {
            let q = DocumentQuery {
                registers: vec![ORGS[1].into()],
                client_id: Some(client_of(i)),
                statuses: vec![DocStatus::Active],
                limit: 20,
                ..DocumentQuery::default()
            };
            assert_eq!(store.query(&q).unwrap().total, 0);
        });
        rows.push(Row {
            name: "store  metadata, foreign client (0 hits)".into(),
            p50,
            p99,
        });
        drop(store);
        // End to end over mTLS.
        let mut cfg = Config::builtin().unwrap();
        cfg.server.listen = "127.0.0.1:0".parse().unwrap();
        cfg.tls.certs_dir = kit.clone();
        cfg.data.dir = data.clone();
        rt.block_on(async {
            let handle = kanta_sim::app::start(cfg.clone()).await.unwrap();
            let c = ReferenceClient::new(
                &kit,
                ORGS[0],
                handle.bound.listen,
                cfg.archive.interactions.clone(),
            )
            .unwrap();
            for kind in [QueryKind::Metadata, QueryKind::Document, QueryKind::Summary] {
                let mut t = Vec::new();
                for i in 0..rounds.min(100) {
                    let q = match kind {
                        QueryKind::Document => QueryRequest::for_document(&format!(
                            "{}.77.{}",
                            ORGS[0],
                            (i as u64 * 15 * 7919) % n / 15 * 15
                        )),
                        _ => QueryRequest {
                            client_root: Some(HETU_OID.into()),
                            ..QueryRequest::for_client(&client_of(i))
                        },
                    };
                    let s = Instant::now();
                    let r = c.query(kind, &q).await.unwrap();
                    t.push(s.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(r.ack(), "AA", "{:?}", r.codes());
                    assert!(r.parsed.total > 0, "{kind:?} found nothing");
                }
                rows.push(Row {
                    name: format!("mTLS   {} (new connection each)", kind.as_str()),
                    p50: percentile(&mut t, 0.5),
                    p99: percentile(&mut t, 0.99),
                });
            }
            handle.shutdown().await;
        });
        results.push((n, rows));
    }
    let base = &results[0];
    println!(
        "query latency in ms (p50 / p99), {rounds} rounds; ratio = p50 against {} documents",
        base.0
    );
    for (n, rows) in &results {
        println!("\n{n} documents");
        for (r, b) in rows.iter().zip(&base.1) {
            println!(
                "  {:<45} {:>8.3} / {:>8.3}   ×{:.2}",
                r.name,
                r.p50,
                r.p99,
                r.p50 / b.p50
            );
        }
    }
}
