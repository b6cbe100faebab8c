//! The domain rule the service is about: how much cashback a purchase earns.

/// Cashback owed for a purchase, in cents, rounded down (the merchant never overpays).
///
/// `percentage` is the merchant's cashback rate in hundredths of a percent (250 = 2.50%).
/// Returns `None` when the rate is outside 0–100% or the result would overflow.
pub fn cashback_cents(purchase_cents: u64, percentage: u32) -> Option<u64> {
    if percentage > 10_000 {
        return None;
    }
    purchase_cents.checked_mul(u64::from(percentage)).map(|x| x / 10_000)
}

#[cfg(test)]
mod tests {
    use super::cashback_cents;

    #[test]
    fn cashback_rounds_down_on_fractional_cents() {
        assert_eq!(cashback_cents(999, 250), Some(24));
    }

    #[test]
    fn cashback_is_refused_on_rate_above_100_percent() {
        assert_eq!(cashback_cents(1_000, 10_001), None);
        assert_eq!(cashback_cents(1_000, 10_000), Some(1_000));
    }

    #[test]
    fn cashback_is_refused_on_overflow() {
        assert_eq!(cashback_cents(u64::MAX, 2), None);
    }
}
