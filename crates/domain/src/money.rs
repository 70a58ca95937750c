//! Money is integer minor units plus an ISO 4217 currency; decimal strings exist only
//! at the edges, parsed and formatted here so every adapter agrees on the rules.

use std::fmt;

use crate::error::FieldError;
use crate::validation::quote;

/// Largest number of digits accepted in a wire amount, so that parsing can never
/// overflow i64 before the checked arithmetic even starts.
const AMOUNT_DIGITS_MAX: usize = 18;

/// An ISO 4217 currency that has a defined minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: iso_currency::Currency,
    exponent: u32,
}

impl Currency {
    /// The only way in: upper-case ISO 4217 code with a known minor unit.
    pub fn parse(field: &'static str, code: &str) -> Result<Self, FieldError> {
        if code.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        let currency = iso_currency::Currency::from_code(code)
            .filter(|_| code.chars().all(|c| c.is_ascii_uppercase()))
            .ok_or_else(|| FieldError::new(field, format!("{} is not an ISO 4217 currency code", quote(code))))?;
        let exponent = currency.exponent().ok_or_else(|| FieldError::new(field, format!("{} has no minor unit", quote(code))))?;
        Ok(Self { code: currency, exponent: u32::from(exponent) })
    }

    pub fn code(&self) -> &'static str {
        self.code.code()
    }

    /// Number of fraction digits of the standard unit (2 for USD, 0 for JPY).
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money in minor units. Arithmetic is checked: an overflow is an error
/// value, never a wrapped number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Parses a wire amount ("100.50"): plain digits, an optional point, at most as
    /// many fraction digits as the currency has. No sign, exponent or spaces.
    pub fn parse(field: &'static str, text: &str, currency: Currency) -> Result<Self, FieldError> {
        let invalid = |why: &str| FieldError::new(field, format!("{} {why}", quote(text)));
        if text.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || (text.contains('.') && fraction.is_empty()) {
            return Err(invalid("is not a decimal amount like \"100.50\""));
        }
        let exponent = currency.exponent() as usize;
        if fraction.len() > exponent {
            return Err(invalid(&format!("has more than {exponent} decimal places for {currency}")));
        }
        let digits = format!("{whole}{fraction:0<exponent$}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > AMOUNT_DIGITS_MAX {
            return Err(invalid("is too large"));
        }
        let minor = if digits.is_empty() { 0 } else { digits.parse::<i64>().map_err(|_| invalid("is too large"))? };
        Ok(Self { minor, currency })
    }

    /// A positive amount with its currency code, as requests carry them in the fields
    /// `amount` and `currency`.
    pub fn parse_request(amount: &str, currency: &str) -> Result<Self, FieldError> {
        Self::parse_positive("amount", amount, Currency::parse("currency", currency)?)
    }

    /// Parses an amount that must be greater than zero.
    pub fn parse_positive(field: &'static str, text: &str, currency: Currency) -> Result<Self, FieldError> {
        let money = Self::parse(field, text, currency)?;
        if money.minor <= 0 {
            return Err(FieldError::new(field, "must be greater than zero"));
        }
        Ok(money)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor.checked_add(other.minor).map(|minor| Money::from_minor(minor, self.currency)).ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor.checked_sub(other.minor).map(|minor| Money::from_minor(minor, self.currency)).ok_or(MoneyError::Overflow)
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        self.minor.checked_neg().map(|minor| Money::from_minor(minor, self.currency)).ok_or(MoneyError::Overflow)
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency.code(), right: other.currency.code() })
        }
    }

    /// The wire form: "100.50" for USD, "1000" for RSD, "-0.05" for a negative amount.
    pub fn to_decimal_string(&self) -> String {
        let exponent = self.currency.exponent() as usize;
        let sign = if self.minor < 0 { "-" } else { "" };
        let digits = format!("{:0>width$}", self.minor.unsigned_abs(), width = exponent + 1);
        if exponent == 0 {
            return format!("{sign}{digits}");
        }
        let (whole, fraction) = digits.split_at(digits.len() - exponent);
        format!("{sign}{whole}.{fraction}")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflow")]
    Overflow,
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch { left: &'static str, right: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn currency(code: &str) -> Currency {
        Currency::parse("currency", code).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn check(text: &str, code: &str, expected: Result<i64, &str>) {
        let got = Money::parse("amount", text, currency(code)).map(|m| m.minor()).map_err(|e| e.to_string());
        match expected {
            Ok(minor) => assert_eq!(got, Ok(minor), "{text} {code}"),
            Err(fragment) => {
                let message = got.expect_err(text);
                assert!(message.contains(fragment), "{text}: '{message}' lacks '{fragment}'");
                assert!(message.starts_with("amount"), "{message} must name the field");
            }
        }
    }

    #[test]
    fn wire_amounts_parse_to_minor_units_or_name_the_problem() {
        check("100.50", "USD", Ok(10050));
        check("100.5", "USD", Ok(10050));
        check("100", "USD", Ok(10000));
        check("0.01", "USD", Ok(1));
        check("007", "USD", Ok(700));
        check("1000", "RSD", Ok(100000));
        check("1000", "JPY", Ok(1000));
        check("1.234", "BHD", Ok(1234));
        check("", "USD", Err("is required"));
        check("abc", "USD", Err("is not a decimal amount"));
        check("-1", "USD", Err("is not a decimal amount"));
        check("+1", "USD", Err("is not a decimal amount"));
        check("1e3", "USD", Err("is not a decimal amount"));
        check(" 1", "USD", Err("is not a decimal amount"));
        check("1.", "USD", Err("is not a decimal amount"));
        check(".5", "USD", Err("is not a decimal amount"));
        check("1.2.3", "USD", Err("is not a decimal amount"));
        check("10.555", "USD", Err("more than 2 decimal places"));
        check("10.5", "JPY", Err("more than 0 decimal places"));
        check("123456789012345678901234567890", "USD", Err("too large"));
        check("92233720368547758.07", "USD", Err("too large"));
    }

    #[test]
    fn positive_amounts_refuse_zero() {
        let err = Money::parse_positive("amount", "0.00", currency("USD")).unwrap_err();
        assert_eq!(err.to_string(), "amount must be greater than zero");
    }

    #[test]
    fn currencies_must_be_upper_case_iso_codes() {
        assert_eq!(currency("EUR").exponent(), 2);
        assert_eq!(currency("RSD").exponent(), 2);
        assert!(Currency::parse("currency", "usd").is_err());
        assert!(Currency::parse("currency", "XXX").is_err(), "no minor unit");
        assert!(Currency::parse("currency", "ABC").unwrap_err().to_string().starts_with("currency"));
        assert!(Currency::parse("currency", "").is_err());
    }

    #[test]
    fn formatting_is_the_inverse_of_parsing() {
        assert_eq!(Money::from_minor(10050, currency("USD")).to_decimal_string(), "100.50");
        assert_eq!(Money::from_minor(5, currency("USD")).to_decimal_string(), "0.05");
        assert_eq!(Money::from_minor(-5, currency("USD")).to_decimal_string(), "-0.05");
        assert_eq!(Money::from_minor(1000, currency("JPY")).to_decimal_string(), "1000");
        assert_eq!(Money::from_minor(i64::MIN, currency("USD")).to_decimal_string(), "-92233720368547758.08");
    }

    #[test]
    fn arithmetic_is_checked() {
        let usd = currency("USD");
        let max = Money::from_minor(i64::MAX, usd);
        assert_eq!(max.checked_add(Money::from_minor(1, usd)), Err(MoneyError::Overflow));
        assert!(Money::from_minor(1, usd).checked_add(Money::from_minor(1, currency("EUR"))).is_err());
        assert_eq!(Money::from_minor(i64::MIN, usd).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(Money::from_minor(5, usd).checked_sub(Money::from_minor(7, usd)).map(|m| m.minor()), Ok(-2));
    }

    proptest! {
        #[test]
        fn any_non_negative_amount_round_trips(minor in 0i64..=999_999_999_999_999_999) {
            for code in ["USD", "JPY", "BHD"] {
                let money = Money::from_minor(minor, currency(code));
                let parsed = Money::parse("amount", &money.to_decimal_string(), money.currency());
                prop_assert_eq!(parsed, Ok(money));
            }
        }
    }
}
