//! The archivist view's texts in Finnish, English and Swedish (Swedish where written; the
//! English text otherwise). The language comes from `?lang=`, then `Accept-Language`, then
//! Finnish.

/// A language of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Suomi.
    Fi,
    /// English.
    En,
    /// Svenska.
    Sv,
}

impl Lang {
    /// The code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Fi => "fi",
            Self::En => "en",
            Self::Sv => "sv",
        }
    }

    /// From `?lang=` or an `Accept-Language` header.
    pub fn choose(query: Option<&str>, accept: Option<&str>) -> Self {
        let from = |s: &str| match s.trim().get(..2) {
            Some("fi") => Some(Self::Fi),
            Some("en") => Some(Self::En),
            Some("sv") => Some(Self::Sv),
            _ => None,
        };
        query
            .and_then(from)
            .or_else(|| {
                accept.and_then(|a| {
                    a.split(',')
                        .find_map(|part| from(part.split(';').next().unwrap_or("")))
                })
            })
            .unwrap_or(Self::Fi)
    }
}

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
