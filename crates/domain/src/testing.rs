//! Fixtures for the tests of this crate and of the crates around it (feature
//! `testing`): one way to make the records many tests need.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::{AccountInput, AccountType, ConnectedAccount, NewAccount};

/// A vendor's connected account as created, before onboarding (`onboarded` makes it
/// active); its gateway id is derived from `id`.
#[expect(clippy::expect_used, reason = "a fixture that cannot be built fails the test using it")]
pub fn vendor_account(id: Uuid, now: DateTime<Utc>) -> ConnectedAccount {
    let input = AccountInput {
        email: "vendor@example.com".into(),
        account_type: Some(AccountType::Express),
        business_type: "individual".into(),
        country: "US".into(),
        ..AccountInput::default()
    };
    NewAccount::parse(input).expect("a valid account").into_account(id, format!("acct_{}", id.simple()), now)
}
