//! The road to production for trainers (#16): `train onboarding` walks every step in
//! Swedish and ends in the deployment test; each `--break` stops at its step with exit 3 and
//! what to do in reality; the onboarding page in headless Chromium shows the checklist; a
//! code Kela granted to two customers passes for both; the register-use-right deployment
//! case names both parties in the report to Kela; the reports render in Swedish and Finnish.

use crate::common;

use common::*;
use kanta_sim::client::reference::{ReferenceClient, Signing};
use kanta_sim::document::Metadata;
use kanta_sim::lang::Lang;
use kanta_sim::onboarding::{self as ob, Break, Item};

const SIMULAATIOHOIVA: &str = "1.2.246.10.99900032.10.0";

#[test]
fn train_onboarding_walks_every_step_in_swedish_and_each_break_stops_at_its_step() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = sim(
        &["train", "onboarding", "--no-pause", "--lang", "sv"],
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    for s in ob::STEPS {
        assert!(out.contains(s.title.sv), "{} missing:\n{out}", s.key);
    }
    assert!(out.contains("Övningen LYCKADES"), "{out}");
    // The test itself ran: checklist (a) and the report's due date, in Swedish.
    assert!(out.contains("checklista (a): GODKÄND"), "{out}");
    assert!(out.contains("rapporten senast"), "{out}");

    // Each break, at once: the walk stops at its step, says what to do, goes no further.
    let handles: Vec<_> = Break::ALL
        .iter()
        .map(|(_, name, item)| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let name = (*name).to_owned();
            let item = *item;
            std::thread::spawn(move || {
                let r = sim(
                    &[
                        "train",
                        "onboarding",
                        "--no-pause",
                        "--lang",
                        "en",
                        "--break",
                        &name,
                    ],
                    &dir,
                );
                (name, item, r)
            })
        })
        .collect();
    for h in handles {
        let (name, item, (code, out)) = h.join().unwrap();
        assert_eq!(code, 3, "{name}: {out}");
        let step = ob::step(item);
        let at = out
            .find(step.title.en)
            .unwrap_or_else(|| panic!("{name}: no {} in\n{out}", step.key));
        let rest = &out[at..];
        assert!(rest.contains('✘'), "{name}: {rest}");
        assert!(
            rest.contains(&format!("What to do in reality: {}", step.todo.en)),
            "{name}: {rest}"
        );
        // Nothing after the step it names.
        let next = ob::STEPS
            .iter()
            .skip_while(|s| s.item != item)
            .nth(1)
            .unwrap();
        assert!(!rest.contains(next.title.en), "{name} went on:\n{rest}");
        assert!(!out.contains("Rehearsal PASSED"), "{name}");
    }
    let (code, out) = sim(&["train", "onboarding", "--break", "nope"], tmp.path());
    assert_eq!(code, 2);
    assert!(out.contains("service-description-not-accepted") && out.contains("test-not-agreed"));
    let (code, out) = sim(&["train", "onboarding", "--lang", "de"], tmp.path());
    assert_eq!(code, 2);
    assert!(out.contains("possible values: fi, en, sv"), "{out}");
    let (code, out) = sim(&["train", "road-trip"], tmp.path());
    assert_eq!(code, 2);
    assert!(out.contains("deployment-test or onboarding"), "{out}");
}

#[test]
fn the_breaks_show_the_archive_refusing_as_it_would() {
    let tmp = tempfile::tempdir().unwrap();
    for (lang, brk, line) in [
        ("en", "not-in-sote-register", "bad:unregistered-org: A-002"),
        ("fi", "expired-server-certificate", "bad:expired: T-003"),
    ] {
        let (code, out) = sim(
            &[
                "train",
                "onboarding",
                "--no-pause",
                "--lang",
                lang,
                "--break",
                brk,
            ],
            tmp.path(),
        );
        assert_eq!(code, 3, "{out}");
        assert!(out.contains(line), "{out}");
        if brk == "expired-server-certificate" {
            assert!(out.contains(ob::step(Item::Certificates).todo.fi), "{out}");
        }
    }
}

#[tokio::test]
async fn the_onboarding_page_shows_the_checklist_and_the_view_waits_for_an_archivist() {
    // Testilä is ready; Kokeilumäki has no archivist in this data.
    let dir = tempfile::tempdir().unwrap();
    let mut data = ob::Onboarding::bundled().unwrap();
    for r in &mut data.organisation {
        if r.oid == KOKEILUMAKI {
            Break::NoArchivist.apply(r);
        }
    }
    let file = dir.path().join("onboarding.toml");
    std::fs::write(&file, toml::to_string(&data).unwrap()).unwrap();
    let server = start_with(kit("onboarding"), |c| {
        c.archivist.listen = Some("127.0.0.1:0".parse().unwrap());
        c.onboarding.file = Some(file.clone());
    })
    .await;
    let view = format!("http://{}", server.handle.bound.archivist.unwrap());

    let url = format!("{view}/onboarding?org={TESTILA}&lang=sv");
    let (status, body) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || http_get(&url)
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    // No archivist: the view is closed, the checklist says why.
    let (status, body) = tokio::task::spawn_blocking({
        let u = format!("{view}/search?org={KOKEILUMAKI}&lang=en");
        move || http_get(&u)
    })
    .await
    .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Kanta archivist"), "{body}");
    let (status, body) = tokio::task::spawn_blocking({
        let u = format!("{view}/onboarding?org={KOKEILUMAKI}&lang=fi");
        move || http_get(&u)
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("kukaan ei toimi Kanta-arkistonhoitajan roolissa"),
        "{body}"
    );

    if let Some(chromium) = chromium() {
        let shot = dir.path().join("onboarding.png");
        let dom = tokio::task::spawn_blocking({
            let url = url.clone();
            let shot = shot.clone();
            move || chromium_load(chromium, &url, &shot)
        })
        .await
        .unwrap();
        assert!(dom.contains("Checklista för införandet"), "{dom}");
        assert!(dom.contains(r#"id="onboarding-checklist""#), "{dom}");
        for s in ob::STEPS {
            assert!(
                dom.contains(&format!(r#"id="item-{}""#, s.key)),
                "{}",
                s.key
            );
            assert!(dom.contains(s.title.sv), "{}", s.key);
        }
        // Every prerequisite of the ready organisation is done (the test itself is run, not
        // declared).
        assert_eq!(
            dom.matches(r#"class="state-passed""#).count(),
            ob::STEPS.len() - 1,
            "{dom}"
        );
        assert!(dom.contains("Arkisto Aino Testilä"));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_code_granted_to_two_customers_passes_for_both() {
    let server = start_with(kit("onboarding"), |c| {
        c.archive.identity_pool = kanta_sim::identity::Pool::DeploymentTest;
    })
    .await;
    let csv = server.data.path().join("kela.csv");
    std::fs::write(
        &csv,
        format!(
            "code,customer,org\n020290-951T,Testilän hyvinvointialue,{TESTILA}\n020290-951T,Simulaatiohoiva Oy,{SIMULAATIOHOIVA}\n"
        ),
    )
    .unwrap();
    let data = server.data.path().to_owned();
    let (code, out) = tokio::task::spawn_blocking(move || {
        sim(
            &[
                "ids",
                "import",
                csv.to_str().unwrap(),
                "--service",
                "käyttöönottokoe",
                "--data",
                data.to_str().unwrap(),
            ],
            data.as_path(),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 grant(s) read, 2 new"), "{out}");

    let interactions = kanta_sim::config::Config::builtin()
        .unwrap()
        .archive
        .interactions;
    let send = |org: &'static str, n: u32| {
        let interactions = interactions.clone();
        let addr = server.addr();
        async move {
            let c = ReferenceClient::new(&kit("onboarding").0, org, addr, interactions).unwrap();
            let mut meta =
                Metadata::client_relationship_example(&format!("{org}.95.77.{n}"), "020290-951T");
            meta.custodian = org.to_owned();
            c.archive(&meta, &Signing::System).await.unwrap()
        }
    };
    for (n, org) in [TESTILA, SIMULAATIOHOIVA].into_iter().enumerate() {
        let r = send(org, u32::try_from(n).unwrap()).await;
        assert_eq!(r.ack(), "AA", "{org}: {:?}", r.codes());
        assert!(
            !r.codes().iter().any(|c| c == "P-005"),
            "{org}: {:?}",
            r.codes()
        );
    }
    // A third organisation, which no grant names, gets the warning (and the archive still
    // accepts: it is a warning).
    let r = send(KOKEILUMAKI, 9).await;
    assert_eq!(r.ack(), "AA");
    assert!(r.codes().iter().any(|c| c == "P-005"), "{:?}", r.codes());
    server.stop().await;
}

#[test]
fn the_register_use_right_case_names_both_parties_and_reports_render_in_swedish_and_finnish() {
    let tmp = tempfile::tempdir().unwrap();
    for lang in ["sv", "fi"] {
        let (code, out) = sim(
            &[
                "run",
                "--suite",
                "deployment-test",
                "--self-drive",
                "--report-dir",
                lang,
                "--lang",
                lang,
            ],
            tmp.path(),
        );
        assert_eq!(code, 0, "{out}");
        let html = std::fs::read_to_string(tmp.path().join(lang).join("report.html")).unwrap();
        assert!(html.contains(&format!(r#"<html lang="{lang}">"#)));
        let cases = kanta_sim::cases::embedded().unwrap();
        let koe2 = cases.iter().find(|c| c.id == "SIM-KOE-02").unwrap();
        let l = <Lang as clap::ValueEnum>::from_str(lang, false).unwrap();
        assert!(html.contains(koe2.title(l)), "{lang}");
        assert!(html.contains(kanta_sim::cases::disclaimer(l)), "{lang}");
        let word = if lang == "sv" {
            "förtestrapport"
        } else {
            "esitestausraportti"
        };
        assert!(html.contains(word), "{lang}");
    }
    // The deployment test runs in production: the message and its acknowledgement say P.
    let ev = tmp.path().join("sv/evidence/01-SIM-KOE-01");
    for f in [
        "01-relationship-request.xml",
        "01-relationship-response.xml",
    ] {
        let text = std::fs::read_to_string(ev.join(f)).unwrap();
        assert!(text.contains(r#"processingCode code="P""#), "{f}: {text}");
    }
}

#[tokio::test]
async fn the_report_to_kela_names_producer_and_organiser_in_each_language() {
    let server = start_with(kit("onboarding"), |c| {
        c.archivist.listen = Some("127.0.0.1:0".parse().unwrap());
        c.archivist.deployment_case = "SIM-KOE-02".into();
    })
    .await;
    // The producer archives the case's documents into the organiser's register.
    let interactions = kanta_sim::config::Config::builtin()
        .unwrap()
        .archive
        .interactions;
    let c = ReferenceClient::new(
        &kit("onboarding").0,
        SIMULAATIOHOIVA,
        server.addr(),
        interactions,
    )
    .unwrap();
    for (n, doc) in [Metadata::client_relationship_example, |o: &str, p: &str| {
        Metadata::client_document_example(o, p, "99900000011")
    }]
    .into_iter()
    .enumerate()
    {
        let mut meta = doc(&format!("{SIMULAATIOHOIVA}.95.78.{n}"), "020290-951T");
        meta.custodian = SIMULAATIOHOIVA.to_owned();
        meta.organiser = Some(TESTILA.to_owned());
        let signing = if n == 0 {
            Signing::System
        } else {
            Signing::Professional("99900000011".into())
        };
        let r = c.archive(&meta, &signing).await.unwrap();
        assert_eq!(r.ack(), "AA", "{:?}", r.codes());
    }
    let view = format!("http://{}", server.handle.bound.archivist.unwrap());
    for (lang, producer, organiser, checklist) in [
        (
            "sv",
            "Tjänsteproducent",
            "Anordnare i vars register",
            "Testilä välfärdsområde",
        ),
        (
            "fi",
            "Palvelujen tuottaja",
            "Järjestäjä, jonka rekisteriin",
            "Testilän hyvinvointialue",
        ),
    ] {
        let url = format!("{view}/report?org={SIMULAATIOHOIVA}&lang={lang}&person=020290-951T");
        let (status, body) = tokio::task::spawn_blocking(move || http_get(&url))
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(producer) && body.contains(organiser),
            "{lang}: {body}"
        );
        assert!(body.contains("Simulaatiohoiva Oy"), "{lang}");
        assert!(body.contains(checklist), "{lang}: the organiser by name");
        // Checklist (a) found both documents in the organiser's register.
        let a = body
            .split("id=\"report-to-kela\"")
            .nth(1)
            .unwrap_or_default();
        assert!(a.matches("95.78.").count() >= 2, "{lang}: {a}");
    }
    server.stop().await;
}

/// Readiness data that cannot be read stops `serve` before anything is opened: exit 2, the
/// file and line named, no data directory left behind.
#[test]
fn bad_readiness_data_is_refused_at_start_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.toml"),
        "[[organisation]]\noid = \"1.2.246.10.99900016.10.0\"\nsytem = \"certified\"\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("cfg.toml"),
        "[onboarding]\nfile = \"bad.toml\"\n",
    )
    .unwrap();
    let kit_dir = kit("onboarding").0.to_str().unwrap().to_owned();
    let (code, out) = sim(
        &[
            "serve",
            "--config",
            "cfg.toml",
            "--certs",
            &kit_dir,
            "--data",
            "data",
            "--listen",
            "127.0.0.1:0",
        ],
        tmp.path(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad.toml") && out.contains("line 3"), "{out}");
    assert!(out.contains("unknown field `sytem`"), "{out}");
    assert!(!tmp.path().join("data").exists());
}
