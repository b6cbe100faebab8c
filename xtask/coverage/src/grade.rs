//! Counts → percentage, band and verdict, on exact integers.
//!
//! The gate passes when `covered / valid ≥ threshold / 100`, decided as
//! `covered · 100 · den ≥ num · valid` for a threshold `num / den`, so 69.995% fails a
//! 70% gate. Percentages are shown rounded *down* to two decimals, so the number shown
//! never disagrees with the verdict.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::cobertura::Counts;

/// A percentage given as a decimal (`70`, `72.5`, `69.995`), kept as an exact fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percent {
    num: u128,
    den: u128,
}

impl Percent {
    pub const ZERO: Percent = Percent { num: 0, den: 1 };

    pub fn whole(n: u32) -> Percent {
        Percent { num: u128::from(n), den: 1 }
    }

    pub fn less_than(self, other: Percent) -> bool {
        self.num * other.den < other.num * self.den
    }

    /// True when `counts` reach this percentage.
    pub fn reached_by(self, counts: Counts) -> bool {
        u128::from(counts.covered) * 100 * self.den >= self.num * u128::from(counts.valid)
    }

    /// The fewest extra covered lines (with the same total) that would reach this percentage.
    pub fn shortfall(self, counts: Counts) -> u64 {
        let need = self.num * u128::from(counts.valid);
        let have = u128::from(counts.covered) * 100 * self.den;
        if have >= need {
            return 0;
        }
        let step = 100 * self.den;
        u64::try_from((need - have).div_ceil(step)).unwrap_or(u64::MAX)
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a percentage between 0 and 100 (for example 70 or 72.5)");
        let s = s.trim();
        let s = s.strip_suffix('%').unwrap_or(s);
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 12
        {
            return Err(bad());
        }
        let digits = format!("{int}{frac}");
        let num: u128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad())? };
        let den = 10u128.pow(frac.len() as u32);
        if num > 100 * den {
            return Err(bad());
        }
        Ok(Percent { num, den })
    }
}

/// A setting's percentage: a number (`70`, `72.5`) or a string (`"72.5"`, `"70%"`), read as
/// `FromStr` reads it, so it is exact and between 0 and 100.
impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Percent, D::Error> {
        struct PercentVisitor;

        impl Visitor<'_> for PercentVisitor {
            type Value = Percent;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage between 0 and 100, as a number (for example 70 or 72.5)")
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Percent, E> {
                self.visit_str(&n.to_string())
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Percent, E> {
                self.visit_str(&n.to_string())
            }

            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Percent, E> {
                self.visit_str(&x.to_string())
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Percent, E> {
                s.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(PercentVisitor)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.num / self.den;
        let rem = self.num % self.den;
        if rem == 0 {
            return write!(f, "{int}");
        }
        let width = self.den.ilog10() as usize;
        let frac = format!("{rem:0width$}");
        write!(f, "{int}.{}", frac.trim_end_matches('0'))
    }
}

/// The ratchet: whether `now` fell below `before` by more than `tolerance` percentage points,
/// exactly (`now% < before% − tolerance`). An empty `before` or `now` never fell.
pub fn fell_by_more_than(now: Counts, before: Counts, tolerance: Percent) -> bool {
    if now.valid == 0 || before.valid == 0 {
        return false;
    }
    let (nc, nv, bc, bv) =
        (u128::from(now.covered), u128::from(now.valid), u128::from(before.covered), u128::from(before.valid));
    100 * nc * bv * tolerance.den + tolerance.num * nv * bv < 100 * bc * nv * tolerance.den
}

/// Whether `now` is a strictly higher percentage than `before`.
pub fn rose(now: Counts, before: Counts) -> bool {
    before.valid == 0 && now.valid > 0
        || u128::from(now.covered) * u128::from(before.valid) > u128::from(before.covered) * u128::from(now.valid)
}

/// The percentage in hundredths, rounded down: 75.00565% → 7500.
pub fn floor_hundredths(counts: Counts) -> u64 {
    if counts.valid == 0 {
        return 0;
    }
    (u128::from(counts.covered) * 10_000 / u128::from(counts.valid)) as u64
}

/// `75.00` for 7,500,565 / 10,000,000.
pub fn percent_text(counts: Counts) -> String {
    let h = floor_hundredths(counts);
    format!("{}.{:02}", h / 100, h % 100)
}

/// `7,500,565`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A named band of the grading scale (an entry of the `bands` setting).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub min: Percent,
    pub emoji: String,
    pub label: String,
    #[serde(default)]
    pub note: String,
}

/// The first band (highest first) whose minimum `counts` reach.
pub fn band(bands: &[Band], counts: Counts) -> &Band {
    bands.iter().find(|b| b.min.reached_by(counts)).or(bands.last()).expect("settings guarantee at least one band")
}

/// The seed runbook's scale, used when the settings do not define `bands`: the one place the
/// default grades are written (`cargo xtask coverage --help` shows them from here, and a test
/// holds the docs to them).
pub fn default_bands() -> Vec<Band> {
    [
        (90, "🚀", "Excellent", "outstanding coverage"),
        (80, "🌟", "High", "above expectations"),
        (70, "✅", "Approved", "minimum bar cleared"),
        (50, "⚠️", "Low", "almost there, keep going"),
        (0, "❌", "Poor", "significant gaps, must improve"),
    ]
    .into_iter()
    .map(|(min, emoji, label, note)| Band {
        min: Percent::whole(min),
        emoji: emoji.into(),
        label: label.into(),
        note: note.into(),
    })
    .collect()
}

/// The scale lowest first, as the help shows it: `❌ Poor <50, ⚠️ Low 50–69, …, 🚀 Excellent ≥90`.
/// A band's top is the next one's minimum less 1 when that is a whole number, else `<` it.
pub fn scale_text(bands: &[Band]) -> String {
    let mut parts = Vec::with_capacity(bands.len());
    for (i, b) in bands.iter().enumerate().rev() {
        let range = match (i.checked_sub(1).map(|above| bands[above].min), b.min == Percent::ZERO) {
            (None, true) => "any".to_owned(),
            (None, false) => format!("≥{}", b.min),
            (Some(top), true) => format!("<{top}"),
            (Some(top), false) if top.num % top.den == 0 && top.num > 0 => {
                format!("{}–{}", b.min, top.num / top.den - 1)
            }
            (Some(top), false) => format!("{}–<{top}", b.min),
        };
        parts.push(format!("{} {} {range}", b.emoji, b.label));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(covered: u64, valid: u64) -> Counts {
        Counts { covered, valid }
    }

    #[test]
    fn gate_is_decided_exactly_at_the_boundary() {
        let seventy: Percent = "70".parse().unwrap();
        assert!(!seventy.reached_by(c(69_995, 100_000)));
        assert!(seventy.reached_by(c(70_000, 100_000)));
        assert!(seventy.reached_by(c(7, 10)));
        assert!(!seventy.reached_by(c(699_999_999, 1_000_000_000)));
    }

    #[test]
    fn fractional_thresholds_are_exact() {
        let t: Percent = "69.995".parse().unwrap();
        assert!(t.reached_by(c(69_995, 100_000)));
        assert!(!t.reached_by(c(69_994, 100_000)));
        // 1/3 = 33.333…% reaches 33.33 but not 33.34.
        assert!("33.33".parse::<Percent>().unwrap().reached_by(c(1, 3)));
        assert!(!"33.34".parse::<Percent>().unwrap().reached_by(c(1, 3)));
    }

    #[test]
    fn shown_percent_is_rounded_down() {
        assert_eq!(percent_text(c(7_500_565, 10_000_000)), "75.00");
        assert_eq!(percent_text(c(69_995, 100_000)), "69.99");
        assert_eq!(percent_text(c(2, 3)), "66.66");
        assert_eq!(percent_text(c(1, 1)), "100.00");
        // Nothing measured shows as 0.00, not a division by zero.
        assert_eq!((floor_hundredths(c(0, 0)), percent_text(c(0, 0))), (0, "0.00".to_owned()));
    }

    #[test]
    fn percent_parsing_refuses_nonsense() {
        for bad in ["", ".", "-1", "100.01", "abc", "7O", "1e2", "70.1234567890123"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad}");
        }
        assert_eq!("72.50".parse::<Percent>().unwrap().to_string(), "72.5");
        assert_eq!("70%".parse::<Percent>().unwrap().to_string(), "70");
        assert_eq!(".5".parse::<Percent>().unwrap().to_string(), "0.5");
        assert_eq!("100".parse::<Percent>().unwrap(), Percent::whole(100));
    }

    #[test]
    fn percent_deserialises_from_integers_decimals_and_strings() {
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;
        fn read<'a>(d: impl IntoDeserializer<'a, Error>) -> Result<Percent, String> {
            Percent::deserialize(d.into_deserializer()).map_err(|e| e.to_string())
        }
        assert_eq!(read(70u64), Ok(Percent::whole(70)));
        assert_eq!(read(72.5f64).map(|p| p.to_string()), Ok("72.5".into()));
        assert_eq!(read("69.995").map(|p| p.to_string()), Ok("69.995".into()));
        assert_eq!(read("70%"), Ok(Percent::whole(70)));
        let out_of_range = read(170u64).unwrap_err();
        assert!(out_of_range.starts_with("\"170\" is not a percentage between 0 and 100"), "{out_of_range}");
        assert!(read(-5i64).unwrap_err().starts_with("\"-5\" is not a percentage"));
        let wrong_type = read(true).unwrap_err();
        assert!(wrong_type.starts_with("invalid type: boolean `true`, expected a percentage"), "{wrong_type}");
    }

    #[test]
    fn the_scale_reads_lowest_first() {
        assert_eq!(
            scale_text(&default_bands()),
            "❌ Poor <50, ⚠️ Low 50–69, ✅ Approved 70–79, 🌟 High 80–89, 🚀 Excellent ≥90"
        );
        let band = |min: &str, label: &str| Band {
            min: min.parse().unwrap(),
            emoji: "*".into(),
            label: label.into(),
            note: String::new(),
        };
        assert_eq!(scale_text(&[band("72.5", "Good"), band("0", "Bad")]), "* Bad <72.5, * Good ≥72.5");
        assert_eq!(
            scale_text(&[band("80", "A"), band("60.5", "B"), band("0", "C")]),
            "* C <60.5, * B 60.5–79, * A ≥80"
        );
        assert_eq!(scale_text(&[band("0", "All")]), "* All any");
    }

    #[test]
    fn shortfall_is_the_fewest_lines_that_pass() {
        let seventy = Percent::whole(70);
        let counts = c(60, 100);
        let need = seventy.shortfall(counts);
        assert_eq!(need, 10);
        assert!(seventy.reached_by(c(60 + need, 100)));
        assert!(!seventy.reached_by(c(60 + need - 1, 100)));
        assert_eq!(seventy.shortfall(c(3, 3)), 0);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }

    #[test]
    fn the_ratchet_compares_exactly_with_its_tolerance() {
        let c = |covered, valid| Counts { covered, valid };
        let tenth: Percent = "0.1".parse().unwrap();
        // 80.00% → 79.90%: exactly the tolerance, not more.
        assert!(!fell_by_more_than(c(7_990, 10_000), c(8_000, 10_000), tenth));
        assert!(fell_by_more_than(c(7_989, 10_000), c(8_000, 10_000), tenth));
        // Different totals: 2/3 = 66.67% against 66.7%.
        assert!(!fell_by_more_than(c(2, 3), c(667, 1_000), tenth));
        assert!(fell_by_more_than(c(2, 3), c(668, 1_000), Percent::ZERO));
        assert!(!fell_by_more_than(c(0, 0), c(1, 1), tenth));
        assert!(rose(c(8_001, 10_000), c(8_000, 10_000)) && !rose(c(8, 10), c(80, 100)));
        assert!(rose(c(1, 2), c(0, 0)));
    }
}
