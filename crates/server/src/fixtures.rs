//! Demo data (`FIXTURES_ENABLED`): vendors onboarded on the mock, their split rules
//! and a few paid orders, so that a console and the example shop have something to
//! show. Everything goes through the use cases, as a platform's calls would; each
//! step first looks for what an earlier start made (the fixture's key is in the
//! account's metadata, the rule's name, the payment's idempotency key), so a second
//! start adds nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use app::ports::Page;
use app::{App, AppError, Principal, Role};
use domain::accounts::DISPLAY_NAME_METADATA_KEY;
use domain::accounts::{AccountInput, AccountStatus, AccountType, ConnectedAccount};
use domain::escrow::EscrowStatus;
use domain::fees::{SplitRuleInput, SplitRuleType};
use domain::payment::{CheckoutInput, PaymentOutcome, PaymentStatus, PaymentType};
use serde::Deserialize;

/// The account metadata key that names the fixture vendor an account was made for.
pub const FIXTURE_METADATA_KEY: &str = "fixture";
/// Fixture payments' redirect URLs: fixed, since they are part of the replayed request.
const SUCCESS_URL: &str = "https://shop.example/demo/success?session={CHECKOUT_SESSION_ID}";
const CANCEL_URL: &str = "https://shop.example/demo/cancel";
/// More accounts than a demo has; the lookup reads them all in pages of this size.
const ACCOUNT_PAGE: i64 = 100;

/// The demo data file (`fixtures/demo.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    pub vendors: Vec<Vendor>,
    #[serde(default)]
    pub payments: Vec<FixturePayment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    /// Stable name of the vendor across starts (kept in the account's metadata).
    pub key: String,
    pub name: String,
    pub email: String,
    pub business_type: String,
    pub country: String,
    /// The merchant's token subject (the account's `metadata.user_id`).
    pub owner: String,
    #[serde(default)]
    pub split_rules: Vec<FixtureRule>,
    #[serde(default)]
    pub products: Vec<Product>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureRule {
    /// Unique per vendor: an existing rule of that name is not made again.
    pub name: String,
    pub rule_type: String,
    pub value: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub priority: i32,
    /// The payment amounts the rule is for (decimal strings; empty: no bound).
    #[serde(default)]
    pub min_amount: String,
    #[serde(default)]
    pub max_amount: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Decimal string in the currency's standard unit.
    pub price: String,
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixturePayment {
    /// Its idempotency key is `fixture-{key}`.
    pub key: String,
    pub buyer: String,
    /// A vendor's `key`.
    pub vendor: String,
    /// One of that vendor's products.
    pub sku: String,
    /// 0 = no escrow: the money stays with the platform.
    #[serde(default)]
    pub escrow_hold_days: i32,
    /// Release the hold at once (the vendor is paid), as a delivered order.
    #[serde(default)]
    pub release: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read the fixtures file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the fixtures file {path} is not valid: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("fixture {what}: {problem}")]
    Invalid { what: String, problem: String },
    #[error("fixture {what}: {source}")]
    Refused { what: String, source: AppError },
}

impl Fixtures {
    pub fn read(path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read { path: path.into(), source })?;
        let fixtures: Self = serde_json::from_str(&text).map_err(|source| FixtureError::Parse { path: path.into(), source })?;
        fixtures.check()?;
        Ok(fixtures)
    }

    /// What serde cannot see: every payment names a vendor and a product of it.
    fn check(&self) -> Result<(), FixtureError> {
        for payment in &self.payments {
            let invalid = |problem: String| FixtureError::Invalid { what: format!("payment '{}'", payment.key), problem };
            let vendor =
                self.vendor(&payment.vendor).ok_or_else(|| invalid(format!("vendor '{}' is not in vendors", payment.vendor)))?;
            if vendor.product(&payment.sku).is_none() {
                return Err(invalid(format!("sku '{}' is not a product of '{}'", payment.sku, vendor.key)));
            }
        }
        Ok(())
    }

    pub fn vendor(&self, key: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.key == key)
    }
}

impl Vendor {
    pub fn product(&self, sku: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.sku == sku)
    }

    /// Whether `account` was made for this vendor.
    pub fn made(&self, account: &ConnectedAccount) -> bool {
        account.metadata.get(FIXTURE_METADATA_KEY) == Some(&self.key)
    }
}

/// What a load made, and what it found already there.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub created: usize,
    pub existing: usize,
}

impl Loaded {
    fn count(&mut self, created: bool) {
        if created { self.created += 1 } else { self.existing += 1 }
    }
}

/// Loads `fixtures` through the use cases; what exists already is left as it is.
pub async fn load(app: &App, fixtures: &Fixtures) -> Result<Loaded, FixtureError> {
    let principal = Principal { subject: "fixtures".into(), roles: vec![Role::Service] };
    let mut loaded = Loaded::default();
    let existing = all_accounts(app, &principal).await?;
    let mut accounts = BTreeMap::new();
    for vendor in &fixtures.vendors {
        let found = existing.iter().find(|a| vendor.made(a)).cloned();
        loaded.count(found.is_none());
        let account = match found {
            Some(account) => account,
            None => create_account(app, &principal, vendor).await?,
        };
        onboard(app, &principal, vendor, &account).await?;
        for rule in &vendor.split_rules {
            loaded.count(ensure_rule(app, &principal, vendor, &account, rule).await?);
        }
        accounts.insert(vendor.key.as_str(), account);
    }
    for payment in &fixtures.payments {
        let (Some(vendor), Some(account)) = (fixtures.vendor(&payment.vendor), accounts.get(payment.vendor.as_str())) else {
            continue;
        };
        loaded.count(ensure_payment(app, &principal, vendor, account, payment).await?);
    }
    tracing::info!(created = loaded.created, existing = loaded.existing, "fixtures loaded");
    Ok(loaded)
}

async fn all_accounts(app: &App, principal: &Principal) -> Result<Vec<ConnectedAccount>, FixtureError> {
    let mut accounts = Vec::new();
    loop {
        let page = Page { limit: ACCOUNT_PAGE, offset: accounts.len() as i64 };
        let (batch, total) = app.accounts(principal, None, page).await.map_err(refused("accounts"))?;
        let empty = batch.is_empty();
        accounts.extend(batch);
        if empty || accounts.len() as i64 >= total {
            return Ok(accounts);
        }
    }
}

fn refused(what: impl Into<String>) -> impl FnOnce(AppError) -> FixtureError {
    let what = what.into();
    move |source| FixtureError::Refused { what, source }
}

async fn create_account(app: &App, principal: &Principal, vendor: &Vendor) -> Result<ConnectedAccount, FixtureError> {
    let metadata = [
        (domain::accounts::OWNER_METADATA_KEY.to_owned(), vendor.owner.clone()),
        (FIXTURE_METADATA_KEY.to_owned(), vendor.key.clone()),
        (DISPLAY_NAME_METADATA_KEY.to_owned(), vendor.name.clone()),
    ];
    let input = AccountInput {
        email: vendor.email.clone(),
        account_type: Some(AccountType::Express),
        business_type: vendor.business_type.clone(),
        country: vendor.country.clone(),
        metadata: metadata.into(),
    };
    app.create_account(principal, input).await.map_err(refused(format!("vendor '{}'", vendor.key)))
}

/// KYC on the mock's onboarding link, as the vendor would on its page.
async fn onboard(app: &App, principal: &Principal, vendor: &Vendor, account: &ConnectedAccount) -> Result<(), FixtureError> {
    if account.status == AccountStatus::Active {
        return Ok(());
    }
    let what = format!("vendor '{}' onboarding", vendor.key);
    let id = account.id.to_string();
    let (url, _) = app.create_account_link(principal, &id, CANCEL_URL, CANCEL_URL).await.map_err(refused(what.as_str()))?;
    let link_id = reqwest::Url::parse(&url)
        .ok()
        .and_then(|url| url.query_pairs().find(|(name, _)| name == "link_id").map(|(_, value)| value.into_owned()))
        .ok_or_else(|| FixtureError::Invalid {
            what: what.clone(),
            problem: format!("{url} is not the mock's onboarding page"),
        })?;
    app.complete_mock_onboarding(&id, &link_id).await.map_err(refused(what))?;
    Ok(())
}

/// Makes the rule unless the vendor has one of its name; true when made.
async fn ensure_rule(
    app: &App,
    principal: &Principal,
    vendor: &Vendor,
    account: &ConnectedAccount,
    rule: &FixtureRule,
) -> Result<bool, FixtureError> {
    let what = format!("vendor '{}' split rule '{}'", vendor.key, rule.name);
    let id = account.id.to_string();
    let (rules, _) = app.split_rules(principal, &id, Page { limit: 100, offset: 0 }).await.map_err(refused(what.as_str()))?;
    if rules.iter().any(|r| r.name == rule.name) {
        return Ok(false);
    }
    let input = SplitRuleInput {
        name: rule.name.clone(),
        connected_account_id: id,
        rule_type: SplitRuleType::from_str_opt(&rule.rule_type),
        value: rule.value.clone(),
        priority: rule.priority,
        currency: rule.currency.clone(),
        min_amount: rule.min_amount.clone(),
        max_amount: rule.max_amount.clone(),
    };
    app.create_split_rule(principal, input).await.map_err(refused(what))?;
    Ok(true)
}

/// A paid order: the checkout is replayed by its key, the mock page's success is a
/// duplicate event once applied, and a released hold is not released again.
async fn ensure_payment(
    app: &App,
    principal: &Principal,
    vendor: &Vendor,
    account: &ConnectedAccount,
    fixture: &FixturePayment,
) -> Result<bool, FixtureError> {
    let what = format!("payment '{}'", fixture.key);
    let product = vendor.product(&fixture.sku).ok_or_else(|| FixtureError::Invalid {
        what: what.clone(),
        problem: format!("sku '{}' is not a product of '{}'", fixture.sku, vendor.key),
    })?;
    let input = CheckoutInput {
        user_id: fixture.buyer.clone(),
        amount: product.price.clone(),
        currency: product.currency.clone(),
        payment_type: Some(PaymentType::ProductB2c),
        success_url: SUCCESS_URL.into(),
        cancel_url: CANCEL_URL.into(),
        escrow_enabled: fixture.escrow_hold_days > 0,
        escrow_hold_days: fixture.escrow_hold_days,
        merchant_id: account.id.to_string(),
        buyer_id: fixture.buyer.clone(),
        gateway_name: "mock".into(),
        idempotency_key: format!("fixture-{}", fixture.key),
        metadata: [("description".to_owned(), product.name.clone()), ("sku".to_owned(), product.sku.clone())].into(),
    };
    let payment = app.create_checkout(principal, input).await.map_err(refused(what.as_str()))?;
    let created = payment.status != PaymentStatus::Succeeded;
    if created {
        let session = payment.gateway_session_id.clone().unwrap_or_default();
        app.complete_mock_checkout(&session, PaymentOutcome::Succeeded).await.map_err(refused(what.as_str()))?;
    }
    if fixture.release {
        let hold = app.escrow_by_payment(principal, &payment.id.to_string()).await.map_err(refused(what.as_str()))?;
        if hold.status == EscrowStatus::Holding {
            app.release_escrow(principal, &hold.id.to_string()).await.map_err(refused(what))?;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Fixtures {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo.json");
        Fixtures::read(&path).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn the_shipped_file_has_two_vendors_with_products_and_escrowed_payments() {
        let fixtures = shipped();
        assert_eq!(fixtures.vendors.len(), 2);
        assert!(fixtures.vendors.iter().all(|v| !v.products.is_empty() && !v.split_rules.is_empty()));
        assert!(fixtures.payments.iter().any(|p| p.escrow_hold_days > 0));
    }

    #[test]
    fn a_payment_of_an_unknown_vendor_or_product_is_named() {
        let mut fixtures = shipped();
        fixtures.payments[0].sku = "no-such-sku".into();
        let message = fixtures.check().map(|()| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(message.contains("payment 'demo-order-1'") && message.contains("no-such-sku"), "{message}");
        fixtures.payments[0].vendor = "nobody".into();
        let message = fixtures.check().map(|()| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(message.contains("vendor 'nobody'"), "{message}");
    }
}
