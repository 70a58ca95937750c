//! The user wallet: top-up through a checkout, withdrawal, history.

use chrono::{DateTime, Utc};
use domain::payment::{CheckoutInput, Payment, PaymentType};
use domain::validation::IdempotencyKey;
use domain::wallet::{WalletTransaction, WalletTransactionKind, WalletTransactionStatus};
use domain::{Currency, FieldError, Money};
use uuid::Uuid;

use crate::auth::Principal;
use crate::marketplace_ports::Guarded;
use crate::ports::Page;
use crate::transfers::parse_description;
use crate::wallet_ports::WalletChange;
use crate::{App, AppError, idempotency};

const WITHDRAW_METHOD: &str = "Withdraw";
/// A withdrawal whose description starts with this fails at the mock gateway (tests,
/// demos); the same marker as the mock's refunds and transfers.
pub const MOCK_FAILURE_PREFIX: &str = "mock_failure:";
/// How many open withdrawals one scheduler tick settles.
pub const WITHDRAWAL_BATCH_MAX: i64 = 100;

/// A wallet top-up as a client asks for it.
#[derive(Debug, Clone, Default)]
pub struct DepositInput {
    pub user_id: String,
    pub amount: String,
    pub currency: String,
    pub gateway_name: String,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: String,
}

impl App {
    /// Balances per currency, read from the ledger.
    pub async fn wallet(&self, principal: &Principal, user_id: &str) -> Result<Vec<Money>, AppError> {
        require_user(user_id)?;
        principal.ensure_acts_for(user_id)?;
        let balances = self.store.wallet_balances(user_id).await?;
        balances
            .into_iter()
            .map(|(code, minor)| Ok(Money::from_minor(minor, Currency::parse("currency", &code).map_err(AppError::from)?)))
            .collect()
    }

    /// A checkout of type balance_deposit; its success credits the wallet once.
    pub async fn deposit(&self, principal: &Principal, input: DepositInput) -> Result<Payment, AppError> {
        let checkout = CheckoutInput {
            user_id: input.user_id,
            amount: input.amount,
            currency: input.currency,
            payment_type: Some(PaymentType::BalanceDeposit),
            success_url: input.success_url,
            cancel_url: input.cancel_url,
            gateway_name: input.gateway_name,
            idempotency_key: input.idempotency_key,
            ..CheckoutInput::default()
        };
        self.create_checkout(principal, checkout).await
    }

    /// Debits the wallet at once (pending); the gateway completes or fails it later.
    pub async fn withdraw(
        &self,
        principal: &Principal,
        user_id: &str,
        amount: &str,
        currency: &str,
        description: &str,
        idempotency_key: &str,
    ) -> Result<WalletTransaction, AppError> {
        require_user(user_id)?;
        let amount = Money::parse_request(amount, currency)?;
        let currency = amount.currency();
        let description = parse_description(description)?;
        let key = IdempotencyKey::parse_optional("idempotency_key", idempotency_key)?;
        principal.ensure_acts_for(user_id)?;
        let fields = vec![user_id.to_owned(), amount.minor().to_string(), currency.code().to_owned(), description.clone()];
        let claim = idempotency::claim(principal, key.as_ref(), WITHDRAW_METHOD, &fields);
        let route = self.card_payout_route(user_id, amount).await?;
        let now = Utc::now();
        let withdrawal = WalletTransaction {
            id: Uuid::now_v7(),
            user_id: user_id.to_owned(),
            kind: WalletTransactionKind::Withdrawal,
            amount,
            status: WalletTransactionStatus::Pending,
            description,
            payment_id: None,
            idempotency_key: key.as_ref().map(|k| k.as_str().to_owned()),
            gateway_name: route.as_ref().map(|(gateway, _)| gateway.name().to_owned()),
            gateway_transaction_id: None,
            created_at: now,
            updated_at: now,
        };
        let entry = withdrawal.withdrawal_entry().map_err(AppError::internal)?;
        match self.store.create_withdrawal(claim.as_ref(), &withdrawal, &[entry]).await? {
            Guarded::Done(withdrawal) => match route {
                Some((gateway, card)) => self.send_withdrawal(gateway.as_ref(), withdrawal, card).await,
                None => Ok(withdrawal),
            },
            Guarded::KeyExists { request_hash, method, resource_id } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let id = idempotency::replayed_id(resource_id)?;
                self.store.wallet_transaction(id).await?.ok_or(AppError::NotFound("wallet transaction"))
            }
            Guarded::Refused(reason) => Err(AppError::FailedPrecondition(reason)),
        }
    }

    pub async fn wallet_transactions(
        &self,
        principal: &Principal,
        user_id: &str,
        page: Page,
    ) -> Result<(Vec<WalletTransaction>, i64), AppError> {
        require_user(user_id)?;
        principal.ensure_acts_for(user_id)?;
        Ok(self.store.wallet_transactions(user_id, page).await?)
    }

    /// The mock gateway's bank: pending withdrawals last changed before `before`
    /// complete, or fail (money back) when their description asks to.
    pub async fn advance_mock_withdrawals(&self, before: DateTime<Utc>) -> Result<usize, AppError> {
        let open = self.store.open_withdrawals(before, WITHDRAWAL_BATCH_MAX).await?;
        let mut settled = 0;
        for withdrawal in open {
            let paid = !withdrawal.description.starts_with(MOCK_FAILURE_PREFIX);
            let settle = |current: &WalletTransaction| settle_withdrawal(current, paid, None, Utc::now());
            match self.store.change_wallet_transaction(withdrawal.id, &settle).await? {
                Guarded::Done(_) => settled += 1,
                Guarded::Refused(reason) => tracing::debug!(transaction_id = %withdrawal.id, reason, "withdrawal not settled"),
                Guarded::KeyExists { .. } => {}
            }
        }
        Ok(settled)
    }
}

/// Completes a pending withdrawal (`paid`), or fails it and writes the reversal that
/// returns the money; keeps the gateway's id when it gave one.
pub(crate) fn settle_withdrawal(
    current: &WalletTransaction,
    paid: bool,
    gateway_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<WalletChange, String> {
    if current.status != WalletTransactionStatus::Pending {
        return Err(format!("withdrawal is {}", current.status));
    }
    let ledger = |e: domain::ledger::LedgerError| e.to_string();
    let gateway_transaction_id = gateway_id.map(str::to_owned).or_else(|| current.gateway_transaction_id.clone());
    let current = &WalletTransaction { gateway_transaction_id, ..current.clone() };
    if !paid {
        let failed = WalletTransaction { status: WalletTransactionStatus::Failed, updated_at: now, ..current.clone() };
        let reversal = WalletTransaction {
            id: Uuid::now_v7(),
            kind: WalletTransactionKind::WithdrawalReversal,
            status: WalletTransactionStatus::Completed,
            description: format!("withdrawal {} failed: money returned", current.id),
            idempotency_key: None,
            created_at: now,
            updated_at: now,
            ..current.clone()
        };
        return Ok(WalletChange {
            transaction: failed,
            added: vec![reversal],
            entries: vec![current.reversal_entry().map_err(ledger)?],
        });
    }
    let completed = WalletTransaction { status: WalletTransactionStatus::Completed, updated_at: now, ..current.clone() };
    Ok(WalletChange { transaction: completed, added: vec![], entries: vec![current.completed_entry().map_err(ledger)?] })
}

fn require_user(user_id: &str) -> Result<(), FieldError> {
    domain::payment::parse_client_id("user_id", user_id).map(drop)
}
