//! The archivist view's texts in Finnish, English and Swedish (Swedish where written; the
//! English text otherwise). The language comes from `?lang=`, then `Accept-Language`, then
//! Finnish.

pub use crate::lang::Lang;

/// (key, fi, en, sv)
const TEXTS: &[(&str, &str, &str, &str)] = &[
    (
        "title",
        "Arkistonhoitajan näkymä",
        "Archivist's view",
        "Arkivariens vy",
    ),
    (
        "sim",
        "Simulaattori – ei Kanta-palvelu",
        "Simulator – not the Kanta service",
        "Simulator – inte Kanta-tjänsten",
    ),
    (
        "acting_for",
        "Rekisterinpitäjä",
        "Controller",
        "Personuppgiftsansvarig",
    ),
    (
        "search",
        "Hae asiakirjoja",
        "Search documents",
        "Sök dokument",
    ),
    (
        "client",
        "Asiakkaan tunniste",
        "Client id",
        "Klientens identitet",
    ),
    ("from", "Alkaen", "From", "Från"),
    ("to", "Päättyen", "To", "Till"),
    (
        "oid",
        "Asiakirjan OID tai setId",
        "Document OID or setId",
        "Dokumentets OID eller setId",
    ),
    ("case", "Asia", "Case", "Ärende"),
    (
        "relationship",
        "Asiakkuus",
        "Client relationship",
        "Klientrelation",
    ),
    ("type", "Asiakirjatyyppi", "Document type", "Dokumenttyp"),
    ("group", "Asiakirjaryhmä", "Document group", "Dokumentgrupp"),
    ("status", "Tila", "Status", "Status"),
    ("register", "Rekisteri", "Register", "Register"),
    ("own", "Oma", "Own", "Eget"),
    ("organiser", "Järjestäjän", "Organiser's", "Anordnarens"),
    ("all", "Kaikki", "All", "Alla"),
    ("active", "Voimassa", "Active", "Gällande"),
    ("replaced", "Korvattu", "Replaced", "Ersatt"),
    (
        "invalidated",
        "Mitätöity",
        "Invalidated",
        "Ogiltigförklarad",
    ),
    ("results", "Tulokset", "Results", "Resultat"),
    ("none", "Ei tuloksia", "Nothing found", "Inga resultat"),
    ("document", "Asiakirja", "Document", "Dokument"),
    ("metadata", "Metatiedot", "Metadata", "Metadata"),
    ("display", "Näyttömuoto", "Display form", "Visningsform"),
    (
        "structured",
        "Rakenteinen muoto (JSON)",
        "Structured form (JSON)",
        "Strukturerad form (JSON)",
    ),
    (
        "signatures",
        "Allekirjoitukset",
        "Signatures",
        "Underskrifter",
    ),
    (
        "history",
        "Versiohistoria",
        "Version history",
        "Versionshistorik",
    ),
    (
        "compare",
        "Vertaa versioita",
        "Compare versions",
        "Jämför versioner",
    ),
    ("invalidate", "Mitätöi", "Invalidate", "Ogiltigförklara"),
    ("reason", "Syy", "Reason", "Orsak"),
    (
        "invalidated_ok",
        "Asiakirja mitätöitiin",
        "The document was invalidated",
        "Dokumentet ogiltigförklarades",
    ),
    (
        "refused",
        "Mitätöintiä ei tehty",
        "The invalidation was refused",
        "Ogiltigförklaringen avvisades",
    ),
    (
        "deployment",
        "Käyttöönottokoe",
        "Deployment test",
        "Ibruktagningsprov",
    ),
    (
        "checklist_a",
        "(a) Asiakirjat arkistossa ja rekisterinpitäjän rekisterissä",
        "(a) Documents in the archive and in the controller's register",
        "(a) Dokumenten i arkivet och i den personuppgiftsansvariges register",
    ),
    (
        "checklist_b",
        "(b) Arkistoidut tiedot vastaavat asiakastietojärjestelmää",
        "(b) Archived data match the client system",
        "(b) Arkiverade uppgifter motsvarar klientdatasystemet",
    ),
    ("passed", "Kunnossa", "Passed", "Godkänd"),
    ("failed", "Ei kunnossa", "Failed", "Underkänd"),
    (
        "report",
        "Raportti Kelalle",
        "Report to Kela",
        "Rapport till FPA",
    ),
    ("due", "Määräpäivä", "Due date", "Förfallodag"),
    (
        "late",
        "Raportti on myöhässä",
        "The report is late",
        "Rapporten är försenad",
    ),
    ("train", "Harjoitus", "Training", "Övning"),
    ("home", "Etusivu", "Home", "Startsida"),
    ("field", "Kenttä", "Field", "Fält"),
    (
        "recorded",
        "Asiakastietojärjestelmässä",
        "In the client system",
        "I klientdatasystemet",
    ),
    ("archived", "Arkistossa", "In the archive", "I arkivet"),
    ("compare_button", "Vertaa", "Compare", "Jämför"),
    ("signer", "Allekirjoittaja", "Signer", "Undertecknare"),
    (
        "onboarding",
        "Käyttöönoton tarkistuslista",
        "Onboarding checklist",
        "Checklista för införandet",
    ),
    ("r_completed", "Koe tehty", "Test completed", "Provet gjort"),
    (
        "r_submitted",
        "Raportti lähetetty",
        "Report submitted",
        "Rapporten skickad",
    ),
    ("r_system", "Järjestelmä", "System", "System"),
    ("r_version", "Versio", "Version", "Version"),
    (
        "r_connection",
        "Liittymispiste",
        "Connection point",
        "Anslutningspunkt",
    ),
    (
        "r_participants",
        "Osallistujat",
        "Participants",
        "Deltagare",
    ),
    ("r_deviations", "Poikkeamat", "Deviations", "Avvikelser"),
    (
        "r_saturdays",
        "Lauantai on arkipäivä",
        "Saturdays count",
        "Lördagar räknas",
    ),
    (
        "r_organisation",
        "Organisaatio",
        "Organisation",
        "Organisation",
    ),
    ("r_ytunnus", "Y-tunnus", "Business id", "FO-nummer"),
    (
        "r_controller",
        "Rekisterinpitäjän OID",
        "Controller OID",
        "Personuppgiftsansvarigs OID",
    ),
    (
        "r_units",
        "Palveluyksiköt",
        "Service units",
        "Serviceenheter",
    ),
    (
        "r_system_version",
        "Järjestelmä ja versio",
        "System and version",
        "System och version",
    ),
    ("r_case", "Testitapaus", "Test case", "Testfall"),
    (
        "r_persons",
        "Henkilötunnukset",
        "Identity codes",
        "Personbeteckningar",
    ),
    (
        "r_documents",
        "Arkistoidut asiakirjat",
        "Archived documents",
        "Arkiverade handlingar",
    ),
    (
        "r_producer",
        "Palvelujen tuottaja (rekisterinkäyttöoikeudella)",
        "Service producer (under a register use right)",
        "Tjänsteproducent (med registeranvändningsrätt)",
    ),
    (
        "r_organiser",
        "Järjestäjä, jonka rekisteriin arkistoitiin",
        "Organiser whose register was archived into",
        "Anordnare i vars register arkiverades",
    ),
    (
        "r_working_days",
        "arkipäivää",
        "working days after",
        "vardagar efter",
    ),
    (
        "r_saturdays_counted",
        "lauantait laskettu",
        "Saturdays counted",
        "lördagar räknade",
    ),
    ("r_skipped", "ohitettu", "skipped", "överhoppade"),
    ("time", "Aika", "Time", "Tid"),
    ("verdict", "Tulos", "Verdict", "Resultat"),
    ("valid", "Voimassa", "Valid", "Giltig"),
    ("invalid", "Ei kelpaa", "Not valid", "Ogiltig"),
];

/// The text of `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    TEXTS.iter().find(|(k, ..)| *k == key).map_or_else(
        || key.to_owned(),
        |(_, fi, en, sv)| match lang {
            Lang::Fi => (*fi).to_owned(),
            Lang::En => (*en).to_owned(),
            Lang::Sv => (*sv).to_owned(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_choice_and_every_text_in_three_languages() {
        assert_eq!(Lang::choose(Some("en"), Some("fi")), Lang::En);
        assert_eq!(Lang::choose(None, Some("sv-FI,fi;q=0.8")), Lang::Sv);
        assert_eq!(Lang::choose(None, Some("de")), Lang::Fi);
        for (k, fi, en, sv) in TEXTS {
            assert!(!fi.is_empty() && !en.is_empty() && !sv.is_empty(), "{k}");
        }
        assert_eq!(t(Lang::En, "report"), "Report to Kela");
    }
}
