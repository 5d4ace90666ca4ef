//! The document lifecycle and the five queries over mutual TLS, driven by the reference
//! client: archive → new version → invalidate with the history linked to the exchanges;
//! every L and Q rule fails on its own defect; queries never show another organisation's
//! documents, whatever the filter, page or guessed id; a retrieved document still verifies.

use crate::common;

use common::*;
use kanta_sim::archive::DocumentStore;
use kanta_sim::client::reference::{ReferenceClient, Reply, Signing};
use kanta_sim::config::Config;
use kanta_sim::document::{Code, Metadata};
use kanta_sim::message::query::{QueryRequest, RegisterScope, StatusFilter};
use kanta_sim::message::usecase::QueryKind;

const CLIENT: &str = "010190-902S";

fn client_of(server: &TestServer, org: &str) -> ReferenceClient {
    ReferenceClient::new(
        &kit("lifecycle").0,
        org,
        server.addr(),
        Config::builtin().unwrap().archive.interactions,
    )
    .unwrap()
}

fn sp1(oid: &str) -> Metadata {
    Metadata::client_relationship_example(oid, CLIENT)
}

#[track_caller]
fn assert_ack(r: &Reply, ack: &str, codes: &[&str]) {
    assert_eq!(
        (
            r.ack(),
            r.codes().iter().map(String::as_str).collect::<Vec<_>>()
        ),
        (ack, codes.to_vec()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

async fn metadata(c: &ReferenceClient, q: QueryRequest) -> Reply {
    c.query(QueryKind::Metadata, &q).await.unwrap()
}

fn oids(r: &Reply) -> Vec<(String, u32, String)> {
    r.parsed
        .documents
        .iter()
        .map(|d| (d.document_oid.clone(), d.version, d.status.clone()))
        .collect()
}

#[tokio::test]
async fn archive_replace_invalidate_with_history_and_queries() {
    let server = start(kit("lifecycle")).await;
    let t = client_of(&server, TESTILA);
    let v1 = sp1("1.2.246.10.99900016.10.0.500");
    assert_ack(&t.archive(&v1, &Signing::System).await.unwrap(), "AA", &[]);
    let r = metadata(&t, QueryRequest::for_client(CLIENT)).await;
    assert_ack(&r, "AA", &[]);
    assert_eq!(
        oids(&r),
        vec![(v1.document_oid.clone(), 1, "completed".into())]
    );

    let v2 = v1.next_version("1.2.246.10.99900016.10.0.501", "20261124100000+0200");
    let reply = t.archive(&v2, &Signing::System).await.unwrap();
    assert_ack(&reply, "AA", &[]);
    assert!(reply.request.contains("RCMR_IN200016FI01"));
    // Normal query: the newest only. With history: both, the older one obsolete.
    let r = metadata(&t, QueryRequest::for_client(CLIENT)).await;
    assert_eq!(
        oids(&r),
        vec![(v2.document_oid.clone(), 2, "completed".into())]
    );
    let r = metadata(
        &t,
        QueryRequest {
            include_history: true,
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_eq!(
        oids(&r),
        vec![
            (v2.document_oid.clone(), 2, "completed".into()),
            (v1.document_oid.clone(), 1, "obsolete".into())
        ]
    );

    // Retrieval returns the bytes exactly as archived, and they verify with the CLI.
    let r = t
        .query(
            QueryKind::Document,
            &QueryRequest::for_document(&v1.document_oid),
        )
        .await
        .unwrap();
    assert_ack(&r, "AA", &[]);
    let cda = r.parsed.documents[0].cda.clone().unwrap();
    let stored = server.handle.store.get(&v1.document_oid).unwrap().unwrap();
    assert_eq!(Some(&cda), stored.cda.as_ref());
    let file = server.data.path().join("retrieved.xml");
    std::fs::write(&file, &cda).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
        .args(["dsig", "verify", "--trust"])
        .arg(&kit("lifecycle").0)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Invalidate the current version: hidden from normal queries, visible on request.
    let reply = t
        .invalidate(&v2.reference(), TESTILA, "Kirjattu väärälle asiakkaalle")
        .await
        .unwrap();
    assert_ack(&reply, "AA", &[]);
    let r = metadata(&t, QueryRequest::for_client(CLIENT)).await;
    assert_eq!((r.parsed.response_code.as_str(), r.parsed.total), ("NF", 0));
    let r = metadata(
        &t,
        QueryRequest {
            status: StatusFilter::Invalidated,
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_eq!(
        oids(&r),
        vec![(v2.document_oid.clone(), 2, "nullified".into())]
    );

    // The history: archived v1 → replaced by v2 → invalidated, each with its exchange.
    let history = server.handle.store.history(&v1.set_id).unwrap();
    let steps: Vec<(&str, u32)> = history
        .iter()
        .map(|e| (e.kind.as_str(), e.version))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("archived", 1),
            ("replaced", 1),
            ("archived", 2),
            ("invalidated", 2)
        ]
    );
    assert_eq!(
        history[3].reason.as_deref(),
        Some("Kirjattu väärälle asiakkaalle")
    );
    for event in &history {
        let (root, ext) = event.message.clone().unwrap();
        let exchanges = server.handle.log.by_message(&root, &ext).unwrap();
        assert_eq!(exchanges.len(), 1, "{event:?}");
        assert_eq!(exchanges[0].record.status, Some(200));
        assert!(
            exchanges[0].record.summary.starts_with("AA"),
            "{}",
            exchanges[0].record.summary
        );
        // The exchange refers to the archived message: its request is that message's body,
        // read back from the body file.
        let request = exchanges[0].record.request.as_deref().unwrap_or_default();
        let request = String::from_utf8_lossy(request);
        assert!(
            request.contains(&format!("root=\"{root}\" extension=\"{ext}\"")),
            "{event:?}: {request:.300}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn every_way_a_new_version_goes_wrong_has_its_rule() {
    let server = start(kit("lifecycle")).await;
    let t = client_of(&server, TESTILA);
    let v1 = sp1("1.2.246.10.99900016.10.0.600");
    assert_ack(&t.archive(&v1, &Signing::System).await.unwrap(), "AA", &[]);
    let next = |oid: &str| v1.next_version(oid, "20261124100000+0200");

    // L-002: unknown setId.
    let mut m = next("1.2.246.10.99900016.10.0.601");
    m.set_id = "1.2.246.10.99900016.10.0.699".into();
    m.replaces.as_mut().unwrap().set_id = m.set_id.clone();
    assert_ack(
        &t.archive(&m, &Signing::System).await.unwrap(),
        "AE",
        &["L-002"],
    );
    // L-003: a gap.
    let mut m = next("1.2.246.10.99900016.10.0.602");
    m.version = 3;
    assert_ack(
        &t.archive(&m, &Signing::System).await.unwrap(),
        "AE",
        &["L-003"],
    );
    // L-004: no relatedDocument.
    let mut m = next("1.2.246.10.99900016.10.0.603");
    m.replaces = None;
    assert_ack(
        &t.archive(&m, &Signing::System).await.unwrap(),
        "AE",
        &["L-004"],
    );
    // L-007: another custodian, a service unit of the same organisation (which signs with
    // its organisation's system certificate).
    let mut m = next("1.2.246.10.99900016.10.0.604");
    m.custodian = "1.2.246.10.99900016.10.1".into();
    let system = Signing::Role(
        format!("system-signature:{TESTILA}"),
        kanta_sim::document::SignatureType::System,
    );
    assert_ack(&t.archive(&m, &system).await.unwrap(), "AE", &["L-007"]);
    // L-008: another register.
    let mut m = next("1.2.246.10.99900016.10.0.605");
    m.register = Code::new("2", &m.register.code_system.clone(), "Muu rekisteri");
    let r = t.archive(&m, &Signing::System).await.unwrap();
    assert_eq!(r.ack(), "AE");
    assert!(r.codes().contains(&"L-008".to_owned()), "{:?}", r.codes());
    // L-009: another organisation's set (it names itself custodian, so A-rules pass).
    let k = client_of(&server, KOKEILUMAKI);
    let mut m = next("1.2.246.10.99900024.10.0.606");
    m.custodian = KOKEILUMAKI.into();
    m.custodian_name = "Kokeilumäen hyvinvointialue".into();
    assert_ack(
        &k.archive(&m, &Signing::System).await.unwrap(),
        "AE",
        &["L-009"],
    );
    // L-010: a version 2 through the archiving interaction.
    let m = next("1.2.246.10.99900016.10.0.607");
    let body = t
        .archive_message(&m, &Signing::System)
        .unwrap()
        .replace("RCMR_IN200016FI01", "RCMR_IN200002FI01");
    assert_ack(&t.send(body).await.unwrap(), "AE", &["L-010"]);
    // L-001: version 1 again under a new message id.
    assert_ack(
        &t.archive(&v1, &Signing::System).await.unwrap(),
        "AE",
        &["L-001"],
    );

    // A correct v2; then L-005: a v3 pointing at the replaced v1.
    let v2 = next("1.2.246.10.99900016.10.0.610");
    assert_ack(&t.archive(&v2, &Signing::System).await.unwrap(), "AA", &[]);
    let mut m = v2.next_version("1.2.246.10.99900016.10.0.611", "20261125100000+0200");
    m.replaces = Some(v1.reference());
    assert_ack(
        &t.archive(&m, &Signing::System).await.unwrap(),
        "AE",
        &["L-005"],
    );
    // L-006: after invalidation, no new versions.
    assert_ack(
        &t.invalidate(&v2.reference(), TESTILA, "virhe")
            .await
            .unwrap(),
        "AA",
        &[],
    );
    let m = v2.next_version("1.2.246.10.99900016.10.0.612", "20261125100000+0200");
    assert_ack(
        &t.archive(&m, &Signing::System).await.unwrap(),
        "AE",
        &["L-006"],
    );
    // Nothing refused was stored.
    assert_eq!(server.handle.store.count().unwrap(), 2);
    server.stop().await;
}

#[tokio::test]
async fn every_way_an_invalidation_goes_wrong_has_its_rule() {
    let server = start(kit("lifecycle")).await;
    let t = client_of(&server, TESTILA);
    let k = client_of(&server, KOKEILUMAKI);
    let v1 = sp1("1.2.246.10.99900016.10.0.700");
    assert_ack(&t.archive(&v1, &Signing::System).await.unwrap(), "AA", &[]);
    let v2 = v1.next_version("1.2.246.10.99900016.10.0.701", "20261124100000+0200");
    assert_ack(&t.archive(&v2, &Signing::System).await.unwrap(), "AA", &[]);

    let mut unknown = v2.reference();
    unknown.document_oid = "1.2.246.10.99900016.10.0.799".into();
    assert_ack(
        &t.invalidate(&unknown, TESTILA, "x").await.unwrap(),
        "AE",
        &["L-020"],
    );
    assert_ack(
        &k.invalidate(&v2.reference(), KOKEILUMAKI, "x")
            .await
            .unwrap(),
        "AE",
        &["L-021"],
    );
    assert_ack(
        &t.invalidate(&v2.reference(), TESTILA, " ").await.unwrap(),
        "AE",
        &["L-023"],
    );
    assert_ack(
        &t.invalidate(&v1.reference(), TESTILA, "x").await.unwrap(),
        "AE",
        &["L-024"],
    );
    let body = t
        .invalidation_message(&v2.reference(), TESTILA, "x")
        .replace("<id root=\"1.2.246.10.99900016.10.0.701\"/>", "");
    assert_ack(&t.send(body).await.unwrap(), "AE", &["L-025"]);
    assert_ack(
        &t.invalidate(&v2.reference(), TESTILA, "x").await.unwrap(),
        "AA",
        &[],
    );
    assert_ack(
        &t.invalidate(&v2.reference(), TESTILA, "x").await.unwrap(),
        "AE",
        &["L-022"],
    );
    server.stop().await;
}

#[tokio::test]
async fn queries_see_own_and_use_right_registers_and_nothing_else() {
    let server = start(kit("lifecycle")).await;
    let t = client_of(&server, TESTILA);
    let k = client_of(&server, KOKEILUMAKI);
    let s = client_of(&server, SIMULAATIOHOIVA);
    // Testilä: a client relationship document and two client documents in one case.
    let rel = sp1("1.2.246.10.99900016.10.0.800");
    assert_ack(&t.archive(&rel, &Signing::System).await.unwrap(), "AA", &[]);
    for (i, day) in [(801, "20261120"), (802, "20261121")] {
        let mut d = Metadata::client_document_example(
            &format!("1.2.246.10.99900016.10.0.{i}"),
            CLIENT,
            "99900000011",
        );
        d.case_id = Some("1.2.246.10.99900016.10.0.8000".into());
        d.client_relationship = rel.client_relationship.clone();
        d.effective_time = format!("{day}100000+0200");
        assert_ack(
            &t.archive(&d, &Signing::Professional("99900000011".into()))
                .await
                .unwrap(),
            "AA",
            &[],
        );
    }
    // Simulaatiohoiva produces into Testilä's register under its use right.
    let mut p = sp1("1.2.246.10.99900032.10.0.900");
    p.custodian = SIMULAATIOHOIVA.into();
    p.custodian_name = "Simulaatiohoiva Oy".into();
    p.organiser = Some(TESTILA.into());
    assert_ack(&s.archive(&p, &Signing::System).await.unwrap(), "AA", &[]);
    // Kokeilumäki: its own document about the same client.
    let mut own = sp1("1.2.246.10.99900024.10.0.950");
    own.custodian = KOKEILUMAKI.into();
    assert_ack(&k.archive(&own, &Signing::System).await.unwrap(), "AA", &[]);

    // Testilä sees its four (including the producer's), Kokeilumäki only its own.
    let r = metadata(&t, QueryRequest::for_client(CLIENT)).await;
    assert_eq!(r.parsed.total, 4);
    assert!(
        r.parsed
            .documents
            .iter()
            .all(|d| d.register_owner == TESTILA)
    );
    let r = metadata(&k, QueryRequest::for_client(CLIENT)).await;
    assert_eq!(
        oids(&r),
        vec![(own.document_oid.clone(), 1, "completed".into())]
    );
    // Through every filter and page, and by guessed id or setId, nothing of Testilä's.
    for q in [
        QueryRequest {
            status: StatusFilter::All,
            include_history: true,
            ..QueryRequest::for_client(CLIENT)
        },
        QueryRequest {
            case_id: Some("1.2.246.10.99900016.10.0.8000".into()),
            ..QueryRequest::default()
        },
        QueryRequest {
            client_relationship: rel.client_relationship.clone(),
            ..QueryRequest::default()
        },
        QueryRequest {
            set_id: Some(rel.set_id.clone()),
            ..QueryRequest::default()
        },
        QueryRequest {
            page_size: Some(1),
            start: 1,
            ..QueryRequest::for_client(CLIENT)
        },
        QueryRequest {
            register: RegisterScope::Organiser,
            ..QueryRequest::for_client(CLIENT)
        },
    ] {
        let r = metadata(&k, q.clone()).await;
        assert!(
            r.parsed
                .documents
                .iter()
                .all(|d| d.register_owner == KOKEILUMAKI),
            "{q:?}"
        );
    }
    let r = k
        .query(
            QueryKind::Document,
            &QueryRequest::for_document(&rel.document_oid),
        )
        .await
        .unwrap();
    assert_ack(&r, "AA", &[]);
    assert_eq!(
        (r.parsed.response_code.as_str(), r.parsed.documents.len()),
        ("NF", 0)
    );
    assert!(!String::from_utf8_lossy(&r.body).contains(&rel.document_oid));
    // The producer reads the organiser's register through its use right, not with `own`.
    let r = metadata(&s, QueryRequest::for_client(CLIENT)).await;
    assert_eq!(r.parsed.total, 4);
    let r = metadata(
        &s,
        QueryRequest {
            register: RegisterScope::Own,
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_eq!(r.parsed.total, 0);

    // Paging: ordered newest first, bounded, with counts.
    let mut seen = Vec::new();
    for start in 0..4 {
        let r = metadata(
            &t,
            QueryRequest {
                page_size: Some(1),
                start,
                ..QueryRequest::for_client(CLIENT)
            },
        )
        .await;
        assert_eq!(
            (r.parsed.total, r.parsed.current, r.parsed.remaining),
            (4, 1, 3 - u64::from(start))
        );
        seen.push(r.parsed.documents[0].document_oid.clone());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);
    // Filters: type, time range.
    let r = metadata(
        &t,
        QueryRequest {
            document_group: Some("5".into()),
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_eq!(r.parsed.total, 2);
    let r = metadata(
        &t,
        QueryRequest {
            from: Some("20261121".into()),
            to: Some("20261121235959+0200".into()),
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_eq!(
        oids(&r),
        vec![("1.2.246.10.99900016.10.0.802".into(), 1, "completed".into())]
    );

    // Hae asiakkuus, Hae asia, Hae kooste.
    let r = t
        .query(
            QueryKind::ClientRelationships,
            &QueryRequest::for_client(CLIENT),
        )
        .await
        .unwrap();
    assert!(
        r.parsed
            .groups
            .contains(&(rel.client_relationship.clone().unwrap(), 3)),
        "{:?}",
        r.parsed.groups
    );
    let r = t
        .query(QueryKind::Cases, &QueryRequest::for_client(CLIENT))
        .await
        .unwrap();
    assert_eq!(
        r.parsed.groups,
        vec![("1.2.246.10.99900016.10.0.8000".to_owned(), 2)]
    );
    let r = t
        .query(QueryKind::Summary, &QueryRequest::for_client(CLIENT))
        .await
        .unwrap();
    assert_eq!(
        r.parsed.summary[0],
        ("documentCount".into(), String::new(), 4)
    );
    assert!(
        r.parsed
            .summary
            .contains(&("documentGroup".into(), "5".into(), 2)),
        "{:?}",
        r.parsed.summary
    );
    let r = k
        .query(QueryKind::Cases, &QueryRequest::for_client(CLIENT))
        .await
        .unwrap();
    assert!(r.parsed.groups.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn malformed_queries_get_q_and_p_rules() {
    let server = start(kit("lifecycle")).await;
    let t = client_of(&server, TESTILA);
    let r = t
        .query(QueryKind::Cases, &QueryRequest::default())
        .await
        .unwrap();
    assert_ack(&r, "AE", &["Q-001"]);
    assert_eq!(r.parsed.response_code, "QE");
    let r = metadata(
        &t,
        QueryRequest {
            page_size: Some(1000),
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_ack(&r, "AE", &["Q-002"]);
    let r = metadata(
        &t,
        QueryRequest {
            from: Some("20261130".into()),
            to: Some("20261101".into()),
            ..QueryRequest::for_client(CLIENT)
        },
    )
    .await;
    assert_ack(&r, "AE", &["Q-002"]);
    // A real-range code anywhere in a message is refused before anything else, as for archiving.
    let r = metadata(&t, QueryRequest::for_client("311299F1236")).await;
    assert_ack(&r, "AR", &["P-002"]);
    let r = metadata(&t, QueryRequest::for_client("010190-9021")).await;
    assert_ack(&r, "AE", &["P-001"]);
    // A query whose sender device is another organisation: A-004.
    let body = t.query_message(QueryKind::Metadata, &QueryRequest::for_client(CLIENT)).replace(
        &format!("<sender typeCode=\"SND\"><device classCode=\"DEV\" determinerCode=\"INSTANCE\"><id root=\"{TESTILA}\"/>"),
        &format!("<sender typeCode=\"SND\"><device classCode=\"DEV\" determinerCode=\"INSTANCE\"><id root=\"{KOKEILUMAKI}\"/>"),
    );
    assert_ack(&t.send(body).await.unwrap(), "AE", &["A-004"]);
    server.stop().await;
}
