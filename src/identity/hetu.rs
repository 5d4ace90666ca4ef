//! Henkilötunnus (HETU, Finnish personal identity code): `DDMMYYCNNNQ`.
//!
//! Century signs since 1.1.2023: `+` (1800s), `-` `Y` `X` `W` `V` `U` (1900s), `A` `B` `C` `D`
//! `E` `F` (2000s); the sign distinguishes codes and is never normalised. The check
//! character is `DDMMYYNNN mod 31` indexed into `0123456789ABCDEFHJKLMNPRSTUVWXY`.
//! Individual numbers 900–999 are temporary and test codes, never in the population register.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::{Date, Month};

/// OID of the official identity code in HL7.
pub const HETU_OID: &str = "1.2.246.21";

const CHECK_CHARS: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// A valid identity code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hetu {
    text: String,
    birth_date: Date,
    individual: u16,
}

/// Why a string is not a valid identity code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HetuError {
    /// Not 11 characters of the right classes.
    #[error("{seen:?} is not of the form DDMMYYCNNNQ (11 characters)")]
    Shape {
        /// The text given.
        seen: String,
    },
    /// An unknown century sign.
    #[error("{seen:?}: century sign {sign:?} is not one of + - Y X W V U A B C D E F")]
    CenturySign {
        /// The text given.
        seen: String,
        /// The sign found.
        sign: char,
    },
    /// Not a calendar date.
    #[error("{seen:?}: {date} is not a date")]
    Date {
        /// The text given.
        seen: String,
        /// DD.MM.YYYY as read.
        date: String,
    },
    /// 000 and 001 are never issued.
    #[error("{seen:?}: individual number {number:03} is never issued (002–999)")]
    IndividualNumber {
        /// The text given.
        seen: String,
        /// The number.
        number: u16,
    },
    /// Wrong check character.
    #[error("{seen:?}: check character is {found:?}, expected {expected:?}")]
    CheckCharacter {
        /// The text given.
        seen: String,
        /// Computed.
        expected: char,
        /// Written.
        found: char,
    },
}

fn century(sign: u8) -> Option<i32> {
    match sign {
        b'+' => Some(1800),
        b'-' | b'Y' | b'X' | b'W' | b'V' | b'U' => Some(1900),
        b'A' | b'B' | b'C' | b'D' | b'E' | b'F' => Some(2000),
        _ => None,
    }
}

impl Hetu {
    /// The check character for `DDMMYYNNN` as a number.
    pub fn check_char(ddmmyynnn: u32) -> char {
        char::from(CHECK_CHARS[(ddmmyynnn % 31) as usize])
    }

    /// Date of birth.
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// The individual number NNN.
    pub fn individual_number(&self) -> u16 {
        self.individual
    }

    /// 900–999: a temporary or test code (Kanta test environments accept only these).
    pub fn is_test_or_temporary(&self) -> bool {
        self.individual >= 900
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Hetu {
    type Err = HetuError;

    fn from_str(s: &str) -> Result<Self, HetuError> {
        let b = s.as_bytes();
        let shape = || HetuError::Shape { seen: s.to_owned() };
        if b.len() != 11
            || !b[..6].iter().chain(&b[7..10]).all(u8::is_ascii_digit)
            || !b[10].is_ascii_alphanumeric()
        {
            return Err(shape());
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().map_err(|_| shape());
        let (dd, mm, yy, nnn) = (num(0..2)?, num(2..4)?, num(4..6)?, num(7..10)?);
        let century = century(b[6]).ok_or(HetuError::CenturySign {
            seen: s.to_owned(),
            sign: char::from(b[6]),
        })?;
        let year = century + i32::try_from(yy).map_err(|_| shape())?;
        let date = Month::try_from(u8::try_from(mm).map_err(|_| shape())?)
            .ok()
            .and_then(|m| Date::from_calendar_date(year, m, u8::try_from(dd).ok()?).ok())
            .ok_or_else(|| HetuError::Date {
                seen: s.to_owned(),
                date: format!("{dd:02}.{mm:02}.{year}"),
            })?;
        let individual = u16::try_from(nnn).map_err(|_| shape())?;
        if individual < 2 {
            return Err(HetuError::IndividualNumber {
                seen: s.to_owned(),
                number: individual,
            });
        }
        let expected = Self::check_char(dd * 10_000_000 + mm * 100_000 + yy * 1000 + nnn);
        let found = char::from(b[10]);
        if found != expected {
            return Err(HetuError::CheckCharacter {
                seen: s.to_owned(),
                expected,
                found,
            });
        }
        Ok(Self {
            text: s.to_owned(),
            birth_date: date,
            individual,
        })
    }
}

impl fmt::Display for Hetu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Something in free text that has the shape of an identity code (six digits, a century
/// sign, three digits, an alphanumeric), not glued to other letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HetuCandidate {
    /// Byte offset in the scanned text.
    pub offset: usize,
    /// The 11 characters.
    pub text: String,
    /// The parse result: a valid code, or why it is not one.
    pub parsed: Result<(), HetuError>,
    /// For a valid code: whether it is in the 900–999 range.
    pub test_range: Option<bool>,
}

/// Every identity-code-shaped string in `text` (for the "anywhere in the document" rule):
/// six digits that start a run (not after a letter or digit), a century sign, three digits
/// and a check character, not followed by a letter or digit. One pass, mostly skipping: a
/// candidate needs a run of exactly six digits, and every such run contains one of every
/// sixth byte, so only those bytes are looked at until one is a digit; its run is then
/// measured and judged once. Nothing is allocated except for what is found.
pub fn scan(text: &str) -> Vec<HetuCandidate> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut probe = 5;
    while probe < n {
        if !b[probe].is_ascii_digit() {
            probe += 6;
            continue;
        }
        let mut start = probe;
        while start > 0 && b[start - 1].is_ascii_digit() {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < n && b[end].is_ascii_digit() {
            end += 1;
        }
        // The next run starts after `end`; probing from `end + 5` still meets it.
        probe = end + 5;
        if end - start != 6 || start + 11 > n || (start > 0 && b[start - 1].is_ascii_alphanumeric())
        {
            continue;
        }
        let w = &b[start..start + 11];
        let shaped = century(w[6]).is_some()
            && w[7..10].iter().all(u8::is_ascii_digit)
            && w[10].is_ascii_alphanumeric()
            && b.get(start + 11).is_none_or(|c| !c.is_ascii_alphanumeric());
        if shaped {
            // The window is ASCII, so slicing the str here is on char boundaries.
            let t = &text[start..start + 11];
            let parsed = t.parse::<Hetu>();
            out.push(HetuCandidate {
                offset: start,
                text: t.to_owned(),
                test_range: parsed.as_ref().ok().map(Hetu::is_test_or_temporary),
                parsed: parsed.map(|_| ()),
            });
        }
    }
    out
}

/// [`scan`] over `text` without the byte ranges `skip` (in order, not overlapping), with
/// `text`'s offsets. Each range must begin and end next to a byte no code holds (markup,
/// a line end), so that the pieces between are scanned exactly as the whole text would be.
pub fn scan_outside(text: &str, skip: &[std::ops::Range<usize>]) -> Vec<HetuCandidate> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in skip
        .iter()
        .chain(std::iter::once(&(text.len()..text.len())))
    {
        // A range out of order or off the text is not skipped: its bytes are scanned with
        // the next piece.
        let Some(piece) = text
            .get(at..r.start)
            .filter(|_| r.start <= r.end && text.get(r.end..).is_some())
        else {
            continue;
        };
        out.extend(scan(piece).into_iter().map(|mut c| {
            c.offset += at;
            c
        }));
        at = r.end;
    }
    out
}

/// A pool of test identity codes: which part of the 900–999 test series a code comes from
/// (Kela's allocation is not public [I]; `archive.identity_pool` chooses the one in force).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Pool {
    /// Kanta's customer test environment (individual numbers 900–949).
    TestEnv,
    /// The deployment test (individual numbers 950–999).
    DeploymentTest,
}

impl Pool {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestEnv => "test-env",
            Self::DeploymentTest => "deployment-test",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test-env" => Some(Self::TestEnv),
            "deployment-test" => Some(Self::DeploymentTest),
            _ => None,
        }
    }

    /// The individual numbers (the three digits after the century sign) of the pool.
    pub fn individuals(self) -> std::ops::RangeInclusive<u16> {
        match self {
            Self::TestEnv => 900..=949,
            Self::DeploymentTest => 950..=999,
        }
    }

    /// The pool an identity code's individual number falls in (none below 900).
    pub fn of(h: &Hetu) -> Option<Self> {
        [Self::TestEnv, Self::DeploymentTest]
            .into_iter()
            .find(|p| p.individuals().contains(&h.individual_number()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first implementation, a window at every position: the oracle for `scan`.
    fn scan_window_by_window(text: &str) -> Vec<HetuCandidate> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        if b.len() < 11 {
            return out;
        }
        let mut i = 0;
        while i + 11 <= b.len() {
            let w = &b[i..i + 11];
            let shaped = w[..6].iter().all(u8::is_ascii_digit)
                && century(w[6]).is_some()
                && w[7..10].iter().all(u8::is_ascii_digit)
                && w[10].is_ascii_alphanumeric();
            let before_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            let after_ok = b.get(i + 11).is_none_or(|c| !c.is_ascii_alphanumeric());
            if shaped && before_ok && after_ok {
                // The window is ASCII, so slicing the str here is on char boundaries.
                let t = &text[i..i + 11];
                let parsed = t.parse::<Hetu>();
                out.push(HetuCandidate {
                    offset: i,
                    text: t.to_owned(),
                    test_range: parsed.as_ref().ok().map(Hetu::is_test_or_temporary),
                    parsed: parsed.map(|_| ()),
                });
                i += 11;
            } else {
                i += 1;
            }
        }
        out
    }

    /// Bytes dense in near-misses: digit runs of every length, every kind of century sign,
    /// letters and separators around them.
    const NEAR_MISSES: &[u8] = b"0123456789-+AYxF ;\n9";

    #[test]
    fn the_one_pass_scan_finds_what_a_window_at_every_position_finds() {
        // Inputs dense in near-misses: digit runs of every length, every century sign,
        // letters and digits around them, and valid codes of both ranges.
        let alphabet = NEAR_MISSES;
        let mut next = crate::xorshift(0x9E37_79B9_7F4A_7C15);
        for round in 0..4000 {
            // Long now and then, so that the probe's strides meet codes at every offset.
            let len = (next() % if round % 4 == 0 { 300 } else { 80 }) as usize;
            let mut s: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            // Plant real codes now and then, at random places.
            for code in ["010190-902S", "131052-308T", "010190-123A", "241299A9015"] {
                if next().is_multiple_of(3) && s.len() > 12 {
                    let at = (next() % (s.len() as u64 - 11)) as usize;
                    s[at..at + 11].copy_from_slice(code.as_bytes());
                }
            }
            let text = String::from_utf8(s).unwrap();
            assert_eq!(
                scan(&text),
                scan_window_by_window(&text),
                "round {round}: {text:?}"
            );
        }
    }

    #[test]
    fn scanning_around_ranges_finds_what_the_whole_scan_finds_outside_them() {
        let alphabet = NEAR_MISSES;
        let mut next = crate::xorshift(0x2545_F491_4F6C_DD1D);
        let mut skipped_codes = 0;
        for round in 0..2000 {
            // Pieces of near-misses and codes, some wrapped as skipped ranges between
            // markup (`>` … `<`), as a text node taken out whole lies in its document.
            let mut text = String::new();
            let mut skip = Vec::new();
            for _ in 0..(next() % 6) {
                let len = (next() % 60) as usize;
                let mut piece: String = (0..len)
                    .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                    .collect();
                if next().is_multiple_of(2) {
                    piece.push_str("010190-123A");
                }
                if next().is_multiple_of(2) {
                    text.push('>');
                    let start = text.len();
                    text.push_str(&piece);
                    skip.push(start..text.len());
                    text.push('<');
                } else {
                    text.push_str(&piece);
                }
            }
            let inside = |c: &HetuCandidate| skip.iter().any(|r| r.contains(&c.offset));
            let whole = scan(&text);
            skipped_codes += whole.iter().filter(|c| inside(c)).count();
            let expected: Vec<HetuCandidate> = whole.into_iter().filter(|c| !inside(c)).collect();
            assert_eq!(
                scan_outside(&text, &skip),
                expected,
                "round {round}: {text:?}"
            );
        }
        // Not vacuous: codes were planted inside the skipped ranges and left out.
        assert!(skipped_codes > 200, "{skipped_codes}");
        // A range that is not one (reversed, off the text, out of order) is not skipped,
        // and is never a panic.
        let text = ">010190-123A< 020202-123B";
        let reversed = std::ops::Range { start: 5, end: 1 };
        for bad in [reversed, 20..40, 30..31] {
            assert_eq!(scan_outside(text, std::slice::from_ref(&bad)), scan(text));
        }
        let entity = 1..12;
        assert_eq!(
            scan_outside(text, &[entity.clone(), 0..1]),
            scan_outside(text, std::slice::from_ref(&entity))
        );
    }

    #[test]
    fn kanta_and_dvv_test_persons_are_valid() {
        // process.md §3.1: Kanta's example and DVV's fictitious persons for the new signs.
        for s in [
            "010181-900C",
            "010594Y9032",
            "010594Y9021",
            "020594X903P",
            "020594X902N",
            "030594W903B",
            "030694W9024",
            "040594V9030",
            "040594V902Y",
            "050594U903M",
            "050594U902L",
            "010516B903X",
            "010516B902W",
            "020516C903K",
            "020516C902J",
            "030516D9037",
            "030516D9026",
            "010501E9032",
            "020502E902X",
            "020503F9037",
            "020504A902E",
            "020504B904H",
            "010190-901R",
            "010190-902S",
            "150615A903H",
            "311299-999E",
            "010101+900R",
        ] {
            let h: Hetu = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(h.is_test_or_temporary(), "{s}");
        }
    }

    #[test]
    fn century_signs_distinguish_codes() {
        // Same digits, different signs: two different (valid) people.
        let a: Hetu = "010190-999W".parse().unwrap();
        let a2: Hetu = "010190Y999W".parse().unwrap();
        assert_ne!(a, a2);
        assert_eq!(a.birth_date(), a2.birth_date());
        let b: Hetu = "150615A903H".parse().unwrap();
        assert_eq!(b.birth_date().year(), 2015);
        let c: Hetu = "010101+900R".parse().unwrap();
        assert_eq!(c.birth_date().year(), 1801);
    }

    #[test]
    fn every_defect_is_named() {
        assert!(matches!(
            "010190-902".parse::<Hetu>(),
            Err(HetuError::Shape { .. })
        ));
        assert!(matches!(
            "010190G902S".parse::<Hetu>(),
            Err(HetuError::CenturySign { sign: 'G', .. })
        ));
        assert!(matches!(
            "310290-902S".parse::<Hetu>(),
            Err(HetuError::Date { .. })
        ));
        assert!(matches!(
            "010190-001S".parse::<Hetu>(),
            Err(HetuError::IndividualNumber { number: 1, .. })
        ));
        let e = "010190-902T".parse::<Hetu>().unwrap_err();
        assert_eq!(
            e,
            HetuError::CheckCharacter {
                seen: "010190-902T".into(),
                expected: 'S',
                found: 'T'
            }
        );
    }

    #[test]
    fn scanning_finds_codes_in_text_and_json_but_not_in_oids_or_timestamps() {
        // 311299F1236: outside the test range, yet nobody real (born in 2099).
        let text = r#"{"asiakas":"010190-902S","huoltaja":"311299F1236"} 1.2.246.10.99900016.10.0 20261123100000+0200 x010190-902Sx"#;
        let found = scan(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].text, "010190-902S");
        assert_eq!(found[0].test_range, Some(true));
        assert_eq!(found[1].text, "311299F1236");
        assert_eq!(found[1].test_range, Some(false));
    }
}
