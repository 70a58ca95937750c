//! The wallet's balance over time as an SVG polyline drawn on the server: no
//! script, no chart library. Coordinates come from minor units by integer
//! arithmetic.

use domain::Money;
use domain::wallet::WalletTransaction;

use crate::i18n::Locale;
use crate::money;

const WIDTH: i128 = 600;
const HEIGHT: i128 = 160;
const PAD: i128 = 8;

pub struct Chart {
    pub currency: &'static str,
    /// `x,y x,y …` for the polyline.
    pub points: String,
    pub high: String,
    pub low: String,
}

/// The balance of `current`'s currency after each of `newest_first` (the latest
/// rows of the history), ending at `current`. `None` with fewer than one row.
pub fn balance_chart(current: Money, newest_first: &[WalletTransaction], locale: Locale) -> Option<Chart> {
    let rows: Vec<&WalletTransaction> = newest_first.iter().filter(|t| t.amount.currency() == current.currency()).collect();
    if rows.is_empty() {
        return None;
    }
    // Walk back from today's balance: before each row, the balance lacked its change.
    let mut balances = vec![i128::from(current.minor())];
    let mut running = i128::from(current.minor());
    for row in &rows {
        running -= i128::from(row.balance_change());
        balances.push(running);
    }
    balances.reverse();
    Some(line_chart(current.currency(), &balances, locale))
}

/// A line through `balances` (minor units, oldest first), from zero or below.
pub fn line_chart(currency: domain::Currency, balances: &[i128], locale: Locale) -> Chart {
    let high = balances.iter().copied().max().unwrap_or(0).max(0);
    let low = balances.iter().copied().min().unwrap_or(0).min(0);
    let span = (high - low).max(1);
    let steps = i128::try_from(balances.len().saturating_sub(1)).unwrap_or(1).max(1);
    let points = balances
        .iter()
        .enumerate()
        .map(|(i, balance)| {
            let x = PAD + i128::try_from(i).unwrap_or(0) * (WIDTH - 2 * PAD) / steps;
            let y = PAD + (high - balance) * (HEIGHT - 2 * PAD) / span;
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let amount = |minor: i128| money::format(Money::from_minor(i64::try_from(minor).unwrap_or(0), currency), locale);
    Chart { currency: currency.code(), points, high: amount(high), low: amount(low) }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::Currency;
    use domain::wallet::{WalletTransactionKind, WalletTransactionStatus};

    use super::*;

    fn row(kind: WalletTransactionKind, minor: i64) -> WalletTransaction {
        let usd = Currency::parse("currency", "USD").unwrap_or_else(|e| unreachable!("{e}"));
        WalletTransaction {
            id: uuid::Uuid::now_v7(),
            user_id: "u".into(),
            kind,
            amount: Money::from_minor(minor, usd),
            status: WalletTransactionStatus::Completed,
            description: String::new(),
            payment_id: None,
            idempotency_key: None,
            gateway_name: None,
            gateway_transaction_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_line_starts_at_zero_and_ends_at_the_balance() {
        let usd = Currency::parse("currency", "USD").unwrap_or_else(|e| unreachable!("{e}"));
        // Oldest first: +50.00, −20.00; so 0 → 50 → 30.
        let newest_first = [row(WalletTransactionKind::Withdrawal, 2000), row(WalletTransactionKind::Deposit, 5000)];
        let chart = balance_chart(Money::from_minor(3000, usd), &newest_first, Locale::En);
        let chart = chart.unwrap_or_else(|| unreachable!("rows give a chart"));
        assert_eq!(chart.points, "8,152 300,8 592,65");
        assert_eq!((chart.high.as_str(), chart.low.as_str()), ("$50.00", "$0.00"));
        assert!(balance_chart(Money::from_minor(0, usd), &[], Locale::En).is_none());
    }
}
