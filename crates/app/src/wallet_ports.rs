//! Storage port of the user wallet.

use chrono::{DateTime, Utc};
use domain::ledger::JournalEntry;
use domain::wallet::WalletTransaction;
use uuid::Uuid;

use crate::error::StoreError;
use crate::marketplace_ports::Guarded;
use crate::ports::{IdempotencyClaim, Page};

/// A wallet transaction's next state as decided under its row lock, with the
/// entries it posts and the extra history rows it adds (a failed withdrawal's
/// reversal).
#[derive(Debug, Clone)]
pub struct WalletChange {
    pub transaction: WalletTransaction,
    pub added: Vec<WalletTransaction>,
    pub entries: Vec<JournalEntry>,
}

pub type DecideWallet<'a> = &'a (dyn Fn(&WalletTransaction) -> Result<WalletChange, String> + Send + Sync);

#[async_trait::async_trait]
pub trait WalletStore: Send + Sync + 'static {
    /// (currency, balance in minor units) of every wallet currency the user holds.
    async fn wallet_balances(&self, user_id: &str) -> Result<Vec<(String, i64)>, StoreError>;
    /// Claims the key and writes the withdrawal with its entry; an overdraw is `Refused`.
    async fn create_withdrawal(
        &self,
        claim: Option<&IdempotencyClaim>,
        transaction: &WalletTransaction,
        entries: &[JournalEntry],
    ) -> Result<Guarded<WalletTransaction>, StoreError>;
    async fn wallet_transaction(&self, id: Uuid) -> Result<Option<WalletTransaction>, StoreError>;
    /// Newest first, with the total.
    async fn wallet_transactions(&self, user_id: &str, page: Page) -> Result<(Vec<WalletTransaction>, i64), StoreError>;
    async fn change_wallet_transaction(
        &self,
        id: Uuid,
        decide: DecideWallet<'_>,
    ) -> Result<Guarded<WalletTransaction>, StoreError>;
    /// Pending withdrawals of the mock's bank last changed before `before`, oldest first.
    async fn open_withdrawals(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<WalletTransaction>, StoreError>;
    /// Pending withdrawals a real gateway never answered, created before `before`.
    async fn unsent_withdrawals(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<WalletTransaction>, StoreError>;
    /// The gateway's transaction of the user's latest paid top-up through
    /// `gateway_name`: the card a withdrawal can be paid out to.
    async fn card_on_file(&self, user_id: &str, gateway_name: &str) -> Result<Option<String>, StoreError>;
}
