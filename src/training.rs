//! The deployment test, step by step, for trainers: what happens in reality, who does it,
//! and what to look at in the simulator now (process.md §2.3). Shared by
//! `kanta-sim train deployment-test` and the archivist view's training page.

use serde::Serialize;

/// One step of the rehearsal.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingStep {
    /// Title.
    pub title: &'static str,
    /// Who does it in reality.
    pub who: &'static str,
    /// What happens in reality.
    pub reality: &'static str,
    /// What to look at in kanta-sim.
    pub simulator: &'static str,
    /// The archivist-view page that shows it, when one does.
    pub link: Option<&'static str>,
}

/// Ways to make the rehearsal fail the way it would in reality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Break {
    /// The client system connects with an expired certificate.
    ExpiredCertificate,
    /// The client document never reaches the archive.
    MissingDocument,
    /// The client system's record differs from the archived document in one field.
    MismatchingField,
    /// The report goes to Kela after the two working days.
    LateReport,
}

impl Break {
    /// Every switch with what it shows.
    pub const ALL: [(Self, &'static str, &'static str); 4] = [
        (
            Self::ExpiredCertificate,
            "expired-certificate",
            "the connection point's client certificate has expired: the archive refuses the TLS handshake (T-003) and nothing is archived",
        ),
        (
            Self::MissingDocument,
            "missing-document",
            "the client document is never sent: checklist (a) fails for it",
        ),
        (
            Self::MismatchingField,
            "mismatching-field",
            "the client system recorded another time than it archived: checklist (b) shows the field",
        ),
        (
            Self::LateReport,
            "late-report",
            "the report is sent five days after the test: the report page warns that it is late",
        ),
    ];
}

/// The steps of the deployment test, in order.
pub const STEPS: &[TrainingStep] = &[
    TrainingStep {
        title: "1. Preconditions",
        who: "organisation, Kela",
        reality: "A valid Kanta client relationship, an accepted service description in Kanta Ekstranet, the organisation and its units in the SOTE register, a registered connection point with a DVV server certificate, and the test agreed with the supplier, application and network support and the Kanta archivist.",
        simulator: "the mock SOTE register and the generated test PKI stand in for these; `kanta-sim certs show` explains any certificate.",
        link: None,
    },
    TrainingStep {
        title: "2. Deployment-test identity codes",
        who: "system supplier, Kela",
        reality: "The supplier asks kanta@kanta.fi for 900-series codes for deployment tests; they differ from test-environment codes and are used only for deployment tests.",
        simulator: "`kanta-sim ids issue --pool deployment-test` issues codes (individual numbers 950–999) and records who got them; the archive warns about codes from another pool or organisation (P-005, P-006).",
        link: None,
    },
    TrainingStep {
        title: "3. The tester records the predefined case",
        who: "tester (with application and network support on call)",
        reality: "With the certified system in production, the tester enters the data of the predefined test case; the system archives the documents over the connection point.",
        simulator: "the reference client archives SIM-KOE-01 (a client-relationship document and a client document) over mutual TLS; every exchange is in the log.",
        link: None,
    },
    TrainingStep {
        title: "4. (a) Everything reached the archive and the controller's register",
        who: "Kanta archivist",
        reality: "In the Archivist's user interface the archivist finds every document of the case, in the controller's register.",
        simulator: "the deployment page computes checklist (a) for the case; search and the document pages show the documents, their signatures and versions.",
        link: Some("/deployment"),
    },
    TrainingStep {
        title: "5. (b) The archived data match the client system",
        who: "Kanta archivist, tester",
        reality: "The archivist compares the archived documents with what the client system shows.",
        simulator: "paste the client system's export into the deployment page: checklist (b) compares it field by field.",
        link: Some("/deployment"),
    },
    TrainingStep {
        title: "6. Report to Kela within two working days",
        who: "organisation",
        reality: "After a successful test the organisation reports it to Kela within two working days; production use may start right away.",
        simulator: "the report page fills in the report and computes the due date with Finnish public holidays (`kanta-sim due-date` prints it too).",
        link: Some("/report"),
    },
];
