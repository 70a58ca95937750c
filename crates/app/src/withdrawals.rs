//! Wallet withdrawals a real gateway pays out to the card the user topped up with
//! (AllSecure for RSD and EUR). The wallet is debited when the withdrawal is
//! recorded; the gateway's answer or callback completes it, or fails it with the
//! money back. Without such a gateway, the mock's bank settles withdrawals.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::Money;
use domain::wallet::{WalletTransaction, WalletTransactionStatus};
use uuid::Uuid;

use crate::marketplace_ports::Guarded;
use crate::ports::{GatewayPayout, GatewayPayoutAnswer, PaymentGateway};
use crate::wallet::settle_withdrawal;
use crate::wallet_ports::WalletChange;
use crate::{App, AppError};

/// The gateway and the card a withdrawal goes to.
pub(crate) type CardRoute = (Arc<dyn PaymentGateway>, String);

impl App {
    /// Where a withdrawal of `amount` is paid: a card gateway for its currency and
    /// the user's card there, or `None` for the mock's bank. A card gateway without
    /// a card on file refuses before anything moves.
    pub(crate) async fn card_payout_route(&self, user_id: &str, amount: Money) -> Result<Option<CardRoute>, AppError> {
        let Some(gateway) = self.gateways.card_payout_gateway(amount.currency().code()) else {
            return Ok(None);
        };
        crate::checkout::check_limits(gateway.limits(), amount)?;
        let card = self.store.card_on_file(user_id, gateway.name()).await?.ok_or_else(|| {
            AppError::FailedPrecondition(format!(
                "no card on file with {} for {user_id}: a withdrawal is paid to the card of a top-up, so top up once first",
                gateway.name()
            ))
        })?;
        Ok(Some((gateway, card)))
    }

    /// Asks the gateway to pay the recorded withdrawal out (keyed by its id). A
    /// refusal gives the money back and is the caller's FAILED_PRECONDITION; no
    /// answer leaves it pending for the recovery job.
    pub(crate) async fn send_withdrawal(
        &self,
        gateway: &dyn PaymentGateway,
        withdrawal: WalletTransaction,
        card: String,
    ) -> Result<WalletTransaction, AppError> {
        let payout = GatewayPayout {
            id: withdrawal.id,
            amount: withdrawal.amount,
            card_reference: card,
            description: withdrawal.description.clone(),
        };
        let id = withdrawal.id;
        let recorded = match gateway.payout(&payout).await {
            Ok(GatewayPayoutAnswer::Paid { gateway_id }) => self.settle_card_withdrawal(id, true, &gateway_id).await,
            Ok(GatewayPayoutAnswer::Pending { gateway_id }) => {
                let keep = |current: &WalletTransaction| {
                    if current.status != WalletTransactionStatus::Pending {
                        return Err(format!("withdrawal is {}", current.status));
                    }
                    let kept = WalletTransaction { gateway_transaction_id: Some(gateway_id.clone()), ..current.clone() };
                    Ok(WalletChange { transaction: kept, added: vec![], entries: vec![] })
                };
                self.change_withdrawal(id, &keep).await
            }
            Err(error) if error.keeps_pending() => {
                error.log_kept_pending("withdrawal", withdrawal.id);
                Ok(withdrawal)
            }
            Err(error) => {
                tracing::warn!(withdrawal_id = %withdrawal.id, %error, "gateway refused the withdrawal; the money goes back to the wallet");
                let failed = |current: &WalletTransaction| settle_withdrawal(current, false, None, Utc::now());
                self.change_withdrawal(withdrawal.id, &failed).await?;
                return Err(AppError::FailedPrecondition(error.to_string()));
            }
        };
        match recorded {
            // Its callback settled it while we waited for the answer: report that.
            Err(AppError::FailedPrecondition(_)) => {
                self.store.wallet_transaction(id).await?.ok_or(AppError::NotFound("withdrawal"))
            }
            other => other,
        }
    }

    /// A gateway's final word on a withdrawal (its answer or a callback).
    pub(crate) async fn settle_card_withdrawal(
        &self,
        id: Uuid,
        paid: bool,
        gateway_id: &str,
    ) -> Result<WalletTransaction, AppError> {
        let settle = |current: &WalletTransaction| settle_withdrawal(current, paid, Some(gateway_id), Utc::now());
        self.change_withdrawal(id, &settle).await
    }

    async fn change_withdrawal(
        &self,
        id: Uuid,
        decide: crate::wallet_ports::DecideWallet<'_>,
    ) -> Result<WalletTransaction, AppError> {
        match self.store.change_wallet_transaction(id, decide).await? {
            Guarded::Done(transaction) => Ok(transaction),
            Guarded::Refused(reason) => Err(AppError::FailedPrecondition(reason)),
            Guarded::KeyExists { .. } => Err(AppError::NotFound("wallet transaction")),
        }
    }

    /// Withdrawals a card gateway never answered are sent again with the same id.
    pub(crate) async fn recover_withdrawals(&self, before: DateTime<Utc>, limit: i64) -> Result<usize, AppError> {
        let mut recovered = 0;
        for withdrawal in self.store.unsent_withdrawals(before, limit).await? {
            let (gateway, card) = match self.card_payout_route(&withdrawal.user_id, withdrawal.amount).await {
                Ok(Some(route)) => route,
                outcome => {
                    let why = outcome.err().map_or_else(|| "no card gateway for its currency".to_owned(), |e| e.to_string());
                    tracing::error!(withdrawal_id = %withdrawal.id, why, "a pending withdrawal cannot be sent again: settle it by hand");
                    continue;
                }
            };
            match self.send_withdrawal(gateway.as_ref(), withdrawal, card).await {
                Ok(sent) => recovered += usize::from(sent.gateway_transaction_id.is_some()),
                Err(AppError::FailedPrecondition(_)) => recovered += 1,
                Err(error) => return Err(error),
            }
        }
        Ok(recovered)
    }
}
