//! Declarative test cases (`testcases/<suite>/<ID>.toml`), read once into typed values and
//! linted. A case is an ordered list of steps: what the system under test must send (or
//! which certificate it must connect with), the outcome the archive must give (accepted, or
//! rejected with a rule id), and checks on the archive's state afterwards. Ids are our own
//! `SIM-…`: a reconstruction from public material, never Kela's list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::message::usecase::QueryKind;

/// The disclaimer every report carries.
pub const DISCLAIMER_EN: &str = "This is a pre-test result from kanta-sim, a simulator of the Kanta Client Data Archive for Social Welfare. It is not a statement by Kela, and passing it does not replace Kela's joint testing or the deployment test. Test case ids (SIM-…) are kanta-sim's own.";
/// The same in Finnish.
pub const DISCLAIMER_FI: &str = "Tämä on kanta-sim-simulaattorin esitestauksen tulos, ei Kelan lausunto. Sen läpäiseminen ei korvaa Kelan yhteistestausta eikä käyttöönottokoetta. Testitapausten tunnukset (SIM-…) ovat kanta-simin omia.";

/// The same in Swedish.
pub const DISCLAIMER_SV: &str = "Detta är ett förtestresultat från kanta-sim, en simulator av Kanta-tjänsten Klientdataarkivet för socialvården, inte ett uttalande av FPA. Att klara det ersätter inte FPA:s samtestning eller ibruktagningsprovet. Testfallens beteckningar (SIM-…) är kanta-sims egna.";

/// The disclaimer in `lang`.
pub fn disclaimer(lang: crate::lang::Lang) -> &'static str {
    match lang {
        crate::lang::Lang::Fi => DISCLAIMER_FI,
        crate::lang::Lang::Sv => DISCLAIMER_SV,
        crate::lang::Lang::En => DISCLAIMER_EN,
    }
}

/// The suites, in the order a supplier meets them.
pub const SUITES: &[&str] = &[
    "pre-test",
    "joint-test",
    "negative",
    "resilience",
    "deployment-test",
];

/// What a step asks of the system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Archive a first version (RCMR_IN200002FI01).
    Archive,
    /// Archive a new version of a labelled document.
    NewVersion,
    /// Invalidate a labelled document.
    Invalidate,
    /// Run a query.
    Query,
    /// Open a TLS connection with a given certificate (and ask for `/health`).
    Connect,
    /// Put the step's `faults` in force on the archive (none: clear them) for the rest of
    /// the case; nothing is asked of the system under test.
    FaultPlan,
}

impl Action {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Archive => "archive",
            Self::NewVersion => "new-version",
            Self::Invalidate => "invalidate",
            Self::Query => "query",
            Self::Connect => "connect",
            Self::FaultPlan => "fault-plan",
        }
    }
}

/// Which kind of document an archiving step sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocKind {
    /// Asiakkuusasiakirja, SP1, document group 1, system signature.
    ClientRelationship,
    /// Phase-II asiakasasiakirja, SP17, document group 5, professional signature.
    ClientDocument,
}

impl DocKind {
    /// Its document group code.
    pub fn group(self) -> &'static str {
        match self {
            Self::ClientRelationship => "1",
            Self::ClientDocument => "5",
        }
    }

    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ClientRelationship => "a client-relationship document (asiakkuusasiakirja, SP1)",
            Self::ClientDocument => "a client document (asiakasasiakirja, SP17)",
        }
    }
}

/// The outcome a step expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// AA (or, for `connect`, a completed handshake and HTTP 200).
    Accepted,
    /// AE/AR, a fault or a refused handshake naming `rule`.
    Rejected,
}

/// How the system under test must behave while the archive fails (a resilience step): judged
/// from every exchange of the step, their timings and ids, not from one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// The archive is unavailable for a while; the document must arrive once it is back,
    /// accepted once.
    DeliverAfterBreak,
    /// The acknowledgement of an archived document is lost; the resend must be the same
    /// message (W-016) or the same document version (L-001), and the document stored once.
    ResendAfterLostAck,
    /// A 503 with `Retry-After`; the message must not come again sooner.
    HonourRetryAfter,
    /// A slow answer; the same message must not be sent on a second connection meanwhile.
    NoParallelSends,
}

impl Behaviour {
    /// What is expected, for the report and the live instructions.
    pub fn expected(self) -> &'static str {
        match self {
            Self::DeliverAfterBreak => {
                "the archive is unavailable for a while: keep the document queued and send it again (with a growing wait) until the archive answers; it must be accepted once"
            }
            Self::ResendAfterLostAck => {
                "the archive stores the document but its acknowledgement is lost: send the same message again (same message id, or the same document id and version) and read W-016 or L-001 as delivered; the document must be stored once"
            }
            Self::HonourRetryAfter => {
                "the archive answers HTTP 503 with Retry-After: send the message again, but not before the time it asks"
            }
            Self::NoParallelSends => {
                "the archive answers slowly: wait for the answer (or give up on the connection) before sending the same message again; never send it on two connections at once"
            }
        }
    }
}

/// How the reference client departs from a correct message when it drives a negative case
/// (in a live run, the system under test is asked to do the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deviation {
    /// No signature at all.
    Unsigned,
    /// A signature value that does not verify.
    BadSignature,
    /// A personal identity code outside the test series.
    RealIdentityCode,
    /// The CDA has no setId.
    MissingSetId,
    /// Another receiver device.
    WrongReceiver,
    /// SP17 for a client-relationship document (or SP1 for a client document).
    WrongServiceRequest,
    /// The MIME part's Content-ID is not the document OID.
    ContentIdMismatch,
    /// A new version that skips a version number.
    VersionGap,
    /// A query without the client id it needs.
    NoClientId,
    /// A display form that is not `div.soc-document` XHTML.
    NotXhtml,
    /// realmCode other than FI.
    RealmNotFi,
    /// An invalidation without a reason.
    NoReason,
    /// Never send a message again (no queue, no retry).
    NoRetry,
    /// After a lost answer, send the content again as a new document.
    ResendAsNew,
    /// Resend after a 503 without waiting for its Retry-After.
    IgnoreRetryAfter,
    /// Send the same message again on a second connection while the first waits.
    ParallelResend,
}

impl Deviation {
    /// Every deviation, in the order `--help` lists them.
    pub const ALL: [Deviation; 16] = [
        Self::Unsigned,
        Self::BadSignature,
        Self::RealIdentityCode,
        Self::MissingSetId,
        Self::WrongReceiver,
        Self::WrongServiceRequest,
        Self::ContentIdMismatch,
        Self::VersionGap,
        Self::NoClientId,
        Self::NotXhtml,
        Self::RealmNotFi,
        Self::NoReason,
        Self::NoRetry,
        Self::ResendAsNew,
        Self::IgnoreRetryAfter,
        Self::ParallelResend,
    ];

    /// Its name on the command line and in reports (`bad-signature`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::BadSignature => "bad-signature",
            Self::RealIdentityCode => "real-identity-code",
            Self::MissingSetId => "missing-set-id",
            Self::WrongReceiver => "wrong-receiver",
            Self::WrongServiceRequest => "wrong-service-request",
            Self::ContentIdMismatch => "content-id-mismatch",
            Self::VersionGap => "version-gap",
            Self::NoClientId => "no-client-id",
            Self::NotXhtml => "not-xhtml",
            Self::RealmNotFi => "realm-not-fi",
            Self::NoReason => "no-reason",
            Self::NoRetry => "no-retry",
            Self::ResendAsNew => "resend-as-new",
            Self::IgnoreRetryAfter => "ignore-retry-after",
            Self::ParallelResend => "parallel-resend",
        }
    }

    /// The deviation named `name`.
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// What to tell the tester of a live run.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unsigned => "leave the document unsigned",
            Self::BadSignature => "corrupt the signature value",
            Self::RealIdentityCode => "use an identity code outside the 900–999 test series",
            Self::MissingSetId => "leave out the document's setId",
            Self::WrongReceiver => "address the message to another receiver device",
            Self::WrongServiceRequest => "use the other document group's service request",
            Self::ContentIdMismatch => {
                "give the MIME part a Content-ID other than the document OID"
            }
            Self::VersionGap => "skip a version number",
            Self::NoClientId => "leave out the client id",
            Self::NotXhtml => "send a display form that is not div.soc-document XHTML",
            Self::RealmNotFi => "set realmCode to something other than FI",
            Self::NoReason => "give no reason",
            Self::NoRetry => "send each message once and never again, whatever happens",
            Self::ResendAsNew => {
                "when an answer is lost, send the content again as a new document (new id)"
            }
            Self::IgnoreRetryAfter => "after a 503, send again at once, ignoring Retry-After",
            Self::ParallelResend => {
                "when an answer is slow, send the same message again on a second connection"
            }
        }
    }
}

/// A check on the archive's state after a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// The labelled version has this status (`active`, `replaced`, `invalidated`).
    Status {
        /// Label.
        doc: String,
        /// Expected status.
        status: String,
    },
    /// The labelled document's set holds this many versions.
    Versions {
        /// Label.
        doc: String,
        /// Expected count.
        count: u32,
    },
    /// Whether a normal query by `org` finds the labelled version.
    Visible {
        /// Label.
        doc: String,
        /// The asking organisation.
        org: String,
        /// Expected.
        visible: bool,
    },
    /// The query step's result count.
    QueryTotal {
        /// At least.
        #[serde(default)]
        min: Option<u64>,
        /// Exactly.
        #[serde(default)]
        equals: Option<u64>,
    },
    /// The set's history, as step kinds (`archived`, `replaced`, `invalidated`).
    History {
        /// Label.
        doc: String,
        /// Expected kinds, oldest first.
        kinds: Vec<String>,
    },
    /// The document retrieved by the query step verifies (signatures and certificates).
    RetrievedVerifies,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Id within the case.
    pub id: String,
    /// Finnish title.
    pub title_fi: String,
    /// English title.
    pub title_en: String,
    /// Swedish title (the English one stands in when absent).
    #[serde(default)]
    pub title_sv: Option<String>,
    /// What is asked.
    pub action: Action,
    /// Archive: which document.
    #[serde(default)]
    pub document: Option<DocKind>,
    /// Archive: the client (a 900-series identity code).
    #[serde(default)]
    pub person: Option<String>,
    /// The organisation that must send it (default: the case's).
    #[serde(default)]
    pub org: Option<String>,
    /// Archive into this organiser's register (register use right).
    #[serde(default)]
    pub organiser: Option<String>,
    /// Archive, new version: the label the archived version gets.
    #[serde(default, rename = "as")]
    pub label: Option<String>,
    /// New version, invalidate, document query: the labelled document acted on.
    #[serde(default)]
    pub of: Option<String>,
    /// Query: which.
    #[serde(default)]
    pub query: Option<String>,
    /// Connect: the kit role of the certificate.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Invalidate: the reason the reference client gives.
    #[serde(default)]
    pub reason: Option<String>,
    /// Expected outcome.
    pub expect: Expect,
    /// With `rejected`: the rule id that must be among the findings.
    #[serde(default)]
    pub rule: Option<String>,
    /// Negative cases: how the message departs from a correct one.
    #[serde(default)]
    pub deviation: Option<Deviation>,
    /// Seconds to wait for the system under test (default: the run's).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Checks on the archive afterwards.
    #[serde(default)]
    pub check: Vec<Check>,
    /// Fault-plan steps: the entries to put in force (the keys of a plan's `[[fault]]`;
    /// `org` defaults to the organisation running the case where the kind allows one).
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultSpec>,
    /// Resilience steps: the behaviour judged over the step's exchanges.
    #[serde(default)]
    pub behaviour: Option<Behaviour>,
}

/// The title in `lang`: Finnish, Swedish where written, English.
fn title_in<'a>(lang: crate::lang::Lang, fi: &'a str, sv: Option<&'a str>, en: &'a str) -> &'a str {
    match lang {
        crate::lang::Lang::Fi => fi,
        crate::lang::Lang::Sv => sv.unwrap_or(en),
        crate::lang::Lang::En => en,
    }
}

impl TestCase {
    /// Its title in `lang`.
    pub fn title(&self, lang: crate::lang::Lang) -> &str {
        title_in(
            lang,
            &self.title_fi,
            self.title_sv.as_deref(),
            &self.title_en,
        )
    }
}

impl Step {
    /// Its title in `lang`.
    pub fn title(&self, lang: crate::lang::Lang) -> &str {
        title_in(
            lang,
            &self.title_fi,
            self.title_sv.as_deref(),
            &self.title_en,
        )
    }

    /// The fault plan a `fault-plan` step puts in force for `org`'s run: entries without an
    /// organisation are limited to `org` where their kind allows it (with no `org`, before
    /// anyone has connected, they apply to everyone).
    pub fn fault_plan(
        &self,
        case: &str,
        org: Option<&str>,
    ) -> Result<crate::faults::FaultPlan, crate::faults::FaultPlanError> {
        let specs = self.faults.iter().cloned().enumerate().map(|(i, mut f)| {
            if f.org.is_none() && f.kind.stage() != crate::faults::Stage::Accept {
                f.org = org.map(str::to_owned);
            }
            (i + 1, f)
        });
        crate::faults::FaultPlan::from_specs(specs, &format!("{case}/{}", self.id))
    }

    /// The query kind, when this is a query step.
    pub fn query_kind(&self) -> Option<QueryKind> {
        self.query.as_deref().and_then(QueryKind::parse)
    }
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// `SIM-…` id.
    pub id: String,
    /// Suite.
    pub suite: String,
    /// Finnish title.
    pub title_fi: String,
    /// English title.
    pub title_en: String,
    /// Swedish title (the English one stands in when absent).
    #[serde(default)]
    pub title_sv: Option<String>,
    /// The testing phase it rehearses.
    pub phase: String,
    /// The archive profile (`test-env` or `deployment-test`).
    #[serde(default = "default_profile")]
    pub profile: String,
    /// What it shows, in English.
    #[serde(default)]
    pub summary_en: String,
    /// The organisation whose system runs it (default: the session's).
    #[serde(default)]
    pub org: Option<String>,
    /// Test persons used.
    #[serde(default)]
    pub persons: Vec<String>,
    /// Organisations involved.
    #[serde(default)]
    pub organisations: Vec<String>,
    /// Steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// Where it was read from.
    #[serde(skip)]
    pub source: String,
    /// SHA-256 of its text.
    #[serde(skip)]
    pub sha256: String,
}

fn default_profile() -> String {
    "test-env".into()
}

/// Why cases could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a valid case.
    #[error("{origin}: {source}")]
    Parse {
        /// The file.
        origin: String,
        /// What the parser said, with line and column.
        #[source]
        source: toml::de::Error,
    },
}

/// The cases shipped with the binary, so a run needs no files.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "pre-test/SIM-PRE-01.toml",
        include_str!("../testcases/pre-test/SIM-PRE-01.toml"),
    ),
    (
        "pre-test/SIM-PRE-02.toml",
        include_str!("../testcases/pre-test/SIM-PRE-02.toml"),
    ),
    (
        "pre-test/SIM-PRE-03.toml",
        include_str!("../testcases/pre-test/SIM-PRE-03.toml"),
    ),
    (
        "joint-test/SIM-TC-01.toml",
        include_str!("../testcases/joint-test/SIM-TC-01.toml"),
    ),
    (
        "joint-test/SIM-TC-02.toml",
        include_str!("../testcases/joint-test/SIM-TC-02.toml"),
    ),
    (
        "joint-test/SIM-TC-03.toml",
        include_str!("../testcases/joint-test/SIM-TC-03.toml"),
    ),
    (
        "joint-test/SIM-TC-05.toml",
        include_str!("../testcases/joint-test/SIM-TC-05.toml"),
    ),
    (
        "joint-test/SIM-TC-08.toml",
        include_str!("../testcases/joint-test/SIM-TC-08.toml"),
    ),
    (
        "negative/SIM-NEG-01.toml",
        include_str!("../testcases/negative/SIM-NEG-01.toml"),
    ),
    (
        "negative/SIM-NEG-02.toml",
        include_str!("../testcases/negative/SIM-NEG-02.toml"),
    ),
    (
        "negative/SIM-NEG-03.toml",
        include_str!("../testcases/negative/SIM-NEG-03.toml"),
    ),
    (
        "negative/SIM-NEG-04.toml",
        include_str!("../testcases/negative/SIM-NEG-04.toml"),
    ),
    (
        "negative/SIM-NEG-05.toml",
        include_str!("../testcases/negative/SIM-NEG-05.toml"),
    ),
    (
        "negative/SIM-NEG-06.toml",
        include_str!("../testcases/negative/SIM-NEG-06.toml"),
    ),
    (
        "negative/SIM-NEG-07.toml",
        include_str!("../testcases/negative/SIM-NEG-07.toml"),
    ),
    (
        "negative/SIM-NEG-08.toml",
        include_str!("../testcases/negative/SIM-NEG-08.toml"),
    ),
    (
        "negative/SIM-NEG-09.toml",
        include_str!("../testcases/negative/SIM-NEG-09.toml"),
    ),
    (
        "negative/SIM-NEG-10.toml",
        include_str!("../testcases/negative/SIM-NEG-10.toml"),
    ),
    (
        "negative/SIM-NEG-11.toml",
        include_str!("../testcases/negative/SIM-NEG-11.toml"),
    ),
    (
        "resilience/SIM-RES-01.toml",
        include_str!("../testcases/resilience/SIM-RES-01.toml"),
    ),
    (
        "resilience/SIM-RES-02.toml",
        include_str!("../testcases/resilience/SIM-RES-02.toml"),
    ),
    (
        "resilience/SIM-RES-03.toml",
        include_str!("../testcases/resilience/SIM-RES-03.toml"),
    ),
    (
        "resilience/SIM-RES-04.toml",
        include_str!("../testcases/resilience/SIM-RES-04.toml"),
    ),
    (
        "deployment-test/SIM-KOE-01.toml",
        include_str!("../testcases/deployment-test/SIM-KOE-01.toml"),
    ),
    (
        "deployment-test/SIM-KOE-02.toml",
        include_str!("../testcases/deployment-test/SIM-KOE-02.toml"),
    ),
];

/// Reads one case.
pub fn parse_case(text: &str, origin: &str) -> Result<TestCase, CaseError> {
    let mut c: TestCase = toml::from_str(text).map_err(|e| CaseError::Parse {
        origin: origin.to_owned(),
        source: e,
    })?;
    c.source = origin.to_owned();
    c.sha256 = crate::pki::sha256_hex(text.as_bytes());
    Ok(c)
}

/// The embedded cases, in suite order then id order.
pub fn embedded() -> Result<Vec<TestCase>, CaseError> {
    let mut cases = EMBEDDED
        .iter()
        .map(|(path, text)| parse_case(text, &format!("(embedded) testcases/{path}")))
        .collect::<Result<Vec<_>, _>>()?;
    sort(&mut cases);
    Ok(cases)
}

/// Every `*.toml` under `dir/<suite>/`.
pub fn load_dir(dir: &Path) -> Result<Vec<TestCase>, CaseError> {
    let mut cases = Vec::new();
    let read_dir = |d: &Path| {
        std::fs::read_dir(d).map_err(|source| CaseError::Read {
            path: d.to_owned(),
            source,
        })
    };
    for suite in read_dir(dir)? {
        let suite = suite
            .map_err(|source| CaseError::Read {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if !suite.is_dir() {
            continue;
        }
        for f in read_dir(&suite)? {
            let f = f
                .map_err(|source| CaseError::Read {
                    path: suite.clone(),
                    source,
                })?
                .path();
            if f.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&f).map_err(|source| CaseError::Read {
                    path: f.clone(),
                    source,
                })?;
                cases.push(parse_case(&text, &f.display().to_string())?);
            }
        }
    }
    sort(&mut cases);
    Ok(cases)
}

fn sort(cases: &mut [TestCase]) {
    let rank = |s: &str| SUITES.iter().position(|x| *x == s).unwrap_or(SUITES.len());
    cases.sort_by(|a, b| (rank(&a.suite), &a.id).cmp(&(rank(&b.suite), &b.id)));
}

/// One problem `testcases check` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintProblem {
    /// The case.
    pub case: String,
    /// The step, when the problem is in one.
    pub step: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Lints every case: unknown suites, rule ids and query kinds; persons that are not valid
/// 900-series codes; organisations not in the register; labels used before a step defines
/// them (unreachable steps); fields an action needs; expectations that cannot be judged.
pub fn lint(
    cases: &[TestCase],
    register: &crate::identity::SoteRegister,
    kit_roles: Option<&BTreeSet<String>>,
) -> Vec<LintProblem> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for c in cases {
        let mut problem = |step: Option<&str>, message: String| {
            out.push(LintProblem {
                case: c.id.clone(),
                step: step.map(str::to_owned),
                message,
            });
        };
        if !ids.insert(c.id.clone()) {
            problem(
                None,
                format!(
                    "duplicate case id (also in another file; this one is {})",
                    c.source
                ),
            );
        }
        if !c.id.starts_with("SIM-") {
            problem(
                None,
                "case ids start with SIM- (our own ids, never Kela's)".into(),
            );
        }
        if !SUITES.contains(&c.suite.as_str()) {
            problem(
                None,
                format!("unknown suite {:?} (one of {})", c.suite, SUITES.join(", ")),
            );
        }
        if !matches!(c.profile.as_str(), "test-env" | "deployment-test") {
            problem(
                None,
                format!(
                    "unknown profile {:?} (test-env or deployment-test)",
                    c.profile
                ),
            );
        }
        if c.steps.is_empty() {
            problem(None, "no steps".into());
        }
        let check_person =
            |p: &str, step: Option<&str>, problem: &mut dyn FnMut(Option<&str>, String)| {
                match p.parse::<crate::identity::Hetu>() {
                    Err(e) => problem(
                        step,
                        format!("person {p:?} is not a valid identity code: {e}"),
                    ),
                    Ok(h) if !h.is_test_or_temporary() => problem(
                        step,
                        format!(
                            "person {p} is not a 900-series test identity code; real codes never belong in a test case"
                        ),
                    ),
                    Ok(_) => {}
                }
            };
        for p in &c.persons {
            check_person(p, None, &mut problem);
        }
        for o in c.org.iter().chain(&c.organisations) {
            if register.resolve(o).is_none() {
                problem(
                    None,
                    format!("organisation {o} is not in the SOTE register"),
                );
            }
        }
        let mut labels: BTreeSet<&str> = BTreeSet::new();
        let mut step_ids = BTreeSet::new();
        for s in &c.steps {
            let sid = Some(s.id.as_str());
            if !step_ids.insert(s.id.as_str()) {
                problem(sid, "duplicate step id".into());
            }
            let need = |ok: bool, what: &str, problem: &mut dyn FnMut(Option<&str>, String)| {
                if !ok {
                    problem(sid, format!("{} needs {what}", s.action.as_str()));
                }
            };
            match s.action {
                Action::Archive => {
                    need(s.document.is_some(), "document", &mut problem);
                    need(s.person.is_some(), "person", &mut problem);
                }
                Action::NewVersion | Action::Invalidate => {
                    need(s.of.is_some(), "of (a label)", &mut problem)
                }
                Action::Query => need(
                    s.query_kind().is_some(),
                    "query (client-relationships, cases, metadata, document or summary)",
                    &mut problem,
                ),
                Action::Connect => need(
                    s.certificate.is_some(),
                    "certificate (a kit role)",
                    &mut problem,
                ),
                Action::FaultPlan => {
                    if let Err(e) = s.fault_plan(
                        &c.id,
                        Some(c.org.as_deref().unwrap_or("1.2.246.10.99900016.10.0")),
                    ) {
                        problem(sid, format!("faults: {e}"));
                    }
                    if s.expect != Expect::Accepted {
                        problem(
                            sid,
                            "a fault-plan step expects accepted (it always applies)".into(),
                        );
                    }
                }
            }
            if s.action != Action::FaultPlan && !s.faults.is_empty() {
                problem(
                    sid,
                    "faults belong to fault-plan steps (a step of their own before the steps they affect)".into(),
                );
            }
            if let Some(b) = s.behaviour {
                if !matches!(s.action, Action::Archive | Action::NewVersion) {
                    problem(
                        sid,
                        "a behaviour is judged on archive or new-version steps".into(),
                    );
                }
                if s.expect != Expect::Accepted {
                    problem(
                        sid,
                        "a behaviour step expects accepted (the document must arrive in the end)"
                            .into(),
                    );
                }
                let plan_before = c
                    .steps
                    .iter()
                    .take_while(|x| x.id != s.id)
                    .any(|x| x.action == Action::FaultPlan && !x.faults.is_empty());
                if !plan_before {
                    problem(
                        sid,
                        format!(
                            "behaviour {b:?} needs a fault-plan step before it (nothing would fail otherwise)"
                        ),
                    );
                }
            }
            if let Some(p) = &s.person {
                check_person(p, sid, &mut problem);
            }
            for o in s.org.iter().chain(&s.organiser) {
                if register.resolve(o).is_none() {
                    problem(sid, format!("organisation {o} is not in the SOTE register"));
                }
            }
            if let (Some(roles), Some(cert)) = (kit_roles, &s.certificate)
                && !roles.contains(cert)
            {
                problem(
                    sid,
                    format!("certificate {cert:?} is not a role of the kit"),
                );
            }
            let mut uses: Vec<&str> = s.of.iter().map(String::as_str).collect();
            for ch in &s.check {
                match ch {
                    Check::Status { doc, status } => {
                        uses.push(doc);
                        if crate::document::DocStatus::parse(status).is_none() {
                            problem(
                                sid,
                                format!("status {status:?} is not active, replaced or invalidated"),
                            );
                        }
                    }
                    Check::Versions { doc, .. } | Check::History { doc, .. } => uses.push(doc),
                    Check::Visible { doc, org, .. } => {
                        uses.push(doc);
                        if register.resolve(org).is_none() {
                            problem(
                                sid,
                                format!("organisation {org} is not in the SOTE register"),
                            );
                        }
                    }
                    Check::QueryTotal { .. } | Check::RetrievedVerifies => {
                        if let Check::QueryTotal {
                            min: None,
                            equals: None,
                        } = ch
                        {
                            // Without a bound the check could never fail.
                            problem(sid, "query-total needs min or equals".into());
                        }
                        if s.action != Action::Query {
                            problem(
                                sid,
                                "query-total and retrieved-verifies belong to query steps".into(),
                            );
                        }
                    }
                }
            }
            // The label a step defines is usable by its own checks.
            let own = s.label.as_deref();
            for u in uses {
                if !labels.contains(u) && Some(u) != own {
                    problem(
                        sid,
                        format!(
                            "label {u:?} is used before any step defines it (the step can never run as written)"
                        ),
                    );
                }
            }
            if let Some(l) = own {
                labels.insert(l);
            }
            match (s.expect, &s.rule) {
                (Expect::Rejected, None) => problem(
                    sid,
                    "a rejected step must name the rule id it expects".into(),
                ),
                (Expect::Accepted, Some(r)) => {
                    problem(sid, format!("an accepted step names rule {r}"))
                }
                (_, Some(r)) if r.parse::<crate::finding::RuleId>().is_err() => {
                    problem(sid, format!("unknown rule id {r} (see `kanta-sim rules`)"))
                }
                _ => {}
            }
            if s.expect == Expect::Accepted && s.deviation.is_some() {
                problem(sid, "a deviation in a step expected to be accepted".into());
            }
            if s.action == Action::Query
                && s.query_kind() == Some(QueryKind::Document)
                && s.of.is_none()
            {
                problem(
                    sid,
                    "a document query needs of (the label of the document to retrieve)".into(),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_cases_are_embedded_and_lint_clean() {
        let on_disk = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testcases")).unwrap();
        let embedded = embedded().unwrap();
        assert_eq!(
            on_disk
                .iter()
                .map(|c| (&c.id, &c.sha256))
                .collect::<Vec<_>>(),
            embedded
                .iter()
                .map(|c| (&c.id, &c.sha256))
                .collect::<Vec<_>>(),
            "every file under testcases/ must be listed in EMBEDDED"
        );
        let register = crate::identity::SoteRegister::bundled().unwrap();
        assert_eq!(lint(&embedded, &register, None), vec![]);
        // Swedish is an official language of the service: every shipped title has it.
        for c in &embedded {
            assert!(c.title_sv.is_some(), "{} has no title_sv", c.id);
            for st in &c.steps {
                assert!(
                    st.title_sv.is_some(),
                    "{} / {} has no title_sv",
                    c.id,
                    st.id
                );
            }
        }
        for suite in SUITES {
            assert!(
                embedded.iter().any(|c| c.suite == *suite),
                "{suite} is empty"
            );
        }
    }

    #[test]
    fn lint_finds_what_it_promises() {
        let text = r#"
id = "SIM-X-01"
suite = "pre-test"
title_fi = "x"
title_en = "x"
phase = "pre-test"
persons = ["311299F1236"]
[[step]]
id = "1"
title_fi = "x"
title_en = "x"
action = "new-version"
of = "later"
expect = "rejected"
rule = "Z-999"
[[step]]
id = "2"
title_fi = "x"
title_en = "x"
action = "archive"
document = "client-relationship"
person = "010190-902S"
as = "later"
expect = "accepted"
deviation = "unsigned"
check = [{ kind = "query-total" }]
"#;
        let all = lint_messages(&[parse_case(text, "t").unwrap()]);
        for needle in [
            "not a 900-series",
            "used before any step defines it",
            "unknown rule id Z-999",
            "deviation in a step expected to be accepted",
            "query-total needs min or equals",
        ] {
            assert!(all.contains(needle), "{needle} not in:\n{all}");
        }
        assert!(parse_case("id = 1", "t").is_err());
    }

    /// Every lint message for `cases` against the bundled register, one per line.
    fn lint_messages(cases: &[TestCase]) -> String {
        let register = crate::identity::SoteRegister::bundled().unwrap();
        lint(cases, &register, None)
            .into_iter()
            .map(|p| p.message)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn resilience_steps_are_linted_and_fault_plans_are_limited_to_the_running_org() {
        let text = r#"
id = "SIM-X-02"
suite = "resilience"
title_fi = "x"
title_en = "x"
phase = "resilience"
[[step]]
id = "plan"
title_fi = "x"
title_en = "x"
action = "fault-plan"
expect = "accepted"
faults = [{ kind = "delay" }, { kind = "refuse", count = 1 }]
[[step]]
id = "send"
title_fi = "x"
title_en = "x"
action = "query"
query = "metadata"
expect = "accepted"
behaviour = "honour-retry-after"
faults = [{ kind = "busy" }]
"#;
        let c = parse_case(text, "t").unwrap();
        let all = lint_messages(std::slice::from_ref(&c));
        for needle in [
            "faults: SIM-X-02/plan:1",
            "needs delay_ms",
            "faults belong to fault-plan steps",
            "a behaviour is judged on archive or new-version steps",
        ] {
            assert!(all.contains(needle), "{needle} not in:\n{all}");
        }
        // A behaviour without a plan before it could never fail.
        let no_plan = text.replace(
            "action = \"fault-plan\"",
            "action = \"connect\"\ncertificate = \"x\"",
        );
        let all = lint_messages(&[parse_case(&no_plan, "t").unwrap()]);
        assert!(all.contains("needs a fault-plan step before it"), "{all}");

        let shipped = embedded().unwrap();
        let res = shipped.iter().find(|c| c.id == "SIM-RES-02").unwrap();
        let plan = res.steps[0]
            .fault_plan(&res.id, Some("1.2.246.10.99900016.10.0"))
            .unwrap();
        assert_eq!(
            plan.entries[0].org.as_deref(),
            Some("1.2.246.10.99900016.10.0")
        );
        assert_eq!(plan.source, "SIM-RES-02/lose-ack");
    }
}
