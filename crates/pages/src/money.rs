//! Amounts as people read them: grouped digits, the locale's decimal mark and the
//! currency's sign, from `Money`'s integer minor units (never through a float).

use domain::Money;

use crate::i18n::Locale;

const NBSP: char = '\u{a0}';

/// `$1,234.50` in English, `1.234,50 USD` in Serbian, `1 234,50 $` in Russian.
pub fn format(amount: Money, locale: Locale) -> String {
    let wire = amount.to_decimal_string();
    let (sign, digits) = wire.strip_prefix('-').map_or(("", wire.as_str()), |rest| ("-", rest));
    let (whole, fraction) = digits.split_once('.').map_or((digits, None), |(w, f)| (w, Some(f)));
    let (group, decimal) = match locale {
        Locale::En => (',', '.'),
        Locale::Sr => ('.', ','),
        Locale::Ru => (NBSP, ','),
    };
    let mut number = grouped(whole, group);
    if let Some(fraction) = fraction {
        number.push(decimal);
        number.push_str(fraction);
    }
    let code = amount.currency().code();
    let symbol = symbol(code);
    match (locale, symbol) {
        (Locale::En, Some(symbol)) => format!("{sign}{symbol}{number}"),
        (Locale::Ru, Some(symbol)) => format!("{sign}{number}{NBSP}{symbol}"),
        _ => format!("{sign}{number}{NBSP}{code}"),
    }
}

fn symbol(code: &str) -> Option<&'static str> {
    match code {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "RUB" => Some("₽"),
        _ => None,
    }
}

/// `1234567` → `1,234,567` with `separator`.
fn grouped(whole: &str, separator: char) -> String {
    let mut out = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use domain::{Currency, Money};

    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::from_minor(minor, Currency::parse("currency", code).unwrap_or_else(|e| unreachable!("{e}")))
    }

    #[test]
    fn amounts_follow_the_locale_and_the_currency() {
        assert_eq!(format(money(123_456_789, "USD"), Locale::En), "$1,234,567.89");
        assert_eq!(format(money(123_456_789, "USD"), Locale::Sr), "1.234.567,89\u{a0}USD");
        assert_eq!(format(money(123_456_789, "EUR"), Locale::Ru), "1\u{a0}234\u{a0}567,89\u{a0}€");
        assert_eq!(format(money(5, "RSD"), Locale::En), "0.05\u{a0}RSD");
        assert_eq!(format(money(1000, "JPY"), Locale::En), "1,000\u{a0}JPY");
        assert_eq!(format(money(-2550, "GBP"), Locale::En), "-£25.50");
        assert_eq!(format(money(100, "USD"), Locale::En), "$1.00");
    }
}
