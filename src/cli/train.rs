//! `kanta-sim train deployment-test|onboarding`: the guided rehearsals for trainers, in
//! Finnish, Swedish or English.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use time::OffsetDateTime;

use super::{Failure, exit};
use crate::config::Config;
use crate::deployment::{checklist_a, checklist_b, recorded_from, report_due};
use crate::lang::{Lang, Tr};
use crate::testcase::run::{DriveSetup, Progress, RunOptions, drive_against};
use crate::training::{Break, STEPS};

/// `train` arguments.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct TrainArgs {
    /// What to rehearse: `deployment-test` (the test itself) or `onboarding` (the whole road
    /// to production, ending in the deployment test).
    pub what: String,
    /// Make the rehearsal fail on purpose (repeatable). deployment-test:
    /// expired-certificate, missing-document, mismatching-field, late-report. onboarding:
    /// service-description-not-accepted, not-in-sote-register, expired-server-certificate,
    /// system-not-certified, no-archivist, test-not-agreed.
    #[arg(long = "break")]
    pub breaks: Vec<String>,
    /// fi, sv or en (default: from the locale, English otherwise).
    #[arg(long, value_enum)]
    pub lang: Option<crate::lang::Lang>,
    /// Do not wait for Enter between steps.
    #[arg(long)]
    pub no_pause: bool,
    /// Keep the archive and the archivist's view up after the rehearsal until Ctrl-C (or
    /// SIGTERM), whatever standard input is, so every printed link can be opened.
    #[arg(long)]
    pub serve: bool,
    /// Keep the kit and data here.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// The archivist view's address (loopback).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = crate::client::listen_addr)]
    pub archivist_listen: std::net::SocketAddr,
    /// Saturdays count as working days.
    #[arg(long)]
    pub count_saturdays: bool,
}

/// The switches `given` by name, or exit 2 naming the valid ones.
fn named<T: Copy>(given: &[String], all: &[(T, &str)], what: &str) -> Result<Vec<T>, Failure> {
    given
        .iter()
        .map(|g| {
            all.iter()
                .find(|(_, n)| n == g)
                .map(|(x, _)| *x)
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "--break {g:?}: train {what} breaks are {}",
                        all.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
                    ))
                })
        })
        .collect()
}

/// Waits for Enter (off the async workers, so a signal still ends the rehearsal).
async fn pause(enabled: bool, prompt: &str) {
    if enabled {
        eprint!("\n  [Enter] {prompt} … ");
        let _ = std::io::stderr().flush();
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        })
        .await;
    }
}

/// Runs the guided deployment-test rehearsal; exit 0 when it passed, 3 when it failed (as it
/// should with `--break`).
pub(super) fn run(args: TrainArgs, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
    let lang = args.lang.unwrap_or_else(Lang::from_locale);
    let (deployment_breaks, onboarding_breaks) = match args.what.as_str() {
        "deployment-test" => (
            named(
                &args.breaks,
                &Break::ALL.map(|(b, n, _)| (b, n)),
                "deployment-test",
            )?,
            Vec::new(),
        ),
        "onboarding" => (
            Vec::new(),
            named(
                &args.breaks,
                &crate::onboarding::Break::ALL.map(|(b, n, _)| (b, n)),
                "onboarding",
            )?,
        ),
        other => {
            return Err(Failure::usage(format!(
                "train {other:?}: what to rehearse is deployment-test or onboarding"
            )));
        }
    };
    if !args.archivist_listen.ip().is_loopback() {
        return Err(Failure::usage(
            "--archivist-listen must be a loopback address",
        ));
    }
    let tmp;
    let base = match &args.keep {
        Some(k) => k.clone(),
        None => {
            tmp = crate::testcase::run::fresh_data_dir().map_err(Failure::internal)?;
            tmp.path().to_owned()
        }
    };
    let kit = base.join("certs");
    crate::testcase::run::ensure_kit(&kit).map_err(Failure::internal)?;
    let org = crate::testcase::run::DEFAULT_ORG;
    let mut config = Config::builtin().map_err(Failure::internal)?;
    config.server.listen = "127.0.0.1:0".parse().map_err(Failure::internal)?;
    config.server.diagnostic_listen = None;
    config.tls.certs_dir = kit.clone();
    config.data.dir = base.join("data");
    let mut config = config.with_deployment_profile();
    config.archivist.listen = Some(args.archivist_listen);
    config.archivist.count_saturdays = args.count_saturdays;
    let export = base.join("client-system-export.toml");
    config.archivist.client_system_export = Some(export.clone());
    let case = crate::cases::embedded()
        .map_err(Failure::internal)?
        .into_iter()
        .find(|c| c.id == config.archivist.deployment_case)
        .ok_or_else(|| Failure::internal("the deployment-test case is missing"))?;
    // SIGINT or SIGTERM ends the rehearsal at any point; returning drops the archive and
    // the temporary directory (unless --keep), so nothing is left behind.
    let onboarding = args.what == "onboarding";
    let mut readiness = None;
    if onboarding {
        // The organisation's readiness as the breaks leave it, for the walk and the view.
        let mut data = crate::onboarding::Onboarding::bundled().map_err(Failure::internal)?;
        for r in data.organisation.iter_mut().filter(|r| r.oid == org) {
            for b in &onboarding_breaks {
                b.apply(r);
            }
        }
        let file = base.join("onboarding.toml");
        std::fs::write(&file, toml::to_string(&data).map_err(Failure::internal)?)
            .map_err(Failure::internal)?;
        config.onboarding.file = Some(file);
        readiness = data.get(org).cloned();
    }
    let how = How {
        lang,
        breaks: deployment_breaks,
        onboarding: readiness.map(|r| (onboarding_breaks, r)),
    };
    rt.block_on(async {
        let done = tokio::select! {
            r = rehearse(&args, &how, config, case, &base, &kit, org) => r?,
            () = super::serve::wait_for_signal() => {
                eprintln!("\nkanta-sim: rehearsal interrupted{}", if args.keep.is_some() { "" } else { "; temporary data removed" });
                return Ok(exit::INTERRUPTED);
            }
        };
        // The rehearsal is over: a signal now only ends the browsing, the verdict stands.
        let interactive = !args.no_pause && std::io::stdin().is_terminal();
        if args.serve {
            eprintln!("{} ({}); Ctrl-C.", say(lang, "browse"), done.home);
            super::serve::wait_for_signal().await;
        } else if interactive {
            eprintln!("{} ({}).", say(lang, "browse"), done.home);
            tokio::select! {
                () = pause(true, "ends the rehearsal") => {}
                () = super::serve::wait_for_signal() => {}
            }
        } else {
            eprintln!("({})", say(lang, "stops"));
        }
        done.app.shutdown().await;
        Ok(if done.passed { exit::OK } else { exit::FAILED })
    })
}

/// What the rehearsal is asked for, read from the arguments.
struct How {
    lang: Lang,
    /// Deployment-test breaks.
    breaks: Vec<Break>,
    /// An onboarding walk first, with its breaks and the readiness they leave.
    onboarding: Option<(Vec<crate::onboarding::Break>, crate::onboarding::Readiness)>,
}

/// The rehearsal's own words.
fn say(lang: Lang, key: &str) -> &'static str {
    let t = |fi, sv, en| Tr { fi, sv, en }.get(lang);
    match key {
        "who" => t("Kuka", "Vem", "Who"),
        "reality" => t("Todellisuudessa", "I verkligheten", "In reality"),
        "here" => t("Täällä", "Här", "Here"),
        "look" => t("Katso", "Titta på", "Look at"),
        "time" => t("Kesto", "Tid", "Time"),
        "source" => t("Lähde", "Källa", "Source"),
        "blocks" => t(
            "Puuttuessa estää",
            "Om den saknas blockeras",
            "Missing, it blocks",
        ),
        "todo" => t(
            "Todellisuudessa tee näin",
            "Gör så här i verkligheten",
            "What to do in reality",
        ),
        "title" => t(
            "Käyttöönottokokeen harjoitus — kanta-sim, simulaattori, ei Kanta-palvelu.",
            "Övning i ibruktagningsprov — kanta-sim, en simulator, inte Kanta-tjänsten.",
            "Deployment-test rehearsal (käyttöönottokoe) — kanta-sim, a simulator, not the Kanta service.",
        ),
        "road" => t(
            "Tie tuotantoon (käyttöönotto) — kanta-sim, simulaattori, ei Kanta-palvelu. Koko tie kestää noin 6 kuukautta, sertifioitaessa noin vuoden.",
            "Vägen till produktion (införande) — kanta-sim, en simulator, inte Kanta-tjänsten. Hela vägen tar cirka 6 månader, omkring ett år med certifiering.",
            "The road to production (käyttöönotto) — kanta-sim, a simulator, not the Kanta service. The whole road takes about 6 months, about a year with certification on the way.",
        ),
        "broken" => t(
            "Rikottu tarkoituksella",
            "Avsiktligt trasigt",
            "Broken on purpose",
        ),
        "archive" => t("Arkisto", "Arkiv", "Archive"),
        "view" => t(
            "Arkistonhoitajan näkymä",
            "Arkivariens vy",
            "Archivist's view",
        ),
        "go-on" => t("jatkaa", "fortsätter", "to go on"),
        "passed" => t(
            "Harjoitus MENI LÄPI: organisaatio voi aloittaa tuotantokäytön",
            "Övningen LYCKADES: organisationen kan börja använda tjänsten i produktion",
            "Rehearsal PASSED: the organisation may start production use",
        ),
        "failed" => t(
            "Harjoitus EPÄONNISTUI, kuten se todellisuudessakin epäonnistuisi",
            "Övningen MISSLYCKADES, så som den skulle i verkligheten",
            "Rehearsal FAILED, as it would in reality",
        ),
        "stopped" => t(
            "Tie pysähtyy tähän; myöhemmät vaiheet odottavat",
            "Vägen stannar här; de senare stegen väntar",
            "The road stops here; the later steps wait",
        ),
        "unavailable" => t(
            "ei käytettävissä, ennen kuin Kanta-arkistonhoitaja on nimetty",
            "inte tillgänglig förrän en Kanta-arkivarie är utsedd",
            "not available until a Kanta archivist is named",
        ),
        "approval" => t(
            "Kelan hyväksymisviestissä on arkistonhoitajan näkymän osoite",
            "FPA:s meddelande om godkännande innehåller adressen till arkivariens vy",
            "Kela's approval message gives the archivist view's address",
        ),
        "no-approval" => t(
            "ei hyväksymisviestiä, joten ei osoitetta arkistonhoitajan näkymään",
            "inget meddelande om godkännande, alltså ingen adress till arkivariens vy",
            "no approval message, so no address for the archivist's view",
        ),
        "issued" => t(
            "Käyttöönottokokeen tunnus annettu",
            "Beteckning för ibruktagningsprovet utdelad",
            "Issued deployment-test code",
        ),
        "ok" => t("OK", "GODKÄND", "PASSED"),
        "fail" => t("HYLÄTTY", "UNDERKÄND", "FAILED"),
        "timeout" => t("AIKAKATKAISU", "TIDSGRÄNS", "TIMED OUT"),
        "not-run" => t("ei ajettu", "inte körd", "not run"),
        "checklist" => t("tarkistuslista", "checklista", "checklist"),
        "fields" => t("kenttää verrattu", "fält jämförda", "fields compared"),
        "export" => t(
            "asiakastietojärjestelmän vienti (käyttöönottokoesivu aloittaa siitä)",
            "klientdatasystemets export (provsidan börjar från den)",
            "the client system's export (the deployment page starts from it)",
        ),
        "completed" => t("koe tehty", "provet gjort", "test completed"),
        "due" => t("raportti viimeistään", "rapporten senast", "report due"),
        "submitted" => t("lähetetty", "skickad", "submitted"),
        "late" => t(" — MYÖHÄSSÄ", " — FÖRSENAD", " — LATE"),
        "report-page" => t("raporttisivu", "rapportsidan", "report page"),
        "in-archive" => t("arkistossa", "i arkivet", "archive"),
        "in-register" => t("rekisterissä", "i registret", "register"),
        "browse" => t(
            "Arkisto ja arkistonhoitajan näkymä pysyvät auki selattaviksi",
            "Arkivet och arkivariens vy hålls öppna för bläddring",
            "The archive and the archivist's view stay up for browsing",
        ),
        "stops" => t(
            "Arkisto pysähtyy nyt; --serve pitää sen ja arkistonhoitajan näkymän auki selattaviksi.",
            "Arkivet stannar nu; --serve håller det och arkivariens vy öppna för bläddring.",
            "The archive stops now; --serve keeps it and the archivist's view up for browsing.",
        ),
        _ => "",
    }
}

/// Connects as the kit's certificate `role` and asks for `/health`: what the archive made of
/// it, from its exchange log.
async fn connect_as(app: &crate::app::App, kit: &std::path::Path, role: &str) -> String {
    let mut rx = app.server().subscribe();
    let answer = match crate::client::reference::kit_tls_client(kit, role) {
        Ok(c) => c
            .request(
                app.bound.listen,
                "GET",
                "/health",
                None,
                bytes::Bytes::new(),
            )
            .await
            .map(|r| r.status)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let logged = tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|ex| ex.record.summary.clone());
    match (answer, logged) {
        (_, Some(summary)) => format!("{role}: {summary}"),
        (Ok(status), None) => format!("{role}: HTTP {status}"),
        (Err(e), None) => format!("{role}: {e}"),
    }
}

/// The road to production, step by step: what it takes in reality, who is responsible, how
/// long the pages say it takes, what the simulator shows; the first missing prerequisite
/// stops the road with what to do about it. `true` when the road reaches the test.
#[allow(clippy::too_many_arguments)]
async fn walk(
    app: &crate::app::App,
    readiness: &crate::onboarding::Readiness,
    breaks: &[crate::onboarding::Break],
    lang: Lang,
    kit: &std::path::Path,
    view: &str,
    q: &str,
    interactive: bool,
) -> Result<bool, Failure> {
    use crate::onboarding::{self as ob, Item, State};
    outln!("{}", say(lang, "road"));
    if !breaks.is_empty() {
        let names: Vec<&str> = ob::Break::ALL
            .iter()
            .filter(|(b, ..)| breaks.contains(b))
            .map(|(_, n, _)| *n)
            .collect();
        outln!("{}: {}", say(lang, "broken"), names.join(", "));
    }
    outln!("{}: {view}/onboarding?{q}", say(lang, "look"));
    let register = crate::identity::SoteRegister::bundled().map_err(Failure::internal)?;
    let role = readiness.connection_role();
    let connection = ob::kit_certificate(kit, &role);
    let assessed = ob::assess(
        readiness,
        &register,
        connection.as_ref(),
        OffsetDateTime::now_utc(),
        lang,
    );
    let mut connected: Option<String> = None;
    for (i, a) in assessed.iter().enumerate() {
        let s = a.step;
        outln!("\n{}. {}", i + 1, s.title.get(lang));
        outln!(
            "  {}: {}\n  {}: {}\n  {}: {}\n  {}: {}\n  {}: {}",
            say(lang, "who"),
            s.responsible
                .iter()
                .map(|p| p.name(lang))
                .collect::<Vec<_>>()
                .join(", "),
            say(lang, "time"),
            s.time.get(lang),
            say(lang, "source"),
            ob::sources(s).join("; "),
            say(lang, "reality"),
            s.reality.get(lang),
            say(lang, "here"),
            s.simulator.get(lang)
        );
        if s.item == Item::DeploymentTest {
            // The test itself follows: the deployment-test rehearsal.
            return Ok(true);
        }
        match s.item {
            // One connection shows both: the archive looks the certificate's organisation
            // up in the register and checks the certificate itself.
            Item::SoteRegister | Item::Certificates => {
                if connected.is_none() {
                    connected = Some(connect_as(app, kit, &role).await);
                }
                outln!("  → {}", connected.as_deref().unwrap_or_default());
            }
            Item::ServiceDescription if a.state == State::Done => {
                outln!("  → {}: {view}/?{q}", say(lang, "approval"));
            }
            Item::ServiceDescription => outln!("  → {}", say(lang, "no-approval")),
            Item::Archivist if a.state == State::Done => outln!("  → {view}/?{q}"),
            Item::Archivist => outln!("  → {view}/?{q}: {}", say(lang, "unavailable")),
            _ => {}
        }
        match a.state {
            State::Done => outln!("  ✔ {}", a.found),
            // Not ready yet is not ready: the test needs every prerequisite done.
            State::InProgress | State::Missing => {
                outln!(
                    "  ✘ {}\n  {}: {}\n  {}: {}\n  {}.",
                    a.found,
                    say(lang, "todo"),
                    s.todo.get(lang),
                    say(lang, "blocks"),
                    s.blocks.get(lang),
                    say(lang, "stopped")
                );
                return Ok(false);
            }
        }
        pause(interactive, say(lang, "go-on")).await;
    }
    Ok(true)
}

/// A finished rehearsal whose archive and view are still up.
struct Rehearsed {
    app: crate::app::App,
    /// The view's home link.
    home: String,
    passed: bool,
}

async fn rehearse(
    args: &TrainArgs,
    how: &How,
    config: Config,
    mut case: crate::cases::TestCase,
    base: &std::path::Path,
    kit: &std::path::Path,
    org: &str,
) -> Result<Rehearsed, Failure> {
    let interactive = !args.no_pause && std::io::stdin().is_terminal();
    let broken = |b: Break| how.breaks.contains(&b);
    let lang = how.lang;
    let export = base.join("client-system-export.toml");
    {
        let handle = crate::app::start(config.clone())
            .await
            .map_err(Failure::usage)?;
        let view = handle
            .bound
            .archivist
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let mut q = format!("org={org}&lang={}", lang.code());
        if let Some((breaks, readiness)) = &how.onboarding {
            let walked = walk(
                &handle,
                readiness,
                breaks,
                lang,
                kit,
                &view,
                &q,
                interactive,
            )
            .await?;
            if !walked {
                return Ok(Rehearsed {
                    app: handle,
                    home: format!("{view}/onboarding?{q}"),
                    passed: false,
                });
            }
        }
        outln!("\n{}", say(lang, "title"));
        outln!(
            "{}: https://{}/archive   {}: {view}/?{q}",
            say(lang, "archive"),
            handle.bound.listen,
            say(lang, "view")
        );
        if !how.breaks.is_empty() {
            let names: Vec<&str> = Break::ALL
                .iter()
                .filter(|(b, ..)| broken(*b))
                .map(|(_, n, _)| *n)
                .collect();
            outln!("{}: {}", say(lang, "broken"), names.join(", "));
        }
        let say_step = |i: usize, q: &str| {
            let s = &STEPS[i];
            outln!(
                "\n{}\n  {}: {}\n  {}: {}\n  {}: {}",
                s.title.get(lang),
                say(lang, "who"),
                s.who.get(lang),
                say(lang, "reality"),
                s.reality.get(lang),
                say(lang, "here"),
                s.simulator.get(lang)
            );
            if let Some(l) = s.link {
                outln!("  {}: {view}{l}?{q}", say(lang, "look"));
            }
        };
        say_step(0, &q);
        pause(interactive, say(lang, "go-on")).await;
        say_step(1, &q);
        let ledger = crate::ledger::Ledger::open(&config.data.dir).map_err(Failure::internal)?;
        let issued = ledger
            .issue(
                crate::ledger::Pool::DeploymentTest,
                "Testilän hyvinvointialue",
                Some(org),
                "käyttöönottokoe",
                1,
                OffsetDateTime::now_utc(),
            )
            .map_err(Failure::internal)?;
        let person = issued[0].code.clone();
        outln!(
            "  {} {person} → Testilän hyvinvointialue (kanta-sim ids list --data {}).",
            say(lang, "issued"),
            config.data.dir.display()
        );
        // Every page from here on is about this person.
        q.push_str(&format!("&person={person}"));
        for s in case.steps.iter_mut() {
            if s.person.is_some() {
                s.person = Some(person.clone());
            }
        }
        case.persons = vec![person.clone()];
        pause(interactive, say(lang, "go-on")).await;
        say_step(2, &q);
        let mut certificates = BTreeMap::new();
        if broken(Break::ExpiredCertificate) {
            certificates.insert(org.to_owned(), "bad:expired".to_owned());
        }
        let mut skips = BTreeSet::new();
        if broken(Break::MissingDocument) {
            skips.insert((case.id.clone(), "client-document".to_owned()));
        }
        let register = crate::identity::SoteRegister::bundled().map_err(Failure::internal)?;
        let trust = crate::pki::TrustStore::from_kit(kit).map_err(Failure::internal)?;
        let setup = DriveSetup {
            kit,
            register: &register,
            trust: &trust,
            certificates: &certificates,
        };
        let opts = RunOptions {
            cases: vec![case.clone()],
            suite: "deployment-test".into(),
            self_drive: true,
            config: config.clone(),
            step_timeout: std::time::Duration::from_secs(10),
            orgs: Vec::new(),
            deviations: BTreeMap::new(),
            skips,
            seed: 1,
            clock: None,
            // The rehearsal prints each step itself, in its language.
            progress: Progress::Quiet,
        };
        let runs = drive_against(handle.server(), &setup, &opts).await;
        for r in &runs {
            for (step, o) in r.case.steps.iter().zip(&r.steps) {
                let why = crate::finding::Finding::one_line(&o.reasons);
                let verdict = match o.verdict {
                    crate::testcase::engine::Verdict::Passed => say(lang, "ok"),
                    crate::testcase::engine::Verdict::Failed => say(lang, "fail"),
                    crate::testcase::engine::Verdict::TimedOut => say(lang, "timeout"),
                    crate::testcase::engine::Verdict::NotRun => say(lang, "not-run"),
                };
                outln!(
                    "  {verdict:<9} {}{}",
                    step.title(lang),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                );
            }
        }
        pause(interactive, say(lang, "go-on")).await;
        say_step(3, &q);
        let all: Vec<String> = register
            .organisations()
            .iter()
            .map(|o| o.oid.clone())
            .collect();
        let a = checklist_a(&case, org, Some(&person), &all, &handle.store)
            .map_err(Failure::internal)?;
        for d in &a.documents {
            outln!(
                "  {} {:<45} {} {}  {} {}  {}",
                if d.in_archive && d.in_register {
                    "✔"
                } else {
                    "✘"
                },
                case.steps
                    .iter()
                    .find(|st| st.id == d.step)
                    .map_or(d.title.as_str(), |st| st.title(lang)),
                say(lang, "in-archive"),
                d.in_archive,
                say(lang, "in-register"),
                d.in_register,
                d.found
                    .first()
                    .map(|m| m.document_oid.as_str())
                    .unwrap_or("-")
            );
        }
        outln!(
            "  {} (a): {}",
            say(lang, "checklist"),
            say(lang, if a.passed() { "ok" } else { "fail" })
        );
        pause(interactive, say(lang, "go-on")).await;
        say_step(4, &q);
        let found: Vec<_> = a
            .documents
            .iter()
            .filter_map(|d| d.found.first().cloned())
            .collect();
        let mut recorded = recorded_from(&found);
        if broken(Break::MismatchingField)
            && let Some(d) = recorded.documents.last_mut()
        {
            d.effective_time = Some("20261231235959+0200".into());
        }
        std::fs::write(&export, toml::to_string(&recorded).unwrap_or_default())
            .map_err(Failure::internal)?;
        let b = checklist_b(&recorded, org, &handle.store).map_err(Failure::internal)?;
        for f in b.fields.iter().filter(|f| !f.matches) {
            outln!(
                "  ✘ {} {}: client system {:?}, archive {:?}",
                f.oid,
                f.field,
                f.recorded,
                f.archived
            );
        }
        outln!(
            "  {} (b): {} ({} {}); {}: {}",
            say(lang, "checklist"),
            say(lang, if b.passed() { "ok" } else { "fail" }),
            b.fields.len(),
            say(lang, "fields"),
            say(lang, "export"),
            export.display()
        );
        pause(interactive, say(lang, "go-on")).await;
        say_step(5, &q);
        let today = OffsetDateTime::now_utc().date();
        let due = report_due(today, args.count_saturdays);
        let submitted = if broken(Break::LateReport) {
            today + time::Duration::days(5)
        } else {
            today
        };
        let late = submitted > due.due;
        outln!(
            "  {} {today}; {} {}; {} {submitted}{}",
            say(lang, "completed"),
            say(lang, "due"),
            due.due,
            say(lang, "submitted"),
            if late { say(lang, "late") } else { "" }
        );
        let report_q = form_urlencoded::Serializer::new(String::new())
            .append_pair("submitted", &submitted.to_string())
            .append_pair("b", if b.passed() { "passed" } else { "failed" })
            .finish();
        outln!(
            "  {}: {view}/report?{q}&{report_q}",
            say(lang, "report-page")
        );
        let passed = runs
            .iter()
            .all(|r| r.verdict() == crate::testcase::engine::Verdict::Passed)
            && a.passed()
            && b.passed()
            && !late;
        outln!(
            "\n{}.",
            if passed {
                say(lang, "passed")
            } else {
                say(lang, "failed")
            }
        );
        Ok(Rehearsed {
            app: handle,
            home: format!("{view}/?{q}"),
            passed,
        })
    }
}
