//! Connected accounts: vendors who receive transfers and payouts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::payment::text_enum;
use crate::validation::validate_metadata;

pub const EMAIL_LEN_MAX: usize = 254;
/// Metadata key that links an account to a merchant's token subject (see `is_linked_to`).
pub const OWNER_METADATA_KEY: &str = "user_id";
/// The metadata key of the name a platform shows for the vendor (a shop's name):
/// hosted pages show it instead of an id.
pub const DISPLAY_NAME_METADATA_KEY: &str = "display_name";

text_enum!(AccountType { Express => "express", Standard => "standard", Custom => "custom" });
text_enum!(BusinessType { Individual => "individual", Company => "company" });
text_enum!(AccountStatus { Pending => "pending", Active => "active", Restricted => "restricted", Disabled => "disabled" });

impl AccountStatus {
    /// pending → active → restricted / disabled, and back to active.
    pub fn can_become(self, to: AccountStatus) -> bool {
        use AccountStatus::*;
        matches!(
            (self, to),
            (Pending, Active) | (Active, Restricted) | (Active, Disabled) | (Restricted, Active) | (Disabled, Active)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    pub id: uuid::Uuid,
    /// The gateway's id (`acct_…`).
    pub gateway_account_id: String,
    pub account_type: AccountType,
    pub email: String,
    pub business_type: BusinessType,
    pub country: String,
    pub status: AccountStatus,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    pub metadata: BTreeMap<String, String>,
    /// The card a gateway pays this vendor out to (AllSecure's register transaction),
    /// once the vendor registered one.
    pub payout_card: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub email: String,
    pub account_type: Option<AccountType>,
    pub business_type: String,
    pub country: String,
    pub metadata: BTreeMap<String, String>,
}

/// A validated request for a new account; the gateway id comes later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub email: String,
    pub account_type: AccountType,
    pub business_type: BusinessType,
    pub country: String,
    pub metadata: BTreeMap<String, String>,
}

impl NewAccount {
    pub fn parse(input: AccountInput) -> Result<Self, FieldError> {
        let email = parse_email(&input.email)?;
        let account_type =
            input.account_type.ok_or_else(|| FieldError::new("account_type", "is required: express, standard or custom"))?;
        let business_type = BusinessType::from_str_opt(&input.business_type)
            .ok_or_else(|| FieldError::new("business_type", "must be 'individual' or 'company'"))?;
        let country = parse_country(&input.country)?;
        validate_metadata("metadata", &input.metadata)?;
        Ok(Self { email, account_type, business_type, country, metadata: input.metadata })
    }

    pub fn into_account(self, id: uuid::Uuid, gateway_account_id: String, now: DateTime<Utc>) -> ConnectedAccount {
        ConnectedAccount {
            id,
            gateway_account_id,
            account_type: self.account_type,
            email: self.email,
            business_type: self.business_type,
            country: self.country,
            status: AccountStatus::Pending,
            charges_enabled: false,
            payouts_enabled: false,
            details_submitted: false,
            metadata: self.metadata,
            payout_card: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl ConnectedAccount {
    /// The merchant whose `sub` equals the account id or its `metadata.user_id`
    /// may read it.
    pub fn is_linked_to(&self, subject: &str) -> bool {
        self.id.to_string() == subject || self.owner().is_some_and(|owner| owner == subject)
    }

    pub fn owner(&self) -> Option<&str> {
        self.metadata.get(OWNER_METADATA_KEY).map(String::as_str)
    }

    /// The platform's name for the vendor, when it gave one.
    pub fn display_name(&self) -> Option<&str> {
        self.metadata.get(DISPLAY_NAME_METADATA_KEY).map(String::as_str).filter(|name| !name.trim().is_empty())
    }

    /// KYC done: the account can take charges and receive payouts.
    pub fn onboarded(&self, now: DateTime<Utc>) -> Self {
        Self {
            status: AccountStatus::Active,
            charges_enabled: true,
            payouts_enabled: true,
            details_submitted: true,
            updated_at: now,
            ..self.clone()
        }
    }
}

/// What the gateway says about an account's verification (Stripe's `account.updated`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayAccountState {
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// Why the gateway disabled something (`requirements.past_due`, `rejected.fraud`…).
    pub disabled_reason: Option<String>,
}

impl ConnectedAccount {
    /// The account as the gateway describes it. Active when it may take charges and
    /// payouts with nothing disabled; disabled when the gateway rejected it;
    /// restricted when an onboarded account lost either. A status the state machine
    /// does not allow from here keeps the current one; the flags always follow.
    pub fn with_gateway_state(&self, state: &GatewayAccountState, now: DateTime<Utc>) -> Self {
        use AccountStatus::*;
        let rejected = state.disabled_reason.as_deref().is_some_and(|reason| reason.starts_with("rejected"));
        let enabled = state.charges_enabled && state.payouts_enabled && state.details_submitted;
        let target = match (rejected, enabled && state.disabled_reason.is_none()) {
            (true, _) => Disabled,
            (false, true) => Active,
            (false, false) if self.status == Pending => Pending,
            (false, false) => Restricted,
        };
        let status = if target == self.status || self.status.can_become(target) { target } else { self.status };
        Self {
            status,
            charges_enabled: state.charges_enabled,
            payouts_enabled: state.payouts_enabled,
            details_submitted: state.details_submitted,
            updated_at: now,
            ..self.clone()
        }
    }
}

fn parse_email(text: &str) -> Result<String, FieldError> {
    let invalid = || FieldError::new("email", "is not a valid email address");
    if text.is_empty() {
        return Err(FieldError::new("email", "is required"));
    }
    if text.len() > EMAIL_LEN_MAX || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty() || local.contains('@') || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

/// ISO 3166-1 alpha-2, upper case.
fn parse_country(text: &str) -> Result<String, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new("country", "is required (ISO 3166-1 alpha-2, like RS)"));
    }
    if text.len() != 2 || !text.chars().all(|c| c.is_ascii_uppercase()) || isocountry::CountryCode::for_alpha2(text).is_err() {
        return Err(FieldError::new("country", format!("{} is not an ISO 3166-1 alpha-2 code", crate::validation::quote(text))));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AccountInput {
        AccountInput {
            email: "vendor@shop.example".into(),
            account_type: Some(AccountType::Express),
            business_type: "company".into(),
            country: "RS".into(),
            metadata: BTreeMap::from([(OWNER_METADATA_KEY.to_owned(), "merchant-7".to_owned())]),
        }
    }

    #[test]
    fn each_bad_account_field_is_named() {
        type Mutation = fn(&mut AccountInput);
        let cases: &[(&str, Mutation)] = &[
            ("email", |i| i.email = "nope".into()),
            ("email", |i| i.email = "a@b".into()),
            ("email", |i| i.email = "a b@c.example".into()),
            ("email", |i| i.email.clear()),
            ("account_type", |i| i.account_type = None),
            ("business_type", |i| i.business_type = "charity".into()),
            ("country", |i| i.country = "rs".into()),
            ("country", |i| i.country = "XX".into()),
            ("country", |i| i.country = "SRB".into()),
        ];
        assert!(NewAccount::parse(input()).is_ok());
        for (field, mutate) in cases {
            let mut bad = input();
            mutate(&mut bad);
            assert_eq!(NewAccount::parse(bad).map(|_| ()).unwrap_err().field, *field);
        }
    }

    #[test]
    fn a_merchant_is_linked_by_id_or_metadata() {
        let account = NewAccount::parse(input()).unwrap().into_account(uuid::Uuid::nil(), "acct_1".into(), Utc::now());
        assert!(account.is_linked_to("merchant-7"));
        assert!(account.is_linked_to(&uuid::Uuid::nil().to_string()));
        assert!(!account.is_linked_to("merchant-8"));
    }

    #[test]
    fn the_gateway_state_moves_the_status_as_the_state_machine_allows() {
        let now = Utc::now();
        let pending = NewAccount::parse(input()).unwrap().into_account(uuid::Uuid::nil(), "acct_1".into(), now);
        let due = GatewayAccountState { disabled_reason: Some("requirements.past_due".into()), ..Default::default() };
        assert_eq!(pending.with_gateway_state(&due, now).status, AccountStatus::Pending);
        let verified =
            GatewayAccountState { charges_enabled: true, payouts_enabled: true, details_submitted: true, disabled_reason: None };
        let active = pending.with_gateway_state(&verified, now);
        assert_eq!(active.status, AccountStatus::Active);
        assert!(active.payouts_enabled && active.charges_enabled && active.details_submitted);
        let lost_payouts = GatewayAccountState { payouts_enabled: false, ..verified.clone() };
        let restricted = active.with_gateway_state(&lost_payouts, now);
        assert_eq!((restricted.status, restricted.payouts_enabled), (AccountStatus::Restricted, false));
        assert_eq!(restricted.with_gateway_state(&verified, now).status, AccountStatus::Active);
        let rejected = GatewayAccountState { disabled_reason: Some("rejected.fraud".into()), ..Default::default() };
        assert_eq!(active.with_gateway_state(&rejected, now).status, AccountStatus::Disabled);
        assert_eq!(pending.with_gateway_state(&rejected, now).status, AccountStatus::Pending, "pending cannot become disabled");
    }

    #[test]
    fn onboarding_activates_and_enables_everything() {
        let account = NewAccount::parse(input()).unwrap().into_account(uuid::Uuid::nil(), "acct_1".into(), Utc::now());
        assert!(account.status.can_become(AccountStatus::Active));
        let active = account.onboarded(Utc::now());
        assert_eq!(active.status, AccountStatus::Active);
        assert!(active.charges_enabled && active.payouts_enabled && active.details_submitted);
        assert!(!AccountStatus::Pending.can_become(AccountStatus::Disabled));
    }
}
