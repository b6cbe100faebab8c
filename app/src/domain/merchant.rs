//! A merchant's cashback rate.

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::input::{self, FromJson};

/// The share of a purchase a merchant pays back, exactly: in basis points (hundredths of a
/// percent, 250 = 2.50%; the unit of `crate::cashback_cents`), 0 to 10 000, never a float. The
/// column is `NUMERIC(5, 2)` in percent: read it as `(cashback_percentage * 100)::int4`, write
/// it as `$n::int4 / 100.0`. The API's JSON shows it in percent, as a number (`2.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CashbackRate(u16);

const OUT_OF_RANGE: &str = "must be between 0 and 100";

impl CashbackRate {
    /// `None` above 10 000 (100%).
    pub fn from_basis_points(basis_points: u16) -> Option<CashbackRate> {
        (basis_points <= 10_000).then_some(CashbackRate(basis_points))
    }

    pub fn basis_points(self) -> u16 {
        self.0
    }
}

/// From the database's `(cashback_percentage * 100)::int4` (the column's check keeps it in range).
impl TryFrom<i32> for CashbackRate {
    type Error = String;

    fn try_from(basis_points: i32) -> Result<Self, String> {
        u16::try_from(basis_points)
            .ok()
            .and_then(CashbackRate::from_basis_points)
            .ok_or_else(|| format!("a cashback rate of {basis_points} basis points is out of range"))
    }
}

/// A percentage from 0 to 100 with at most two decimals (the column would otherwise round
/// silently). The decimals are those of the shortest decimal that reads back as the same
/// number (Rust writes it without an exponent), so `0.07` passes and `4.3e-252` does not; the
/// basis points are read from those digits, not computed in floating point.
impl FromJson for CashbackRate {
    fn from_json(value: Value) -> Result<Self, String> {
        let percent = input::number(value)?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(OUT_OF_RANGE.to_owned());
        }
        // `abs`: -0 is 0.
        let digits = percent.abs().to_string();
        let (whole, decimals) = digits.split_once('.').unwrap_or((&digits, ""));
        if decimals.len() > 2 {
            return Err("must have at most two decimals".to_owned());
        }
        format!("{whole}{decimals:0<2}")
            .parse()
            .ok()
            .and_then(CashbackRate::from_basis_points)
            .ok_or_else(|| OUT_OF_RANGE.to_owned())
    }
}

/// In percent, as a JSON number: basis points / 100, the nearest double to the exact rate
/// (division is correctly rounded), so the JSON shows the rate's shortest decimal (`2.5`,
/// `0.07`, `100.0`).
impl Serialize for CashbackRate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(f64::from(self.0) / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rate(basis_points: u16) -> CashbackRate {
        CashbackRate::from_basis_points(basis_points).unwrap()
    }

    #[test]
    fn percentage_accepts_two_decimals_on_edges() {
        for (ok, basis_points) in
            [(0.0, 0), (0.01, 1), (0.07, 7), (2.5, 250), (33.33, 3333), (99.99, 9999), (100.0, 10_000)]
        {
            assert_eq!(CashbackRate::from_json(json!(ok)), Ok(rate(basis_points)));
        }
        assert_eq!(CashbackRate::from_json(json!(-0.0)), Ok(rate(0)));
        assert_eq!(CashbackRate::from_json(json!(5)), Ok(rate(500)));
        for bad in [json!(-0.01), json!(100.001), json!(0.005), json!("1"), json!(true)] {
            assert!(CashbackRate::from_json(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_is_refused_on_basis_points_above_100_percent() {
        assert_eq!(CashbackRate::from_basis_points(10_001), None);
        assert_eq!(CashbackRate::try_from(10_000), Ok(rate(10_000)));
        assert!(CashbackRate::try_from(-1).is_err());
        assert!(CashbackRate::try_from(10_001).is_err());
    }

    #[test]
    fn rate_serializes_as_the_percentage_on_every_basis_point() {
        for basis_points in 0..=10_000 {
            let json = serde_json::to_string(&rate(basis_points)).unwrap();
            let expected = format!("{}.{:02}", basis_points / 100, basis_points % 100);
            let expected = expected.trim_end_matches('0');
            let expected = if expected.ends_with('.') { format!("{expected}0") } else { expected.to_owned() };
            assert_eq!(json, expected, "{basis_points}");
            // And the number parses back to the same rate.
            assert_eq!(CashbackRate::from_json(serde_json::from_str(&json).unwrap()), Ok(rate(basis_points)));
        }
    }
}
