//! Transfers to vendors and their reversals. Money moves in the ledger in the same
//! transaction as the row; the gateway is called after commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::accounts::{AccountStatus, ConnectedAccount};
use domain::fees::{SplitRule, calculate_fee};
use domain::ledger::{JournalEntry, LedgerError};
use domain::payment::{PaymentStatus, parse_optional_uuid, parse_uuid};
use domain::transfers::{
    DESCRIPTION_LEN_MAX, ReversalSplit, ReversalStatus, Transfer, TransferReversal, TransferStatus, fee_entry, receivable,
    recovery, recovery_entry,
};
use domain::validation::{IdempotencyKey, validate_metadata};
use domain::{FieldError, Money};
use uuid::Uuid;

use crate::auth::Principal;
use crate::gateways::ConnectGateways;
use crate::marketplace_ports::{
    Guarded, LinkedPayment, PaymentSplit, ReversalPlan, TransferPlan, TransferRequest, TransferSettlement,
};
use crate::ports::Page;
use crate::{App, AppError, idempotency};

const CREATE_METHOD: &str = "CreateTransfer";
const REVERSE_METHOD: &str = "ReverseTransfer";

#[derive(Debug, Clone, Default)]
pub struct TransferInput {
    pub connected_account_id: String,
    pub amount: String,
    pub currency: String,
    pub payment_id: String,
    pub description: String,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

pub(crate) fn parse_description(text: &str) -> Result<String, FieldError> {
    domain::validation::parse_free_text("description", text, DESCRIPTION_LEN_MAX)
}

/// A reversal of `amount` (not more than what remains), its transfer and entry. What
/// reached the vendor comes back first: taken from the vendor's balance
/// (`balance_minor`) as far as it goes, the rest owed on its receivable and
/// recovered from its next transfers. Beyond it, the part of the share that repaid
/// the vendor's debt gives that debt back: nothing to ask a gateway for, so a
/// reversal of that part alone is recorded succeeded.
pub(crate) fn plan_reversal(
    (transfer, balance_minor): (&Transfer, i64),
    id: Uuid,
    amount: i64,
    description: &str,
    idempotency_key: Option<String>,
    status: ReversalStatus,
) -> Result<ReversalPlan, String> {
    if !matches!(transfer.status, TransferStatus::Paid | TransferStatus::PartiallyReversed) {
        return Err(format!("transfer is {}, only a paid transfer can be reversed", transfer.status));
    }
    let rest = transfer.reversible_minor();
    if amount > rest {
        return Err(format!(
            "amount exceeds what remains to reverse ({})",
            Money::from_minor(rest, transfer.amount.currency()).to_decimal_string()
        ));
    }
    let now = Utc::now();
    let (sent, recovered) = transfer.reversal_parts(amount);
    let reversal = TransferReversal {
        id,
        transfer_id: transfer.id,
        amount: Money::from_minor(amount, transfer.amount.currency()),
        recovered_minor: recovered,
        description: description.to_owned(),
        idempotency_key,
        status: if sent == 0 { ReversalStatus::Succeeded } else { status },
        gateway_reversal_id: None,
        created_at: now,
    };
    let mut updated = transfer.clone();
    updated.reversed_minor += amount;
    updated.reversed_recovered_minor += recovered;
    updated.status = transfer.status_after_reversal(updated.reversed_minor);
    updated.updated_at = now;
    let split = ReversalSplit::of(sent, balance_minor);
    let entries = vec![transfer.reversal_entry(&reversal, split).map_err(ledger)?];
    Ok(ReversalPlan { reversal, transfer: updated, entries })
}

/// What a CreateTransfer asks for, fixed before it queues for its batch. Its ids are
/// made here, once: a plan made again (the batch's transaction failed, perhaps after
/// its commit went through) writes the same transfer, which the database then
/// refuses as a duplicate instead of moving the money twice.
struct TransferDraft {
    transfer_id: Uuid,
    split_id: Uuid,
    payment_id: Option<Uuid>,
    amount: Money,
    description: String,
    metadata: BTreeMap<String, String>,
    idempotency_key: Option<String>,
    /// The vendor's fee rules, read only for a transfer linked to a payment.
    rules: Vec<SplitRule>,
    /// The gateways: one that makes a transfer without a call has it written paid.
    connect: Arc<ConnectGateways>,
    available_on: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl TransferDraft {
    /// The transfer to write for this vendor's account, the linked payment (locked)
    /// and the vendor's receivable balance, or the refusal.
    fn plan(
        &self,
        account: &ConnectedAccount,
        linked: Option<&LinkedPayment>,
        receivable_balance: i64,
    ) -> Result<TransferPlan, String> {
        // Checked after the key's claim (a retry of a transfer that succeeded
        // replays it), before any money moves.
        if account.status != AccountStatus::Active {
            return Err(format!("connected account is {}, transfers need an active account", account.status));
        }
        let transfer = Transfer {
            id: self.transfer_id,
            idempotency_key: self.idempotency_key.clone(),
            metadata: self.metadata.clone(),
            ..Transfer::pending(account, self.payment_id, self.amount, self.description.clone(), self.available_on, self.now)
        };
        let mut entries = Vec::new();
        let mut split = None;
        if let Some(linked) = linked {
            let payment = &linked.payment;
            if payment.status != PaymentStatus::Succeeded {
                return Err(format!(
                    "payment {} is {}, only a succeeded payment's money can be transferred",
                    payment.id, payment.status
                ));
            }
            if payment.escrow.is_some() {
                return Err(format!("payment {} is held in escrow: release the escrow instead", payment.id));
            }
            if payment.amount.currency() != self.amount.currency() {
                return Err(format!("currency must be {} like the payment's", payment.amount.currency()));
            }
            let fee = match linked.fee_taken_minor {
                Some(fee) => fee,
                None => {
                    let quote = calculate_fee(&self.rules, Some(account.id), payment.amount);
                    split = Some(PaymentSplit {
                        id: self.split_id,
                        payment_id: payment.id,
                        rule_id: quote.applied_rule.as_ref().map(|r| r.rule_id),
                        fee_minor: quote.fee.minor(),
                        transfer_minor: quote.transfer_amount.minor(),
                        currency: payment.amount.currency().code(),
                    });
                    entries.extend(fee_entry(payment.id, quote.fee).map_err(ledger)?);
                    quote.fee.minor()
                }
            };
            let rest = payment.amount.minor() - payment.refunded_minor - fee - linked.transferred_minor;
            if self.amount.minor() > rest {
                return Err(format!(
                    "amount exceeds what payment {} left on the platform ({} after fee, refunds and earlier transfers)",
                    payment.id,
                    Money::from_minor(rest.max(0), self.amount.currency()).to_decimal_string()
                ));
            }
        }
        // The vendor's debt is repaid first; the vendor is credited the rest (a
        // debt that takes it all leaves a transfer settled with nothing to send).
        let recovered = recovery(-receivable_balance.min(0), self.amount);
        let transfer = transfer.net_of_recovery(recovered, self.now);
        entries.extend(recovery_entry(transfer.id.to_string(), account.id, recovered).map_err(ledger)?);
        let transfer = with_entries(&self.connect, transfer, self.now, &mut entries).map_err(ledger)?;
        Ok(TransferPlan { transfer, split, entries })
    }
}

/// A new transfer's entries (added to `entries`) and the transfer to write: a pending
/// one whose gateway makes it without a call (the mock) written paid, with its
/// maturation entry when its funds are due at once; any other as it is.
pub(crate) fn with_entries(
    connect: &ConnectGateways,
    transfer: Transfer,
    now: DateTime<Utc>,
    entries: &mut Vec<JournalEntry>,
) -> Result<Transfer, LedgerError> {
    entries.extend(transfer.entry()?);
    let gateway_id = match transfer.status {
        TransferStatus::Pending => connect.for_account(&transfer.gateway_account_id).transfer_without_call(&transfer),
        _ => None,
    };
    let Some(gateway_id) = gateway_id else { return Ok(transfer) };
    let (paid, maturation) = transfer.paid_by_gateway(gateway_id, now)?;
    entries.extend(maturation);
    Ok(paid)
}

fn ledger(error: LedgerError) -> String {
    format!("ledger entry refused: {error}")
}

impl App {
    pub async fn create_transfer(&self, principal: &Principal, input: TransferInput) -> Result<Transfer, AppError> {
        let amount = Money::parse_request(&input.amount, &input.currency)?;
        let currency = amount.currency();
        let payment_id = parse_optional_uuid("payment_id", &input.payment_id)?;
        let description = parse_description(&input.description)?;
        validate_metadata("metadata", &input.metadata)?;
        let key = IdempotencyKey::parse_optional("idempotency_key", &input.idempotency_key)?;
        principal.ensure_service()?;
        let account_id = parse_uuid("connected_account_id", &input.connected_account_id)?;

        let fields = vec![
            account_id.to_string(),
            amount.minor().to_string(),
            currency.code().to_owned(),
            payment_id.map(|p| p.to_string()).unwrap_or_default(),
            description.clone(),
            serde_json::to_string(&input.metadata).unwrap_or_default(),
        ];
        let claim = idempotency::claim(principal, key.as_ref(), CREATE_METHOD, &fields);
        let rules = if payment_id.is_some() { self.store.fee_rules(account_id).await? } else { Vec::new() };
        let now = Utc::now();
        let draft = TransferDraft {
            transfer_id: Uuid::now_v7(),
            split_id: Uuid::now_v7(),
            payment_id,
            amount,
            description,
            metadata: input.metadata,
            idempotency_key: key.as_ref().map(|k| k.as_str().to_owned()),
            rules,
            connect: self.connect.clone(),
            available_on: now + Duration::days(i64::from(self.settings.balance_pending_days)),
            now,
        };
        let transfer_id = draft.transfer_id;
        let plan = move |account: &ConnectedAccount, linked: Option<&LinkedPayment>, receivable_balance: i64| {
            draft.plan(account, linked, receivable_balance)
        };
        let receivable = receivable(account_id, currency).code();
        let request =
            TransferRequest { claim: claim.clone(), account_id, transfer_id, payment_id, receivable, plan: Arc::new(plan) };
        let created = match self.new_transfers.submit(request).await.map_err(AppError::internal)?? {
            Guarded::Done(created) => created,
            Guarded::KeyExists { request_hash, method, resource_id } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let id = idempotency::replayed_id(resource_id)?;
                return self.store.transfer(id).await?.ok_or(AppError::NotFound("transfer"));
            }
            Guarded::Refused(reason) => return Err(AppError::FailedPrecondition(reason)),
        };
        crate::metrics::transfer(created.status.as_str());
        self.send_transfer(created).await
    }

    /// Asks the gateway to move the money, then records paid or failed. Funds become
    /// available only once the gateway confirmed them (at once when
    /// `BALANCE_PENDING_DAYS` is 0). A gateway that cannot be reached leaves the
    /// transfer pending for the recovery job: it may have acted.
    pub(crate) async fn send_transfer(&self, transfer: Transfer) -> Result<Transfer, AppError> {
        let Some((transfer, entries)) = self.gateway_answer(&transfer).await? else { return Ok(transfer) };
        let settled = self.settlements.submit((transfer.clone(), entries)).await.map_err(AppError::internal)?;
        if !settled? {
            // Another replica's recovery settled it first: report what is stored.
            return self.store.transfer(transfer.id).await?.ok_or(AppError::NotFound("transfer"));
        }
        crate::metrics::transfer(transfer.status.as_str());
        Ok(transfer)
    }

    /// The gateway's answer to a pending transfer: the transfer paid or failed, with
    /// the entries its settlement posts; `None` while the gateway could not be reached
    /// (the transfer stays pending), or when there is nothing to send (a transfer the
    /// vendor's debt took whole was settled as it was recorded). Nothing is recorded here.
    pub(crate) async fn gateway_answer(&self, pending: &Transfer) -> Result<Option<TransferSettlement>, AppError> {
        if pending.status != TransferStatus::Pending {
            return Ok(None);
        }
        let source = match pending.payment_id {
            Some(id) => self.store.payment(id).await?,
            None => None,
        };
        let mut transfer = pending.clone();
        let entries =
            match self.connect.for_account(&transfer.gateway_account_id).create_transfer(&transfer, source.as_ref()).await {
                Ok(gateway_id) => {
                    let maturation;
                    (transfer, maturation) = transfer.paid_by_gateway(gateway_id, Utc::now()).map_err(AppError::internal)?;
                    maturation.into_iter().collect()
                }
                Err(error) if error.keeps_pending() => {
                    error.log_kept_pending("transfer", transfer.id);
                    return Ok(None);
                }
                Err(error) => {
                    tracing::warn!(transfer_id = %transfer.id, %error, "gateway refused the transfer");
                    transfer.status = TransferStatus::Failed;
                    vec![transfer.failed_entry().map_err(AppError::internal)?]
                }
            };
        transfer.updated_at = Utc::now();
        Ok(Some((transfer, entries)))
    }

    pub async fn transfer(&self, principal: &Principal, transfer_id: &str) -> Result<Transfer, AppError> {
        let id = parse_uuid("transfer_id", transfer_id)?;
        principal.ensure_merchant()?;
        let transfer = self.store.transfer(id).await?;
        self.visible_by_account(principal, transfer, "transfer", |t| Some(t.connected_account_id)).await
    }

    pub async fn transfers(&self, principal: &Principal, account_id: &str, page: Page) -> Result<(Vec<Transfer>, i64), AppError> {
        let account = parse_optional_uuid("connected_account_id", account_id)?;
        self.ensure_lists_account(principal, account).await?;
        Ok(self.store.transfers(account, page).await?)
    }

    pub async fn reverse_transfer(
        &self,
        principal: &Principal,
        transfer_id: &str,
        amount: &str,
        description: &str,
        idempotency_key: &str,
    ) -> Result<(TransferReversal, Transfer), AppError> {
        let id = parse_uuid("transfer_id", transfer_id)?;
        let description = parse_description(description)?;
        let key = IdempotencyKey::parse_optional("idempotency_key", idempotency_key)?;
        principal.ensure_service()?;
        let existing = self.store.transfer(id).await?.ok_or(AppError::NotFound("transfer"))?;
        let requested =
            if amount.is_empty() { None } else { Some(Money::parse_positive("amount", amount, existing.amount.currency())?) };
        let fields = vec![id.to_string(), requested.map(|m| m.minor().to_string()).unwrap_or_default(), description.clone()];
        let claim = idempotency::claim(principal, key.as_ref(), REVERSE_METHOD, &fields);
        let reversal_id = Uuid::now_v7();
        let key_text = key.as_ref().map(|k| k.as_str().to_owned());
        let plan = |transfer: &Transfer, balance_minor: i64| {
            let amount = requested.map_or(transfer.reversible_minor(), |m| m.minor());
            plan_reversal((transfer, balance_minor), reversal_id, amount, &description, key_text.clone(), ReversalStatus::Pending)
        };
        let reversal = match self.store.reverse_transfer(claim.as_ref(), id, &plan).await? {
            Guarded::Done((reversal, _)) => reversal,
            Guarded::KeyExists { request_hash, method, resource_id } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let reversal_id = idempotency::replayed_id(resource_id)?;
                self.store.reversal(reversal_id).await?.ok_or(AppError::NotFound("reversal"))?
            }
            Guarded::Refused(reason) => return Err(AppError::FailedPrecondition(reason)),
        };
        // A replay of a reversal the gateway never answered asks it again (same key).
        let reversal = if reversal.status == ReversalStatus::Pending { self.send_reversal(reversal).await? } else { reversal };
        let transfer = self.store.transfer(reversal.transfer_id).await?.ok_or(AppError::NotFound("transfer"))?;
        Ok((reversal, transfer))
    }

    /// The recorded reversal goes to the gateway after commit, keyed by its id. A
    /// refusal gives the money back to the vendor; no answer leaves it pending for
    /// the recovery job.
    pub(crate) async fn send_reversal(&self, mut reversal: TransferReversal) -> Result<TransferReversal, AppError> {
        let transfer = self.store.transfer(reversal.transfer_id).await?.ok_or(AppError::NotFound("transfer"))?;
        match self.connect.for_account(&transfer.gateway_account_id).reverse_transfer(&transfer, &reversal).await {
            Ok(gateway_id) => {
                reversal.status = ReversalStatus::Succeeded;
                reversal.gateway_reversal_id = Some(gateway_id);
            }
            Err(error) if error.keeps_pending() => {
                error.log_kept_pending("reversal", reversal.id);
                return Ok(reversal);
            }
            Err(error) => {
                tracing::warn!(reversal_id = %reversal.id, %error, "gateway refused the reversal; the money goes back to the vendor");
                reversal.status = ReversalStatus::Failed;
            }
        }
        let now = Utc::now();
        let undo = |current: &Transfer, taken: ReversalSplit, owed_now_minor: i64| {
            let entry = current.reversal_failed_entry(&reversal, taken, owed_now_minor).map_err(ledger)?;
            Ok((current.without_reversal(&reversal, now), entry))
        };
        let failed = reversal.status == ReversalStatus::Failed;
        if !self.store.settle_reversal(&reversal, failed.then_some(&undo as _)).await? {
            return self.store.reversal(reversal.id).await?.ok_or(AppError::NotFound("reversal"));
        }
        Ok(reversal)
    }
}

#[cfg(test)]
mod tests {
    use domain::events::EventType;
    use domain::ledger::EntryKind;
    use domain::payment::{CheckoutInput, CheckoutRequest, Payment, PaymentType};
    use domain::payouts::Payout;
    use domain::{Currency, Money};
    use serde_json::json;

    use super::*;
    use crate::events_ports::OutboxEvent;
    use crate::marketplace_ports::{AccountLink, ConnectGateway, GatewayBalance};
    use crate::ports::GatewayError;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("currency", "USD").expect("USD"))
    }

    fn vendor(onboarded: bool) -> ConnectedAccount {
        let now = Utc::now();
        let account = domain::testing::vendor_account(Uuid::now_v7(), now);
        if onboarded { account.onboarded(now) } else { account }
    }

    fn paid_payment() -> LinkedPayment {
        let request = CheckoutRequest::parse(CheckoutInput {
            user_id: "buyer-1".into(),
            amount: "50.00".into(),
            currency: "USD".into(),
            payment_type: Some(PaymentType::ProductC2c),
            success_url: "https://s.example/ok".into(),
            cancel_url: "https://s.example/no".into(),
            gateway_name: "mock".into(),
            ..CheckoutInput::default()
        })
        .expect("valid");
        let payment = Payment { status: PaymentStatus::Succeeded, ..Payment::pending(Uuid::now_v7(), &request, Utc::now()) };
        LinkedPayment { payment, transferred_minor: 0, fee_taken_minor: None }
    }

    /// A Connect gateway whose transfers need a call (`made_at_once` false), or one
    /// that makes them without (as the mock does). Nothing else of it is called here.
    struct Connect {
        made_at_once: bool,
    }

    #[async_trait::async_trait]
    impl ConnectGateway for Connect {
        async fn create_account(&self, _: &ConnectedAccount) -> Result<String, GatewayError> {
            Err(GatewayError::Invalid("not in these tests".into()))
        }
        async fn create_account_link(&self, _: &ConnectedAccount, _: &AccountLink) -> Result<String, GatewayError> {
            Err(GatewayError::Invalid("not in these tests".into()))
        }
        async fn create_transfer(&self, transfer: &Transfer, _: Option<&Payment>) -> Result<String, GatewayError> {
            Ok(format!("tr_{}", transfer.id.simple()))
        }
        fn transfer_without_call(&self, transfer: &Transfer) -> Option<String> {
            self.made_at_once.then(|| format!("tr_{}", transfer.id.simple()))
        }
        async fn reverse_transfer(&self, _: &Transfer, _: &TransferReversal) -> Result<String, GatewayError> {
            Err(GatewayError::Invalid("not in these tests".into()))
        }
        async fn create_payout(&self, _: &Payout, _: &ConnectedAccount) -> Result<String, GatewayError> {
            Err(GatewayError::Invalid("not in these tests".into()))
        }
        async fn cancel_payout(&self, _: &Payout, _: &ConnectedAccount) -> Result<(), GatewayError> {
            Err(GatewayError::Invalid("not in these tests".into()))
        }
        async fn balance(&self, _: &ConnectedAccount) -> Result<Option<Vec<GatewayBalance>>, GatewayError> {
            Ok(None)
        }
        fn settles_payouts_by_events(&self) -> bool {
            false
        }
        fn owns_account(&self, _: &str) -> bool {
            true
        }
    }

    fn draft(payment_id: Option<Uuid>) -> TransferDraft {
        draft_for(payment_id, false)
    }

    fn draft_for(payment_id: Option<Uuid>, made_at_once: bool) -> TransferDraft {
        let now = Utc::now();
        TransferDraft {
            connect: Arc::new(ConnectGateways::new(Arc::new(Connect { made_at_once }))),
            transfer_id: Uuid::now_v7(),
            split_id: Uuid::now_v7(),
            payment_id,
            amount: usd(1_000),
            description: "order 7".into(),
            metadata: BTreeMap::new(),
            idempotency_key: Some("tr-7".into()),
            rules: Vec::new(),
            available_on: now,
            now,
        }
    }

    /// A batch whose transaction failed (perhaps after its commit went through) plans
    /// its requests again alone: the same transfer and split, which the database
    /// then refuses as duplicates, never a second transfer moving the money again.
    #[test]
    fn a_draft_planned_again_is_the_same_transfer() {
        let (account, linked) = (vendor(true), paid_payment());
        let draft = draft(Some(linked.payment.id));
        let first = draft.plan(&account, Some(&linked), 0).expect("planned");
        let again = draft.plan(&account, Some(&linked), 0).expect("planned");
        assert_eq!((first.transfer.id, again.transfer.id), (draft.transfer_id, draft.transfer_id));
        let split_ids = |plan: &TransferPlan| plan.split.as_ref().map(|split| split.id);
        assert_eq!((split_ids(&first), split_ids(&again)), (Some(draft.split_id), Some(draft.split_id)));
        let objects = |plan: &TransferPlan| plan.entries.iter().map(|e| e.object_id().to_owned()).collect::<Vec<_>>();
        assert_eq!(objects(&first), objects(&again));
        assert_eq!(first.transfer.connected_account_id, account.id);
    }

    /// A gateway that makes the transfer without a call has it written paid, with its
    /// id, matured at once when its funds are due (as the answer's settlement would),
    /// and the platform still hears `transfer.created` before `transfer.paid`. One
    /// that needs a call leaves it pending, told as `transfer.created` alone.
    #[test]
    fn a_transfer_made_without_a_call_is_written_paid_with_both_events() {
        let account = vendor(true);
        let made = draft_for(None, true).plan(&account, None, 0).expect("planned");
        assert_eq!(made.transfer.status, TransferStatus::Paid);
        assert_eq!(made.transfer.gateway_transfer_id, Some(format!("tr_{}", made.transfer.id.simple())));
        assert!(made.transfer.paid_at.is_some() && made.transfer.matured_at.is_some(), "due at once: matured");
        let kinds = |plan: &TransferPlan| plan.entries.iter().map(|e| e.kind()).collect::<Vec<_>>();
        assert_eq!(kinds(&made), vec![EntryKind::Transfer, EntryKind::Maturation]);
        let types = |t: &Transfer| OutboxEvent::new_transfer(t).iter().map(|e| e.event_type).collect::<Vec<_>>();
        assert_eq!(types(&made.transfer), vec![EventType::TransferCreated, EventType::TransferPaid]);
        let created = &OutboxEvent::new_transfer(&made.transfer)[0];
        assert_eq!(
            (created.payload["status"].as_str(), &created.payload["gateway_transfer_id"]),
            (Some("pending"), &json!(null))
        );

        let sent_later = draft_for(None, false).plan(&account, None, 0).expect("planned");
        assert_eq!(
            (sent_later.transfer.status, sent_later.transfer.gateway_transfer_id.as_deref()),
            (TransferStatus::Pending, None)
        );
        assert_eq!(kinds(&sent_later), vec![EntryKind::Transfer]);
        assert_eq!(types(&sent_later.transfer), vec![EventType::TransferCreated]);

        let later = Utc::now() + Duration::days(2);
        let not_due = TransferDraft { available_on: later, ..draft_for(None, true) }.plan(&account, None, 0).expect("planned");
        assert_eq!((not_due.transfer.status, not_due.transfer.matured_at), (TransferStatus::Paid, None));
        assert_eq!(kinds(&not_due), vec![EntryKind::Transfer]);
    }

    /// A debt that takes the whole transfer leaves nothing to send: paid as recorded,
    /// with no gateway id and `transfer.paid` alone, whatever the gateway.
    #[test]
    fn a_transfer_the_debt_takes_whole_is_never_made_by_the_gateway() {
        let taken = draft_for(None, true).plan(&vendor(true), None, -5_000).expect("planned");
        assert_eq!((taken.transfer.status, taken.transfer.gateway_transfer_id.as_deref()), (TransferStatus::Paid, None));
        let types: Vec<_> = OutboxEvent::new_transfer(&taken.transfer).iter().map(|e| e.event_type).collect();
        assert_eq!(types, vec![EventType::TransferPaid]);
    }

    /// The account's status is the plan's to check: it is read in the write's
    /// transaction, after the key's claim.
    #[test]
    fn an_account_not_yet_active_is_refused() {
        let refused = draft(None).plan(&vendor(false), None, 0).expect_err("not onboarded");
        assert!(refused.contains("transfers need an active account"), "{refused}");
    }
}
