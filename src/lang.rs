//! The languages kanta-sim speaks: Finnish and Swedish, the service's official languages,
//! and English. Texts that exist in all three are [`Tr`]; where a Swedish text is missing
//! the English one stands in.

/// A language (`--lang fi|sv|en` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
        let from = |s: &str| Self::from_prefix(s.trim());
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

    /// The language a tag or locale names by its first two letters (`sv-FI`, `fi_FI.UTF-8`).
    fn from_prefix(s: &str) -> Option<Self> {
        match s.get(..2) {
            Some("fi") => Some(Self::Fi),
            Some("en") => Some(Self::En),
            Some("sv") => Some(Self::Sv),
            _ => None,
        }
    }

    /// From the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`): `fi…` Finnish, `sv…` Swedish,
    /// anything else English (a command line's default; the view defaults to Finnish).
    pub fn from_locale() -> Self {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Self::from_prefix(&v))
            .unwrap_or(Self::En)
    }
}

/// One text in the three languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Tr {
    /// Suomeksi.
    pub fi: &'static str,
    /// På svenska.
    pub sv: &'static str,
    /// In English.
    pub en: &'static str,
}

impl Tr {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Fi => self.fi,
            Lang::Sv => self.sv,
            Lang::En => self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_come_from_the_command_line_or_the_texts() {
        use clap::ValueEnum;
        assert_eq!(Lang::from_str("sv", false), Ok(Lang::Sv));
        assert!(Lang::from_str("de", false).is_err());
        let t = Tr {
            fi: "kyllä",
            sv: "ja",
            en: "yes",
        };
        assert_eq!(t.get(Lang::Sv), "ja");
        assert_eq!(t.get(Lang::Fi), "kyllä");
    }
}
