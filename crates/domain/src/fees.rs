//! Split rules and the platform fee they take from a payment (SPEC §6 "Fees").
//! Rule values are decimals in standard units; fees are integer minor units, so all
//! arithmetic here is exact decimal or checked integer arithmetic, never floating point.

use std::cmp::Reverse;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::FieldError;
use crate::money::{Currency, Money};
use crate::payment::{parse_optional_uuid, text_enum};

/// Rule names are shown in dashboards and receipts; longer ones are a client bug.
pub const RULE_NAME_LEN_MAX: usize = 100;
/// Same bound as wire amounts, so a rule value can never overflow a `Decimal`.
const WHOLE_DIGITS_MAX: usize = 18;
/// Keeps `amount × percent` exact in a `Decimal` (96-bit mantissa) for any i64
/// amount: 9.3e18 × 100e6 < 7.9e28, so the half-to-even rounding sees the true value.
const FRACTION_DIGITS_MAX: u32 = 6;

text_enum!(SplitRuleType { Percentage => "percentage", Fixed => "fixed" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRule {
    pub id: uuid::Uuid,
    pub name: String,
    pub connected_account_id: Option<uuid::Uuid>,
    pub rule_type: SplitRuleType,
    pub value: Decimal,
    pub priority: i32,
    pub is_active: bool,
    pub currency: Option<Currency>,
    pub min_amount: Option<Decimal>,
    pub max_amount: Option<Decimal>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Raw wire fields of CreateSplitRule.
#[derive(Debug, Clone, Default)]
pub struct SplitRuleInput {
    pub name: String,
    pub connected_account_id: String,
    pub rule_type: Option<SplitRuleType>,
    pub value: String,
    pub priority: i32,
    pub currency: String,
    pub min_amount: String,
    pub max_amount: String,
}

/// Optional fields of UpdateSplitRule; None = unchanged; Some("") for min/max removes the bound.
#[derive(Debug, Clone, Default)]
pub struct SplitRuleUpdate {
    pub name: Option<String>,
    pub value: Option<String>,
    pub priority: Option<i32>,
    pub is_active: Option<bool>,
    pub min_amount: Option<String>,
    pub max_amount: Option<String>,
}

impl SplitRule {
    /// Validates a new rule (is_active = true, created_at = updated_at = now).
    pub fn create(id: uuid::Uuid, input: SplitRuleInput, now: chrono::DateTime<chrono::Utc>) -> Result<SplitRule, FieldError> {
        let connected_account_id = parse_optional_uuid("connected_account_id", &input.connected_account_id)?;
        let rule_type = input.rule_type.ok_or_else(|| FieldError::new("type", "is required: one of percentage, fixed"))?;
        let value = parse_decimal("value", &input.value)?;
        let currency = match (input.currency.as_str(), rule_type) {
            ("", SplitRuleType::Fixed) => return Err(FieldError::new("currency", "is required for a fixed rule")),
            ("", SplitRuleType::Percentage) => None,
            (code, _) => Some(Currency::parse("currency", code)?),
        };
        let rule = SplitRule {
            id,
            name: input.name,
            connected_account_id,
            rule_type,
            value,
            priority: input.priority,
            is_active: true,
            currency,
            min_amount: parse_optional_decimal("min_amount", &input.min_amount)?,
            max_amount: parse_optional_decimal("max_amount", &input.max_amount)?,
            created_at: now,
            updated_at: now,
        };
        rule.validate()?;
        Ok(rule)
    }

    /// Applies an update and re-validates the whole rule (updated_at = now).
    /// Re-validating everything, not just the changed fields, is what catches a new
    /// min_amount that crosses the stored max_amount.
    pub fn update(&self, update: SplitRuleUpdate, now: chrono::DateTime<chrono::Utc>) -> Result<SplitRule, FieldError> {
        let mut rule = self.clone();
        if let Some(name) = update.name {
            rule.name = name;
        }
        if let Some(value) = update.value {
            rule.value = parse_decimal("value", &value)?;
        }
        if let Some(priority) = update.priority {
            rule.priority = priority;
        }
        if let Some(is_active) = update.is_active {
            rule.is_active = is_active;
        }
        if let Some(min_amount) = update.min_amount {
            rule.min_amount = parse_optional_decimal("min_amount", &min_amount)?;
        }
        if let Some(max_amount) = update.max_amount {
            rule.max_amount = parse_optional_decimal("max_amount", &max_amount)?;
        }
        rule.updated_at = now;
        rule.validate()?;
        Ok(rule)
    }

    /// The checks across fields, shared by create and update so a rule can never be
    /// stored in a shape that create would refuse.
    fn validate(&self) -> Result<(), FieldError> {
        crate::validation::parse_identifier("name", &self.name, RULE_NAME_LEN_MAX)?;
        check_decimal("value", self.value, self.currency.filter(|_| self.rule_type == SplitRuleType::Fixed))?;
        match self.rule_type {
            SplitRuleType::Percentage if self.value > Decimal::ONE_HUNDRED => {
                return Err(FieldError::new("value", "must be at most 100 for a percentage rule"));
            }
            SplitRuleType::Fixed if self.currency.is_none() => {
                return Err(FieldError::new("currency", "is required for a fixed rule"));
            }
            _ => {}
        }
        if let Some(min) = self.min_amount {
            check_decimal("min_amount", min, self.currency)?;
        }
        if let Some(max) = self.max_amount {
            check_decimal("max_amount", max, self.currency)?;
        }
        if let (Some(min), Some(max)) = (self.min_amount, self.max_amount)
            && min > max
        {
            return Err(FieldError::new("min_amount", "must not be greater than max_amount"));
        }
        Ok(())
    }

    /// Whether this rule may apply to `amount` paid to `account`.
    fn is_candidate(&self, account: Option<uuid::Uuid>, amount: Money, amount_decimal: Decimal) -> bool {
        self.is_active
            && (self.connected_account_id.is_none() || self.connected_account_id == account)
            && self.currency.is_none_or(|c| c == amount.currency())
            && self.min_amount.is_none_or(|min| min <= amount_decimal)
            && self.max_amount.is_none_or(|max| amount_decimal <= max)
    }

    /// The uncapped fee in minor units; None when it does not even fit a `Decimal`,
    /// which only an absurd rule built outside `create` can cause.
    fn raw_fee_minor(&self, amount: Money) -> Option<Decimal> {
        match self.rule_type {
            SplitRuleType::Percentage => Decimal::from(amount.minor())
                .checked_mul(self.value)?
                .checked_div(Decimal::ONE_HUNDRED)
                .map(|fee| fee.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)),
            SplitRuleType::Fixed => self
                .value
                .checked_mul(Decimal::from(10_i64.checked_pow(amount.currency().exponent())?))
                .map(|fee| fee.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)),
        }
    }
}

/// Canonical decimal text for storage/wire, e.g. "10.5" (normalized, no trailing zeros) — for value, min, max.
pub fn decimal_text(value: Decimal) -> String {
    value.normalize().to_string()
}

/// Parses a stored decimal text (as written by decimal_text). The syntax is as strict
/// as a wire amount's, so "1e3", "-1" or " 1" never become a silently different number.
pub fn parse_decimal(field: &'static str, text: &str) -> Result<Decimal, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    let invalid = |why: &str| FieldError::new(field, format!("{} {why}", crate::validation::quote(text)));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || (text.contains('.') && fraction.is_empty()) {
        return Err(invalid("is not a non-negative decimal like \"10.5\""));
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    if whole.len() > WHOLE_DIGITS_MAX {
        return Err(invalid("is too large"));
    }
    if fraction.len() > FRACTION_DIGITS_MAX as usize {
        return Err(invalid(&format!("has more than {FRACTION_DIGITS_MAX} decimal places")));
    }
    let digits = format!("{whole}{fraction}");
    let mantissa = if digits.is_empty() { 0 } else { digits.parse::<i128>().map_err(|_| invalid("is too large"))? };
    // Both lengths are bounded above, so the scale is tiny and the mantissa fits.
    Decimal::try_from_i128_with_scale(mantissa, fraction.len() as u32).map_err(|_| invalid("is too large"))
}

/// Empty text means "no bound" for min/max.
fn parse_optional_decimal(field: &'static str, text: &str) -> Result<Option<Decimal>, FieldError> {
    if text.is_empty() { Ok(None) } else { parse_decimal(field, text).map(Some) }
}

/// Re-checks a parsed decimal, since a rule can also arrive from storage or a struct
/// literal; with a currency, it may not be finer than the currency's minor unit.
fn check_decimal(field: &'static str, value: Decimal, currency: Option<Currency>) -> Result<(), FieldError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(FieldError::new(field, "must not be negative"));
    }
    let scale = value.normalize().scale();
    if scale > FRACTION_DIGITS_MAX {
        return Err(FieldError::new(field, format!("has more than {FRACTION_DIGITS_MAX} decimal places")));
    }
    if let Some(currency) = currency
        && scale > currency.exponent()
    {
        return Err(FieldError::new(field, format!("has more than {} decimal places for {currency}", currency.exponent())));
    }
    Ok(())
}

/// The rule that produced a fee, as reported to callers and recorded in a PaymentSplit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRule {
    pub rule_id: uuid::Uuid,
    pub rule_name: String,
    pub rule_type: SplitRuleType,
    pub fee: Money,
}

/// The split of one payment: fee + transfer_amount = amount, always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeQuote {
    pub fee: Money,
    pub transfer_amount: Money,
    pub applied_rule: Option<AppliedRule>,
}

/// Picks the rule and computes the fee for `amount` paid to `account` (None: only platform-wide rules).
pub fn calculate_fee(rules: &[SplitRule], account: Option<uuid::Uuid>, amount: Money) -> FeeQuote {
    let currency = amount.currency();
    let chosen = Decimal::try_new(amount.minor(), currency.exponent()).ok().and_then(|amount_decimal| {
        rules
            .iter()
            .filter(|rule| rule.is_candidate(account, amount, amount_decimal))
            // Highest priority first; on ties the older rule, then the id, so the
            // choice never depends on the order the store returned the rules in.
            .min_by_key(|rule| (Reverse(rule.priority), rule.created_at, rule.id))
    });
    let Some(rule) = chosen else {
        return FeeQuote { fee: Money::zero(currency), transfer_amount: amount, applied_rule: None };
    };
    let ceiling = amount.minor().max(0);
    let fee_minor = if rule.value.is_sign_negative() {
        0
    } else {
        // An overflow means the fee is far beyond any i64 amount: the cap applies.
        rule.raw_fee_minor(amount).and_then(|fee| i64::try_from(fee).ok()).map_or(ceiling, |fee| fee.clamp(0, ceiling))
    };
    let fee = Money::from_minor(fee_minor, currency);
    // 0 ≤ fee ≤ max(amount, 0), so the difference cannot saturate.
    let transfer_amount = Money::from_minor(amount.minor().saturating_sub(fee_minor), currency);
    FeeQuote {
        fee,
        transfer_amount,
        applied_rule: Some(AppliedRule { rule_id: rule.id, rule_name: rule.name.clone(), rule_type: rule.rule_type, fee }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("currency", "USD").unwrap()
    }

    fn jpy() -> Currency {
        Currency::parse("currency", "JPY").unwrap()
    }

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn account(n: u128) -> uuid::Uuid {
        uuid::Uuid::from_u128(n)
    }

    fn valid_input() -> SplitRuleInput {
        SplitRuleInput {
            name: "standard".into(),
            rule_type: Some(SplitRuleType::Percentage),
            value: "10.5".into(),
            ..SplitRuleInput::default()
        }
    }

    /// A valid rule built through `create`, so the tests exercise the real validation.
    fn rule(id: u128, input: SplitRuleInput, created: i64) -> SplitRule {
        SplitRule::create(uuid::Uuid::from_u128(id), input, at(created)).unwrap()
    }

    fn percent(value: &str, priority: i32, account_id: Option<uuid::Uuid>) -> SplitRuleInput {
        SplitRuleInput {
            name: format!("{value} %"),
            connected_account_id: account_id.map(|a| a.to_string()).unwrap_or_default(),
            rule_type: Some(SplitRuleType::Percentage),
            value: value.into(),
            priority,
            ..SplitRuleInput::default()
        }
    }

    fn fixed(value: &str, code: &str) -> SplitRuleInput {
        SplitRuleInput {
            name: format!("{value} {code}"),
            rule_type: Some(SplitRuleType::Fixed),
            value: value.into(),
            currency: code.into(),
            ..SplitRuleInput::default()
        }
    }

    fn field_of(input: SplitRuleInput) -> &'static str {
        SplitRule::create(uuid::Uuid::nil(), input, at(0)).map(|_| "").unwrap_or_else(|e| e.field)
    }

    #[test]
    fn each_bad_rule_field_is_named() {
        assert_eq!(field_of(valid_input()), "");
        type Mutation = Box<dyn Fn(&mut SplitRuleInput)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("name", Box::new(|i| i.name.clear())),
            ("name", Box::new(|i| i.name = "   ".into())),
            ("name", Box::new(|i| i.name = "n".repeat(101))),
            ("name", Box::new(|i| i.name = "a\nb".into())),
            ("type", Box::new(|i| i.rule_type = None)),
            ("value", Box::new(|i| i.value.clear())),
            ("value", Box::new(|i| i.value = "-1".into())),
            ("value", Box::new(|i| i.value = "+1".into())),
            ("value", Box::new(|i| i.value = "1e3".into())),
            ("value", Box::new(|i| i.value = "abc".into())),
            ("value", Box::new(|i| i.value = " 1".into())),
            ("value", Box::new(|i| i.value = "1.".into())),
            ("value", Box::new(|i| i.value = ".5".into())),
            ("value", Box::new(|i| i.value = "1.2.3".into())),
            ("value", Box::new(|i| i.value = "100.01".into())),
            ("value", Box::new(|i| i.value = "0.0000001".into())),
            ("value", Box::new(|i| i.value = "9".repeat(19))),
            ("value", Box::new(|i| *i = fixed("1.005", "USD"))),
            ("value", Box::new(|i| *i = fixed("1.5", "JPY"))),
            ("currency", Box::new(|i| *i = fixed("1.00", ""))),
            ("currency", Box::new(|i| i.currency = "usd".into())),
            ("currency", Box::new(|i| i.currency = "ZZZ".into())),
            ("connected_account_id", Box::new(|i| i.connected_account_id = "not-a-uuid".into())),
            ("min_amount", Box::new(|i| i.min_amount = "-1".into())),
            ("min_amount", Box::new(|i| i.min_amount = "1e3".into())),
            ("max_amount", Box::new(|i| i.max_amount = "abc".into())),
            ("min_amount", Box::new(|i| (i.min_amount, i.max_amount) = ("10.01".into(), "10".into()))),
            ("min_amount", Box::new(|i| (i.currency, i.min_amount) = ("USD".into(), "0.001".into()))),
            ("max_amount", Box::new(|i| (i.currency, i.max_amount) = ("JPY".into(), "10.5".into()))),
        ];
        for (field, mutate) in cases {
            let mut input = valid_input();
            mutate(&mut input);
            let described = format!("{input:?}");
            assert_eq!(field_of(input), field, "{described}");
        }
    }

    #[test]
    fn edge_values_that_are_valid_are_accepted() {
        type Mutation = Box<dyn Fn(&mut SplitRuleInput)>;
        let cases: Vec<Mutation> = vec![
            Box::new(|i| i.value = "0".into()),
            Box::new(|i| i.value = "100".into()),
            Box::new(|i| i.value = "100.000".into()),
            Box::new(|i| i.value = "007.5".into()),
            Box::new(|i| i.name = "n".repeat(100)),
            Box::new(|i| i.priority = i32::MIN),
            Box::new(|i| i.priority = i32::MAX),
            Box::new(|i| i.currency = "EUR".into()),
            Box::new(|i| i.connected_account_id = account(7).to_string()),
            Box::new(|i| (i.min_amount, i.max_amount) = ("10".into(), "10.00".into())),
            Box::new(|i| i.max_amount = "0".into()),
            Box::new(|i| *i = fixed("0.30", "USD")),
            Box::new(|i| *i = fixed("150", "JPY")),
            Box::new(|i| *i = fixed("1.234", "BHD")),
        ];
        for mutate in cases {
            let mut input = valid_input();
            mutate(&mut input);
            let described = format!("{input:?}");
            assert_eq!(field_of(input), "", "{described}");
        }
    }

    #[test]
    fn messages_read_after_the_field_name() {
        let err = SplitRule::create(uuid::Uuid::nil(), fixed("1", ""), at(0)).unwrap_err();
        assert_eq!(err.to_string(), "currency is required for a fixed rule");
        let mut input = valid_input();
        input.value = "-1".into();
        let err = SplitRule::create(uuid::Uuid::nil(), input, at(0)).unwrap_err();
        assert!(err.to_string().starts_with("value '-1' is not a non-negative decimal"), "{err}");
    }

    #[test]
    fn create_sets_defaults() {
        let created = rule(1, percent("2.9", 3, Some(account(5))), 0);
        assert!(created.is_active);
        assert_eq!(created.created_at, at(0));
        assert_eq!(created.updated_at, at(0));
        assert_eq!(created.connected_account_id, Some(account(5)));
        assert_eq!(created.currency, None);
        assert_eq!(decimal_text(created.value), "2.9");
    }

    #[test]
    fn update_changes_only_given_fields_and_revalidates_the_whole_rule() {
        let mut input = valid_input();
        (input.min_amount, input.max_amount) = ("1".into(), "100".into());
        let original = rule(1, input, 0);
        let updated = original
            .update(SplitRuleUpdate { priority: Some(9), is_active: Some(false), ..SplitRuleUpdate::default() }, at(60))
            .unwrap();
        assert_eq!((updated.priority, updated.is_active, updated.updated_at), (9, false, at(60)));
        assert_eq!((updated.name.as_str(), updated.value, updated.created_at), ("standard", original.value, at(0)));
        assert_eq!(updated.min_amount, original.min_amount);

        let cleared =
            original.update(SplitRuleUpdate { min_amount: Some(String::new()), ..SplitRuleUpdate::default() }, at(60)).unwrap();
        assert_eq!(cleared.min_amount, None);
        assert_eq!(cleared.max_amount, original.max_amount);

        let field = |update: SplitRuleUpdate| original.update(update, at(60)).map(|_| "").unwrap_or_else(|e| e.field);
        assert_eq!(field(SplitRuleUpdate { min_amount: Some("100.5".into()), ..SplitRuleUpdate::default() }), "min_amount");
        assert_eq!(field(SplitRuleUpdate { max_amount: Some("0.5".into()), ..SplitRuleUpdate::default() }), "min_amount");
        assert_eq!(field(SplitRuleUpdate { value: Some("101".into()), ..SplitRuleUpdate::default() }), "value");
        assert_eq!(field(SplitRuleUpdate { value: Some("1e2".into()), ..SplitRuleUpdate::default() }), "value");
        assert_eq!(field(SplitRuleUpdate { name: Some(String::new()), ..SplitRuleUpdate::default() }), "name");

        let fixed_rule = rule(2, fixed("1.00", "USD"), 0);
        let err = fixed_rule.update(SplitRuleUpdate { value: Some("1.001".into()), ..SplitRuleUpdate::default() }, at(1));
        assert_eq!(err.map_err(|e| e.field), Err("value"));
    }

    #[test]
    fn decimal_text_is_canonical_and_round_trips() {
        for (text, canonical) in [("10.50", "10.5"), ("007", "7"), ("0.000", "0"), ("100", "100"), ("0.000001", "0.000001")] {
            let value = parse_decimal("value", text).unwrap();
            assert_eq!(decimal_text(value), canonical);
            assert_eq!(parse_decimal("value", canonical), Ok(value));
        }
    }

    fn fee_of(rules: &[SplitRule], account_id: Option<uuid::Uuid>, amount: Money) -> (i64, Option<uuid::Uuid>) {
        let quote = calculate_fee(rules, account_id, amount);
        assert_eq!(quote.fee.minor() + quote.transfer_amount.minor(), amount.minor());
        assert_eq!(quote.applied_rule.as_ref().map(|r| r.fee), quote.applied_rule.as_ref().map(|_| quote.fee));
        (quote.fee.minor(), quote.applied_rule.map(|r| r.rule_id))
    }

    fn dollars(minor: i64) -> Money {
        Money::from_minor(minor, usd())
    }

    #[test]
    fn the_highest_priority_candidate_applies_whoever_owns_it() {
        let merchant = Some(account(1));
        let account_rule = rule(10, percent("5", 2, merchant), 0);
        let platform_rule = rule(20, percent("10", 1, None), 0);
        let rules = [platform_rule.clone(), account_rule.clone()];
        assert_eq!(fee_of(&rules, merchant, dollars(10_000)), (500, Some(account_rule.id)));

        let low_account_rule = rule(11, percent("5", 0, merchant), 0);
        let rules = [low_account_rule, platform_rule.clone()];
        assert_eq!(fee_of(&rules, merchant, dollars(10_000)), (1_000, Some(platform_rule.id)));
    }

    #[test]
    fn ties_go_to_the_older_rule_then_the_smaller_id() {
        let newer = rule(1, percent("1", 5, None), 60);
        let older = rule(2, percent("2", 5, None), 0);
        assert_eq!(fee_of(&[newer.clone(), older.clone()], None, dollars(10_000)), (200, Some(older.id)));
        assert_eq!(fee_of(&[older.clone(), newer], None, dollars(10_000)), (200, Some(older.id)));
        let twin = rule(3, percent("3", 5, None), 0);
        assert_eq!(fee_of(&[twin, older.clone()], None, dollars(10_000)), (200, Some(older.id)));
    }

    #[test]
    fn inactive_and_foreign_rules_are_ignored() {
        let merchant = Some(account(1));
        let inactive = rule(1, percent("50", 9, merchant), 0)
            .update(SplitRuleUpdate { is_active: Some(false), ..SplitRuleUpdate::default() }, at(1))
            .unwrap();
        let foreign = rule(2, percent("40", 8, Some(account(2))), 0);
        let platform = rule(3, percent("1", 0, None), 0);
        let rules = [inactive, foreign.clone(), platform.clone()];
        assert_eq!(fee_of(&rules, merchant, dollars(10_000)), (100, Some(platform.id)));
        assert_eq!(fee_of(&rules, None, dollars(10_000)), (100, Some(platform.id)), "no account: platform rules only");
        assert_eq!(fee_of(&rules, Some(account(2)), dollars(10_000)), (4_000, Some(foreign.id)));
    }

    #[test]
    fn a_rule_with_a_currency_applies_only_to_that_currency() {
        let usd_rule = rule(1, fixed("0.30", "USD"), 0);
        let eur = Currency::parse("currency", "EUR").unwrap();
        assert_eq!(fee_of(std::slice::from_ref(&usd_rule), None, dollars(1_000)), (30, Some(usd_rule.id)));
        assert_eq!(fee_of(std::slice::from_ref(&usd_rule), None, Money::from_minor(1_000, eur)), (0, None));
        let mut input = percent("10", 0, None);
        input.currency = "EUR".into();
        let eur_percent = rule(2, input, 0);
        assert_eq!(fee_of(&[eur_percent], None, dollars(1_000)), (0, None));
    }

    #[test]
    fn min_and_max_are_inclusive_at_both_edges() {
        let mut input = percent("10", 0, None);
        (input.min_amount, input.max_amount) = ("10.00".into(), "20".into());
        let bounded = rule(1, input, 0);
        let rules = [bounded.clone()];
        assert_eq!(fee_of(&rules, None, dollars(999)), (0, None));
        assert_eq!(fee_of(&rules, None, dollars(1_000)), (100, Some(bounded.id)));
        assert_eq!(fee_of(&rules, None, dollars(2_000)), (200, Some(bounded.id)));
        assert_eq!(fee_of(&rules, None, dollars(2_001)), (0, None));
    }

    #[test]
    fn no_rule_means_no_fee() {
        let quote = calculate_fee(&[], Some(account(1)), dollars(1_234));
        assert_eq!(quote, FeeQuote { fee: dollars(0), transfer_amount: dollars(1_234), applied_rule: None });
    }

    #[test]
    fn percentages_round_half_to_even_in_minor_units() {
        for (value, amount, expected) in
            [("2.5", 100, 2), ("3.5", 100, 4), ("10", 5, 0), ("10", 15, 2), ("10", 25, 2), ("2.9", 1_999, 58), ("0.000001", 1, 0)]
        {
            let rules = [rule(1, percent(value, 0, None), 0)];
            assert_eq!(fee_of(&rules, None, dollars(amount)).0, expected, "{value} % of {amount}");
        }
    }

    #[test]
    fn a_fixed_fee_is_capped_at_the_amount() {
        let rules = [rule(1, fixed("5.00", "USD"), 0)];
        assert_eq!(fee_of(&rules, None, dollars(10_000)).0, 500);
        let quote = calculate_fee(&rules, None, dollars(300));
        assert_eq!((quote.fee, quote.transfer_amount), (dollars(300), dollars(0)));
        assert_eq!(
            quote.applied_rule.map(|r| (r.rule_name, r.rule_type, r.fee)),
            Some(("5.00 USD".into(), SplitRuleType::Fixed, dollars(300)))
        );
    }

    #[test]
    fn zero_exponent_currencies_work() {
        let yen = |minor| Money::from_minor(minor, jpy());
        let fixed_rule = rule(1, fixed("150", "JPY"), 0);
        assert_eq!(fee_of(std::slice::from_ref(&fixed_rule), None, yen(1_000)), (150, Some(fixed_rule.id)));
        let mut input = percent("2.5", 0, None);
        (input.currency, input.min_amount) = ("JPY".into(), "100".into());
        let percent_rule = rule(2, input, 0);
        assert_eq!(fee_of(std::slice::from_ref(&percent_rule), None, yen(100)).0, 2, "2.5 → 2");
        assert_eq!(fee_of(std::slice::from_ref(&percent_rule), None, yen(99)), (0, None));
    }

    #[test]
    fn even_the_largest_amount_computes_exactly() {
        let rules = [rule(1, percent("99.999999", 0, None), 0)];
        let quote = calculate_fee(&rules, None, dollars(i64::MAX));
        // 9223372036854775807 × 99.999999 / 100 = 9223371914489016.86... → rounded.
        let expected = (i128::from(i64::MAX) * 99_999_999 + 50_000_000) / 100_000_000;
        assert_eq!(i128::from(quote.fee.minor()), expected);
        assert_eq!(quote.fee.minor() + quote.transfer_amount.minor(), i64::MAX);
    }

    /// Any rule `create` accepts, in USD, JPY or without currency.
    fn any_rule() -> impl Strategy<Value = SplitRule> {
        (
            0u128..1_000,
            prop_oneof![Just(None), (1u128..4).prop_map(|n| Some(account(n)))],
            any::<bool>(),
            0u64..=100_000_000,
            0u64..=10_000_000_000_000_000,
            -3i32..=3,
            prop_oneof![Just(""), Just("USD"), Just("JPY")],
            proptest::option::of((0u64..=10_000_000_000_000_000, 0u64..=10_000_000_000_000_000)),
            0i64..1_000,
        )
            .prop_map(|(id, owner, is_percentage, percent_micro, fixed_minor, priority, code, bounds, created)| {
                let currency = (!code.is_empty()).then(|| Currency::parse("currency", code).unwrap());
                let exponent = currency.map_or(2, |c| c.exponent());
                let (rule_type, value, code) = if is_percentage {
                    (SplitRuleType::Percentage, decimal_text(Decimal::new(percent_micro as i64, 6)), code)
                } else {
                    let code = if code.is_empty() { "USD" } else { code };
                    let exponent = Currency::parse("currency", code).unwrap().exponent();
                    (SplitRuleType::Fixed, decimal_text(Decimal::new(fixed_minor as i64, exponent)), code)
                };
                let (min_amount, max_amount) = bounds
                    .map(|(a, b)| {
                        let text = |n: u64| decimal_text(Decimal::new(n as i64, exponent));
                        (text(a.min(b)), text(a.max(b)))
                    })
                    .unwrap_or_default();
                let input = SplitRuleInput {
                    name: format!("rule {id}"),
                    connected_account_id: owner.map(|a| a.to_string()).unwrap_or_default(),
                    rule_type: Some(rule_type),
                    value,
                    priority,
                    currency: code.into(),
                    min_amount,
                    max_amount,
                };
                rule(id, input, created)
            })
    }

    proptest! {
        #[test]
        fn the_fee_and_the_transfer_always_add_up_to_the_amount(
            rules in proptest::collection::vec(any_rule(), 0..8),
            minor in 1i64..=1_000_000_000_000_000,
            owner in proptest::option::of(1u128..4),
            yen in any::<bool>(),
        ) {
            let amount = Money::from_minor(minor, if yen { jpy() } else { usd() });
            let quote = calculate_fee(&rules, owner.map(account), amount);
            prop_assert_eq!(quote.fee.checked_add(quote.transfer_amount), Ok(amount));
            prop_assert!(0 <= quote.fee.minor() && quote.fee.minor() <= minor);
            prop_assert_eq!(quote.fee.currency(), amount.currency());
            prop_assert_eq!(quote.transfer_amount.currency(), amount.currency());
            if let Some(applied) = &quote.applied_rule {
                prop_assert_eq!(applied.fee, quote.fee);
                let chosen = rules.iter().find(|r| r.id == applied.rule_id && r.name == applied.rule_name);
                prop_assert!(chosen.is_some_and(|r| r.is_active));
            }
        }

        #[test]
        fn stored_decimal_text_parses_back_to_the_same_value(mantissa in 0i64..=999_999_999_999_999_999, scale in 0u32..=6) {
            let value = Decimal::new(mantissa, scale);
            prop_assert_eq!(parse_decimal("value", &decimal_text(value)), Ok(value));
        }
    }
}
