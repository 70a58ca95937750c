//! Amounts travel as decimal strings (`"9.99"`, `"1000"`); the fake keeps cents to
//! compare and subtract them exactly, and echoes the string the client sent.

/// At most 10 integer digits, as IXOPAY's schema allows.
const INTEGER_DIGITS_MAX: usize = 10;
/// The fake refuses more than 2 decimals (IXOPAY allows 3; our currencies use 2).
const DECIMALS_MAX: usize = 2;

/// Cents of a decimal string, or `None` if it is not `digits[.d[d]]`.
pub(crate) fn cents(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let whole_ok = !whole.is_empty() && whole.len() <= INTEGER_DIGITS_MAX && digits(whole);
    let fraction_ok = fraction.len() <= DECIMALS_MAX && digits(fraction) && !(text.contains('.') && fraction.is_empty());
    if !whole_ok || !fraction_ok {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

/// `"9.99"` for 999: how the fake writes amounts it computed itself.
pub(crate) fn format(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_become_cents() {
        assert_eq!(cents("9.99"), Some(999));
        assert_eq!(cents("1000"), Some(100_000));
        assert_eq!(cents("0.5"), Some(50));
        assert_eq!(cents("0"), Some(0));
        assert_eq!(cents("9999999999.99"), Some(999_999_999_999));
    }

    #[test]
    fn other_shapes_are_refused() {
        for bad in ["", ".5", "5.", "9.999", "-1", "+1", "1e3", "1,00", " 1", "12345678901", "1.2.3"] {
            assert_eq!(cents(bad), None, "{bad:?}");
        }
        assert_eq!(format(999), "9.99");
        assert_eq!(format(100_000), "1000.00");
    }
}
