//! The Finnish working-day calendar, for the deployment test's report deadline: the report
//! goes to Kela within two working days of the test (process.md §2). Public holidays
//! (*pyhäpäivät*) and the de facto days off (Midsummer Eve, Christmas Eve) are not working
//! days; Saturdays are not either, unless the caller counts them (the Finnish term *arkipäivä*
//! includes Saturday in some regulations, so the choice is a setting).

use serde::Serialize;
use time::{Date, Duration, Month, Weekday};

/// A day that is not a working day, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// The day.
    pub date: Date,
    /// Finnish name.
    pub fi: &'static str,
    /// English name.
    pub en: &'static str,
}

/// Easter Sunday (Gregorian; the anonymous algorithm of Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    Date::from_calendar_date(
        year,
        if month == 3 {
            Month::March
        } else {
            Month::April
        },
        u8::try_from(day).unwrap_or(1),
    )
    .unwrap_or(Date::MIN)
}

fn date(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN)
}

/// The first `weekday` on or after `from`.
fn next_weekday(from: Date, weekday: Weekday) -> Date {
    let mut d = from;
    while d.weekday() != weekday {
        d += Duration::days(1);
    }
    d
}

/// Every public holiday and de facto day off of `year`, in date order.
pub fn holidays(year: i32) -> Vec<Holiday> {
    let e = easter(year);
    let midsummer_day = next_weekday(date(year, Month::June, 20), Weekday::Saturday);
    let mut h = vec![
        Holiday {
            date: date(year, Month::January, 1),
            fi: "Uudenvuodenpäivä",
            en: "New Year's Day",
        },
        Holiday {
            date: date(year, Month::January, 6),
            fi: "Loppiainen",
            en: "Epiphany",
        },
        Holiday {
            date: e - Duration::days(2),
            fi: "Pitkäperjantai",
            en: "Good Friday",
        },
        Holiday {
            date: e,
            fi: "Pääsiäispäivä",
            en: "Easter Sunday",
        },
        Holiday {
            date: e + Duration::days(1),
            fi: "2. pääsiäispäivä",
            en: "Easter Monday",
        },
        Holiday {
            date: date(year, Month::May, 1),
            fi: "Vappu",
            en: "May Day",
        },
        Holiday {
            date: e + Duration::days(39),
            fi: "Helatorstai",
            en: "Ascension Day",
        },
        Holiday {
            date: e + Duration::days(49),
            fi: "Helluntaipäivä",
            en: "Whit Sunday",
        },
        Holiday {
            date: midsummer_day - Duration::days(1),
            fi: "Juhannusaatto",
            en: "Midsummer Eve",
        },
        Holiday {
            date: midsummer_day,
            fi: "Juhannuspäivä",
            en: "Midsummer Day",
        },
        Holiday {
            date: next_weekday(date(year, Month::October, 31), Weekday::Saturday),
            fi: "Pyhäinpäivä",
            en: "All Saints' Day",
        },
        Holiday {
            date: date(year, Month::December, 6),
            fi: "Itsenäisyyspäivä",
            en: "Independence Day",
        },
        Holiday {
            date: date(year, Month::December, 24),
            fi: "Jouluaatto",
            en: "Christmas Eve",
        },
        Holiday {
            date: date(year, Month::December, 25),
            fi: "Joulupäivä",
            en: "Christmas Day",
        },
        Holiday {
            date: date(year, Month::December, 26),
            fi: "Tapaninpäivä",
            en: "St Stephen's Day",
        },
    ];
    h.sort_by_key(|x| x.date);
    h
}

/// The holiday on `d`, if it is one.
pub fn holiday(d: Date) -> Option<Holiday> {
    holidays(d.year()).into_iter().find(|h| h.date == d)
}

/// Why a day was not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The day.
    pub date: Date,
    /// Why: a holiday's English name, `Saturday` or `Sunday`.
    pub reason: String,
}

/// A deadline and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueDate {
    /// The day the count started from (not counted).
    pub from: Date,
    /// Working days counted.
    pub working_days: u32,
    /// Whether Saturdays counted as working days.
    pub count_saturdays: bool,
    /// The last day to act.
    pub due: Date,
    /// Days skipped on the way.
    pub skipped: Vec<Skipped>,
}

/// Whether `d` is a working day.
pub fn is_working_day(d: Date, count_saturdays: bool) -> Result<(), String> {
    if let Some(h) = holiday(d) {
        return Err(h.en.to_owned());
    }
    match d.weekday() {
        Weekday::Sunday => Err("Sunday".into()),
        Weekday::Saturday if !count_saturdays => Err("Saturday".into()),
        _ => Ok(()),
    }
}

/// The day `n` working days after `from` (the day itself not counted).
pub fn due_date(from: Date, n: u32, count_saturdays: bool) -> DueDate {
    let mut d = from;
    let mut counted = 0;
    let mut skipped = Vec::new();
    while counted < n {
        d += Duration::days(1);
        match is_working_day(d, count_saturdays) {
            Ok(()) => counted += 1,
            Err(reason) => skipped.push(Skipped { date: d, reason }),
        }
    }
    DueDate {
        from,
        working_days: n,
        count_saturdays,
        due: d,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn easter_matches_the_published_dates() {
        for (y, d) in [
            (2019, date!(2019 - 04 - 21)),
            (2024, date!(2024 - 03 - 31)),
            (2025, date!(2025 - 04 - 20)),
            (2026, date!(2026 - 04 - 05)),
            (2027, date!(2027 - 03 - 28)),
            (2028, date!(2028 - 04 - 16)),
            (2038, date!(2038 - 04 - 25)),
        ] {
            assert_eq!(easter(y), d, "{y}");
        }
    }

    #[test]
    fn the_moving_holidays_of_several_years() {
        // (year, Ascension, Midsummer Eve, All Saints' Day), from the Finnish almanac.
        for (y, asc, eve, saints) in [
            (
                2024,
                date!(2024 - 05 - 09),
                date!(2024 - 06 - 21),
                date!(2024 - 11 - 02),
            ),
            (
                2025,
                date!(2025 - 05 - 29),
                date!(2025 - 06 - 20),
                date!(2025 - 11 - 01),
            ),
            (
                2026,
                date!(2026 - 05 - 14),
                date!(2026 - 06 - 19),
                date!(2026 - 10 - 31),
            ),
            (
                2027,
                date!(2027 - 05 - 06),
                date!(2027 - 06 - 25),
                date!(2027 - 11 - 06),
            ),
        ] {
            let h = holidays(y);
            let on = |en: &str| h.iter().find(|x| x.en == en).unwrap().date;
            assert_eq!(on("Ascension Day"), asc, "{y}");
            assert_eq!(on("Midsummer Eve"), eve, "{y}");
            assert_eq!(on("All Saints' Day"), saints, "{y}");
            assert_eq!(h.len(), 15);
        }
    }

    #[test]
    fn a_test_on_maundy_thursday_is_due_after_easter_monday() {
        // Easter 2027 is 28 March: Thursday 25 → Good Friday, the weekend, Easter Monday skipped.
        let d = due_date(date!(2027 - 03 - 25), 2, false);
        assert_eq!(d.due, date!(2027 - 03 - 31));
        let reasons: Vec<&str> = d.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["Good Friday", "Saturday", "Easter Sunday", "Easter Monday"]
        );
    }

    #[test]
    fn weekends_christmas_and_saturdays_when_counted() {
        assert_eq!(
            due_date(date!(2026 - 11 - 20), 2, false).due,
            date!(2026 - 11 - 24)
        ); // Fri → Tue
        assert_eq!(
            due_date(date!(2026 - 11 - 20), 2, true).due,
            date!(2026 - 11 - 23)
        ); // Sat counts
        // Tue 22 Dec 2026: Wed 23 counts, 24–26 are holidays, 27 Sunday → Mon 28.
        assert_eq!(
            due_date(date!(2026 - 12 - 22), 2, false).due,
            date!(2026 - 12 - 28)
        );
        // Midsummer 2026: Thu 18 June → Fri 19 Eve, Sat 20 Day, Sun → Mon 22, Tue 23.
        assert_eq!(
            due_date(date!(2026 - 06 - 18), 2, true).due,
            date!(2026 - 06 - 23)
        );
        assert!(is_working_day(date!(2026 - 12 - 06), true).is_err());
    }
}
