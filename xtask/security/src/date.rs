//! Calendar dates, the little the gate needs of them: a suppression's expiry (`2027-01-31`),
//! today's date in UTC, and comparing the two. Proleptic Gregorian, no time zones: a date
//! library would cost the xtask's cold build several seconds for this (docs/benchmarks.md).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar date. Ordered by time (the fields compare in the order year, month, day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// The date, if it exists (`Date::new(2027, 2, 29)` does not).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(Date { year, month, day })
    }

    /// Today in UTC.
    pub fn today() -> Date {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(before) => -(before.duration().as_secs() as i64) - 1,
        };
        Date::from_days_since_epoch(secs.div_euclid(86_400))
    }

    /// The date `days` days after 1970-01-01 (before it when negative).
    pub fn from_days_since_epoch(days: i64) -> Date {
        // Howard Hinnant's `civil_from_days`: eras of 400 years (146,097 days) starting on
        // 0000-03-01, so that the leap day ends a year.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Days since 1970-01-01 (negative before it): the inverse of `from_days_since_epoch`.
    pub fn days_since_epoch(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Why a text is not a date.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidDate;

impl fmt::Display for InvalidDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a date such as 2027-01-31 (YYYY-MM-DD, a day that exists)")
    }
}

impl std::error::Error for InvalidDate {}

impl FromStr for Date {
    type Err = InvalidDate;

    /// Exactly `YYYY-MM-DD` (RFC 3339's full-date, as TOML writes a date).
    fn from_str(s: &str) -> Result<Date, InvalidDate> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b[r.clone()].iter().all(u8::is_ascii_digit).then(|| s[r].parse::<u32>().ok()).flatten()
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(InvalidDate);
        }
        let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
            return Err(InvalidDate);
        };
        Date::new(y as i32, m as u8, d as u8).ok_or(InvalidDate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_shows_a_date_the_way_toml_writes_it() {
        assert_eq!(d("2027-01-31"), Date::new(2027, 1, 31).unwrap());
        assert_eq!(d("0999-03-04").to_string(), "0999-03-04");
        assert_eq!(d("2026-12-06").to_string(), "2026-12-06");
    }

    #[test]
    fn refuses_what_is_not_a_day_of_the_calendar() {
        for bad in [
            "2027-02-29",
            "2100-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "0000-01-01",
            "2026-1-31",
            "2026/01/31",
            "2026-01-31T00:00:00",
            " 2026-01-31",
            "+026-01-31",
            "２０２6-01-31",
            "",
        ] {
            assert_eq!(bad.parse::<Date>(), Err(InvalidDate), "{bad:?}");
        }
        assert_eq!(d("2028-02-29").to_string(), "2028-02-29");
        assert_eq!(d("2000-02-29").to_string(), "2000-02-29");
    }

    #[test]
    fn dates_order_by_time() {
        assert!(d("2026-11-30") < d("2026-12-01"));
        assert!(d("2026-12-31") < d("2027-01-01"));
        assert!(d("2027-01-09") < d("2027-01-10"));
    }

    #[test]
    fn counts_days_from_the_unix_epoch_both_ways() {
        for (days, text) in [
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (59, "1970-03-01"),
            (10_957, "2000-01-01"),
            (11_016, "2000-02-29"),
            (20_793, "2026-12-06"),
            (-719_162, "0001-01-01"),
            (2_932_896, "9999-12-31"),
        ] {
            assert_eq!(Date::from_days_since_epoch(days).to_string(), text);
            assert_eq!(d(text).days_since_epoch(), days, "{text}");
        }
        // Every day of four centuries, around a leap day that is skipped and one that is not.
        let start = d("1899-01-01").days_since_epoch();
        let mut prev = Date::from_days_since_epoch(start - 1);
        for n in start..start + 146_097 {
            let date = Date::from_days_since_epoch(n);
            assert!(date > prev, "{date} after {prev}");
            assert_eq!(date.days_since_epoch(), n);
            assert_eq!(Date::new(date.year, date.month, date.day), Some(date));
            prev = date;
        }
    }

    #[test]
    fn today_is_the_clock_s_date_in_utc() {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let today = Date::today();
        // A day boundary may pass between the two readings.
        assert!([secs / 86_400, (secs + 5) / 86_400].contains(&today.days_since_epoch()), "{today}");
    }
}
