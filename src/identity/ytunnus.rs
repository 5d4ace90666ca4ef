use std::fmt;
use std::str::FromStr;

/// A Finnish business id (Y-tunnus, FO-nummer): seven digits, a hyphen and a check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct YTunnus {
    body: [u8; 7],
    check: u8,
}

/// Why a string is not a valid Y-tunnus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YTunnusError {
    /// Not `NNNNNNN-C`.
    #[error("Y-tunnus {seen:?} is not of the form NNNNNNN-C (seven digits, hyphen, check digit)")]
    Shape {
        /// The text that was given.
        seen: String,
    },
    /// The check digit does not match.
    #[error("Y-tunnus {seen:?} has check digit {found}, expected {expected}")]
    CheckDigit {
        /// The text that was given.
        seen: String,
        /// The check digit computed from the body.
        expected: u8,
        /// The check digit that was written.
        found: u8,
    },
    /// The body gives remainder 1 modulo 11, for which no check digit exists.
    #[error("Y-tunnus {seen:?}: no business id can have this body (remainder 1 mod 11)")]
    ImpossibleBody {
        /// The text that was given.
        seen: String,
    },
}

impl YTunnus {
    /// The check digit for seven body digits, or `None` where the body cannot be valid.
    pub fn check_digit(body: &[u8; 7]) -> Option<u8> {
        const WEIGHTS: [u32; 7] = [7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        match sum % 11 {
            0 => Some(0),
            1 => None,
            r => u8::try_from(11 - r).ok(),
        }
    }

    /// Builds the Y-tunnus for a seven-digit body, computing the check digit.
    pub fn from_body(body: u32) -> Option<Self> {
        if body > 9_999_999 {
            return None;
        }
        let mut digits = [0u8; 7];
        let mut n = body;
        for d in digits.iter_mut().rev() {
            *d = u8::try_from(n % 10).ok()?;
            n /= 10;
        }
        Self::check_digit(&digits).map(|check| Self {
            body: digits,
            check,
        })
    }

    /// The eight digits without the hyphen, a leading zero kept. Organisation OIDs drop that
    /// zero ([`super::business_arc`]).
    pub fn digits(&self) -> String {
        self.body
            .iter()
            .chain(std::iter::once(&self.check))
            .map(|d| char::from(b'0' + d))
            .collect()
    }
}

impl FromStr for YTunnus {
    type Err = YTunnusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || YTunnusError::Shape { seen: s.to_owned() };
        let bytes = s.as_bytes();
        if bytes.len() != 9 || bytes[7] != b'-' {
            return Err(shape());
        }
        let mut body = [0u8; 7];
        for (slot, b) in body.iter_mut().zip(&bytes[..7]) {
            if !b.is_ascii_digit() {
                return Err(shape());
            }
            *slot = b - b'0';
        }
        if !bytes[8].is_ascii_digit() {
            return Err(shape());
        }
        let found = bytes[8] - b'0';
        let expected = Self::check_digit(&body)
            .ok_or_else(|| YTunnusError::ImpossibleBody { seen: s.to_owned() })?;
        if expected != found {
            return Err(YTunnusError::CheckDigit {
                seen: s.to_owned(),
                expected,
                found,
            });
        }
        Ok(Self { body, check: found })
    }
}

impl fmt::Display for YTunnus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.body {
            write!(f, "{d}")?;
        }
        write!(f, "-{}", self.check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_example_is_valid() {
        // JHS 159's example business id.
        let y: YTunnus = "0204819-8".parse().unwrap();
        assert_eq!(y.digits(), "02048198");
        assert_eq!(y.to_string(), "0204819-8");
    }

    #[test]
    fn wrong_check_digit_names_both_digits() {
        let err = "0204819-7".parse::<YTunnus>().unwrap_err();
        assert_eq!(
            err,
            YTunnusError::CheckDigit {
                seen: "0204819-7".into(),
                expected: 8,
                found: 7
            }
        );
    }

    #[test]
    fn shapes_are_rejected() {
        for bad in [
            "",
            "0204819",
            "02048198",
            "020481-98",
            "a204819-8",
            "0204819-x",
        ] {
            assert!(
                matches!(bad.parse::<YTunnus>(), Err(YTunnusError::Shape { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn from_body_round_trips() {
        let mut made = 0;
        for body in 9_000_000..9_000_100 {
            if let Some(y) = YTunnus::from_body(body) {
                assert_eq!(y.to_string().parse::<YTunnus>().unwrap(), y);
                made += 1;
            }
        }
        // Roughly one body in eleven has no valid check digit.
        assert!(made > 85, "{made}");
    }
}
