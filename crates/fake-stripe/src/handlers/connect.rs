//! Connected accounts and their onboarding links.

use serde_json::{Map, Value, json};

use super::Ctx;
use crate::errors::ApiError;
use crate::state::{FakeState, new_id, text};

/// Account links are short-lived in Stripe.
const ACCOUNT_LINK_LIFETIME_S: i64 = 300;
/// What a fresh Express account still owes Stripe before it can be paid.
const FIRST_REQUIREMENTS: &[&str] = &["external_account", "tos_acceptance.date"];
const EURO_COUNTRIES: &[&str] =
    &["AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK"];

impl FakeState {
    pub(crate) fn create_account(&mut self, ctx: &Ctx) -> Result<Value, ApiError> {
        if ctx.account.is_some() {
            return Err(ApiError::invalid(
                "Connected accounts are created by the platform: send POST /v1/accounts without Stripe-Account.",
            ));
        }
        let form = &ctx.form;
        let country = form.get("country").unwrap_or("US").to_string();
        let mut capabilities = Map::new();
        for name in form.indices("capabilities") {
            if form.get(&format!("capabilities[{name}][requested]")) == Some("true") {
                capabilities.insert(name, json!("inactive"));
            }
        }
        let account = json!({
            "id": new_id("acct_"),
            "object": "account",
            "type": form.get("type"),
            "country": country,
            "default_currency": form.get("default_currency").map_or_else(|| default_currency(&country).to_string(), str::to_string),
            "email": form.get("email"),
            "business_type": form.get("business_type"),
            "charges_enabled": false,
            "payouts_enabled": false,
            "details_submitted": false,
            "capabilities": capabilities,
            "requirements": {
                "currently_due": FIRST_REQUIREMENTS,
                "eventually_due": FIRST_REQUIREMENTS,
                "past_due": FIRST_REQUIREMENTS,
                "current_deadline": null,
                "disabled_reason": "requirements.past_due",
                "errors": [],
            },
            "settings": {
                "payouts": {
                    "debit_negative_balances": false,
                    "schedule": {
                        "interval": form.get("settings[payouts][schedule][interval]").unwrap_or("daily"),
                        "delay_days": 2,
                    },
                    "statement_descriptor": form.get("settings[payouts][statement_descriptor]"),
                },
            },
            "metadata": form.map("metadata"),
            "created": ctx.now,
        });
        Ok(self.insert(None, account))
    }

    pub(crate) fn create_account_link(&mut self, ctx: &Ctx) -> Result<Value, ApiError> {
        if ctx.account.is_some() {
            return Err(ApiError::invalid(
                "Account links are created by the platform: send POST /v1/account_links without Stripe-Account.",
            ));
        }
        let account_id = ctx.form.get("account").unwrap_or_default();
        let account = self.visible(account_id, "account", None).ok_or_else(|| {
            ApiError::invalid(format!("No such account: '{account_id}'")).code("resource_missing").param("account")
        })?;
        // Stripe's onboarding URLs differ by account type: /e/ express, /s/ standard, /c/ custom.
        let kind = match text(account, "type") {
            "standard" => "s",
            "custom" => "c",
            _ => "e",
        };
        let secret: String = new_id("").chars().take(12).collect();
        let link = json!({
            "object": "account_link",
            "url": format!("https://connect.stripe.com/setup/{kind}/{account_id}/{secret}"),
            "created": ctx.now,
            "expires_at": ctx.now + ACCOUNT_LINK_LIFETIME_S,
        });
        Ok(self.insert(None, link))
    }

    /// Test control standing for what Stripe changes during onboarding (`account.updated`).
    pub(crate) fn update_account(
        &mut self,
        id: &str,
        charges_enabled: bool,
        payouts_enabled: bool,
        details_submitted: bool,
        disabled_reason: Option<&str>,
    ) -> Option<Value> {
        let account = self.get_mut(id).filter(|a| text(a, "object") == "account")?;
        account["charges_enabled"] = json!(charges_enabled);
        account["payouts_enabled"] = json!(payouts_enabled);
        account["details_submitted"] = json!(details_submitted);
        account["requirements"]["disabled_reason"] = json!(disabled_reason);
        if details_submitted {
            for list in ["currently_due", "eventually_due", "past_due"] {
                account["requirements"][list] = json!([]);
            }
        }
        if let Some(capabilities) = account.get_mut("capabilities").and_then(Value::as_object_mut) {
            for (name, status) in capabilities.iter_mut() {
                let active = if name == "transfers" { payouts_enabled } else { charges_enabled };
                *status = json!(if active { "active" } else { "inactive" });
            }
        }
        Some(account.clone())
    }
}

/// Stripe derives an account's default currency from its country.
fn default_currency(country: &str) -> &'static str {
    match country {
        "GB" => "gbp",
        "CA" => "cad",
        "CH" => "chf",
        "AU" => "aud",
        "JP" => "jpy",
        "SE" => "sek",
        "DK" => "dkk",
        "NO" => "nok",
        "PL" => "pln",
        "CZ" => "czk",
        "HU" => "huf",
        "RO" => "ron",
        "BG" => "bgn",
        c if EURO_COUNTRIES.contains(&c) => "eur",
        _ => "usd",
    }
}
