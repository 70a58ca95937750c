//! One conformance suite for the `Store` port, run against SQLite and the real
//! PostgreSQL (a fresh database per test).
// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::StoreError;
use app::console_ports::{ConsoleStore, PaymentFilter};
use app::marketplace_ports::{AccountStore, Guarded, LinkedPayment, TransferPlan, TransferRequest, TransferStore};
use app::ports::{
    CreatePaymentOutcome, Decision, EventOutcome, IdempotencyClaim, NewPayment, Page, PaymentEvent, PaymentStore,
    SessionAttachment, Settlement, WebhookLog,
};
use chrono::Utc;
use domain::accounts::{AccountStatus, ConnectedAccount};
use domain::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount};
use domain::payment::{CheckoutInput, CheckoutRequest, Payment, PaymentStatus, PaymentType};
use domain::transfers::{Transfer, TransferStatus};
use domain::{Currency, Money};
use store::{SqlStore, SqliteSynchronous, StoreOptions};

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::fresh_store(false).await).await } )* }
        mod postgres {
            $( #[tokio::test] async fn $name() {
                let store = super::fresh_store(true).await;
                let name = super::database_name(&store).await;
                super::$name(store).await;
                super::drop_database(&name).await;
            } )*
        }
    };
}

on_both_databases!(
    payments_round_trip_with_every_field,
    an_idempotency_key_points_at_its_first_payment,
    a_checkout_session_is_attached_only_once,
    checkouts_written_together_keep_their_own_answers,
    keyed_checkouts_written_together_claim_only_new_keys,
    a_keyed_batch_that_fails_claims_nothing_and_answers_each_alone,
    payments_read_together_answer_each_id_in_order,
    user_payments_are_newest_first,
    the_console_filters_payments_by_every_field,
    an_event_is_applied_once_with_its_ledger_entry,
    an_entry_that_would_overdraw_rolls_back_everything,
    payment_events_applied_together_keep_their_own_answers,
    events_found_by_session_are_applied_together,
    a_platform_debit_takes_from_several_stripes_and_never_below_zero,
    a_vendor_debit_takes_from_several_stripes_and_never_below_zero,
    a_job_slot_is_claimed_once,
    settlements_refused_together_are_written_one_at_a_time,
    a_settlement_writes_its_event_and_deliveries_once,
    settlements_of_a_mixed_batch_write_each_change_once,
    transfers_created_together_keep_their_own_answers,
    a_transfer_is_planned_with_its_vendor_and_refused_without_one,
    a_transfer_written_before_its_answer_was_lost_is_the_answer,
    a_batch_of_transfers_is_written_whole_or_not_at_all,
    a_transfer_is_written_only_on_its_vendor_as_it_stands,
);

async fn fresh_store(postgres: bool) -> SqlStore {
    fresh_store_with(postgres, 5).await
}

async fn fresh_store_with(postgres: bool, max_connections: u32) -> SqlStore {
    let name = format!("vondi_store_{}", uuid::Uuid::new_v4().simple());
    let url = if postgres {
        sqlx::any::install_default_drivers();
        let admin = admin_url();
        let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("PostgreSQL for tests");
        sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create db");
        format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base))
    } else {
        format!("sqlite://{}", std::env::temp_dir().join("vondipayment-tests").join(format!("{name}.db")).display())
    };
    let options = StoreOptions {
        url,
        max_connections,
        max_lifetime: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(10),
        sqlite_synchronous: Default::default(),
    };
    let store = SqlStore::connect(&options).await.expect("connect");
    store::migrate_up(&store).await.expect("migrate");
    store
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn database_name(store: &SqlStore) -> String {
    use sqlx::Row;
    sqlx::query("SELECT CAST(current_database() AS TEXT) AS name").fetch_one(store.pool()).await.expect("name").get("name")
}

async fn drop_database(name: &str) {
    let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url()).await.expect("admin");
    sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .await
        .expect("drop test database");
}

fn usd() -> Currency {
    Currency::parse("currency", "USD").expect("USD")
}

fn new_payment(user: &str, amount: &str) -> Payment {
    let request = CheckoutRequest::parse(CheckoutInput {
        user_id: user.into(),
        amount: amount.into(),
        currency: "USD".into(),
        payment_type: Some(PaymentType::ProductC2c),
        success_url: "https://s.example/ok".into(),
        cancel_url: "https://s.example/no".into(),
        buyer_id: "buyer-9".into(),
        gateway_name: "mock".into(),
        metadata: BTreeMap::from([("order".to_owned(), "A-1".to_owned())]),
        ..CheckoutInput::default()
    })
    .expect("valid");
    let mut payment = Payment::pending(uuid::Uuid::now_v7(), &request, Utc::now());
    // Stored with microsecond precision.
    payment.created_at = chrono::DateTime::from_timestamp_micros(payment.created_at.timestamp_micros()).expect("time");
    payment.updated_at = payment.created_at;
    payment
}

fn claim(key: &str, hash: &str) -> IdempotencyClaim {
    IdempotencyClaim { scope: "user-1".into(), key: key.into(), method: "CreateCheckoutSession", request_hash: hash.into() }
}

/// One payment or session at a time, as a lone checkout writes them.
trait OneAtATime: PaymentStore {
    async fn create_payment(
        &self,
        payment: &Payment,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<CreatePaymentOutcome, StoreError> {
        self.create_payments(&[NewPayment { payment: payment.clone(), claim: claim.cloned() }]).await.remove(0)
    }

    async fn attach_checkout_session(&self, payment_id: uuid::Uuid, session_id: &str, url: &str) -> Result<Payment, StoreError> {
        self.attach_checkout_sessions(&[attachment(payment_id, session_id, url, None)]).await.remove(0)
    }
}

impl OneAtATime for SqlStore {}

fn attachment(
    payment_id: uuid::Uuid,
    session_id: &str,
    checkout_url: &str,
    gateway_transaction_id: Option<&str>,
) -> SessionAttachment {
    SessionAttachment {
        payment_id,
        session_id: session_id.to_owned(),
        checkout_url: checkout_url.to_owned(),
        gateway_transaction_id: gateway_transaction_id.map(str::to_owned),
    }
}

fn log(event_id: &str) -> WebhookLog {
    WebhookLog {
        id: uuid::Uuid::now_v7(),
        gateway_name: "mock".into(),
        event_id: event_id.into(),
        event_type: "checkout.session.completed".into(),
        payload: "{}".into(),
        signature_valid: true,
        received_at: Utc::now(),
    }
}

async fn payments_round_trip_with_every_field(store: SqlStore) {
    let payment = new_payment("user-1", "12.34");
    store.create_payment(&payment, None).await.expect("insert");
    assert_eq!(store.payment(payment.id).await.expect("read"), Some(payment.clone()));
    assert_eq!(store.payment(uuid::Uuid::new_v4()).await.expect("read"), None);
    store.ping().await.expect("ping");
}

async fn an_idempotency_key_points_at_its_first_payment(store: SqlStore) {
    let first = new_payment("user-1", "1");
    assert!(matches!(store.create_payment(&first, Some(&claim("k", "h1"))).await, Ok(CreatePaymentOutcome::Created(_))));
    let second = new_payment("user-1", "1");
    match store.create_payment(&second, Some(&claim("k", "h2"))).await.expect("second") {
        CreatePaymentOutcome::KeyExists { request_hash, method, payment } => {
            assert_eq!((request_hash.as_str(), method.as_str()), ("h1", "CreateCheckoutSession"));
            assert_eq!(payment.map(|p| p.id), Some(first.id));
        }
        CreatePaymentOutcome::Created(_) => panic!("a used key created a second payment"),
    }
    assert_eq!(store.payment(second.id).await.expect("read"), None, "the loser left nothing behind");
}

async fn a_checkout_session_is_attached_only_once(store: SqlStore) {
    let payment = new_payment("user-1", "1");
    store.create_payment(&payment, None).await.expect("insert");
    let attached = store.attach_checkout_session(payment.id, "cs_1", "https://pay/cs_1").await.expect("attach");
    assert_eq!(attached.gateway_session_id.as_deref(), Some("cs_1"));
    let again = store.attach_checkout_session(payment.id, "cs_2", "https://pay/cs_2").await.expect("attach again");
    assert_eq!(again.gateway_session_id.as_deref(), Some("cs_1"), "the first session stays");
    assert_eq!(store.payment_by_session("mock", "cs_1").await.expect("by session").map(|p| p.id), Some(payment.id));
    assert_eq!(store.payment_by_session("stripe", "cs_1").await.expect("other gateway"), None);
}

/// Checkouts written together keep their own answers: a key used earlier in the
/// batch or before points at its first payment and leaves nothing behind, a session
/// is attached once, and the rest of the batch is written.
async fn checkouts_written_together_keep_their_own_answers(store: SqlStore) {
    let earlier = new_payment("user-1", "1");
    store.create_payment(&earlier, Some(&claim("k0", "h0"))).await.expect("earlier");
    store.attach_checkout_session(earlier.id, "cs_0", "https://pay/cs_0").await.expect("earlier session");
    let payments: Vec<Payment> = (0..4).map(|_| new_payment("user-1", "2")).collect();
    let claims = [None, Some(claim("k1", "h1")), Some(claim("k1", "h1")), Some(claim("k0", "h0"))];
    let batch: Vec<NewPayment> = payments
        .iter()
        .zip(&claims)
        .map(|(payment, claim)| NewPayment { payment: payment.clone(), claim: claim.clone() })
        .collect();
    let answers = store.create_payments(&batch).await;
    for (index, answer) in answers[..2].iter().enumerate() {
        assert!(matches!(answer, Ok(CreatePaymentOutcome::Created(p)) if p.id == payments[index].id), "{answers:?}");
    }
    let points_at = |answer: &Result<CreatePaymentOutcome, StoreError>| match answer {
        Ok(CreatePaymentOutcome::KeyExists { payment: Some(p), .. }) => Some(p.id),
        _ => None,
    };
    assert_eq!(points_at(&answers[2]), Some(payments[1].id), "a key used earlier in the batch: {answers:?}");
    assert_eq!(points_at(&answers[3]), Some(earlier.id), "a key used before: {answers:?}");
    for (payment, written) in payments.iter().zip([true, true, false, false]) {
        assert_eq!(store.payment(payment.id).await.expect("read").is_some(), written, "{answers:?}");
    }

    let sessions = [
        attachment(payments[0].id, "cs_a", "https://pay/cs_a", Some("pi_a")),
        attachment(payments[1].id, "cs_b", "https://pay/cs_b", None),
        attachment(payments[1].id, "cs_c", "https://pay/cs_c", None),
        attachment(earlier.id, "cs_d", "https://pay/cs_d", None),
    ];
    let attached = store.attach_checkout_sessions(&sessions).await;
    let session_of = |index: usize| {
        let payment = attached[index].as_ref().expect("attached");
        (payment.gateway_session_id.clone(), payment.checkout_url.clone())
    };
    assert_eq!(session_of(0), (Some("cs_a".into()), Some("https://pay/cs_a".into())));
    assert_eq!(attached[0].as_ref().expect("attached").gateway_payment_intent_id.as_deref(), Some("pi_a"));
    assert_eq!(session_of(1).0.as_deref(), Some("cs_b"));
    assert_eq!(session_of(2).0.as_deref(), Some("cs_b"), "the first session of the batch stays");
    assert_eq!(session_of(3).0.as_deref(), Some("cs_0"), "the session attached before stays");
    assert_eq!(store.payment_by_session("mock", "cs_c").await.expect("by session"), None);
}

/// A batch whose payments all have keys (on PostgreSQL one statement claims and
/// inserts): a payment whose key is new is written with the session it came with,
/// one whose key was used before is not, and the claims point at the right payments.
async fn keyed_checkouts_written_together_claim_only_new_keys(store: SqlStore) {
    let earlier = new_payment("user-1", "1");
    store.create_payment(&earlier, Some(&claim("k0", "h0"))).await.expect("earlier");
    let mut payments: Vec<Payment> = (0..3).map(|_| new_payment("user-1", "2")).collect();
    payments[0].gateway_session_id = Some("cs_new".into());
    payments[0].checkout_url = Some("https://pay/cs_new".into());
    let keys = ["k2", "k0", "k1"];
    let batch: Vec<NewPayment> = payments
        .iter()
        .zip(keys)
        .map(|(payment, key)| NewPayment { payment: payment.clone(), claim: Some(claim(key, "h")) })
        .collect();
    let answers = store.create_payments(&batch).await;
    for index in [0, 2] {
        assert!(matches!(&answers[index], Ok(CreatePaymentOutcome::Created(p)) if p.id == payments[index].id), "{answers:?}");
    }
    assert!(
        matches!(&answers[1], Ok(CreatePaymentOutcome::KeyExists { payment: Some(p), .. }) if p.id == earlier.id),
        "a key used before points at its payment: {answers:?}"
    );
    for (payment, written) in payments.iter().zip([true, false, true]) {
        assert_eq!(store.payment(payment.id).await.expect("read").is_some(), written, "{answers:?}");
    }
    let found = store.payment_by_session("mock", "cs_new").await.expect("by session").expect("written with its session");
    assert_eq!((found.id, found.checkout_url.as_deref()), (payments[0].id, Some("https://pay/cs_new")));
    assert_eq!(found.amount, payments[0].amount);
    let replay = store.create_payments(&batch[2..]).await;
    assert!(
        matches!(&replay[0], Ok(CreatePaymentOutcome::KeyExists { payment: Some(p), .. }) if p.id == payments[2].id),
        "the key claimed in the batch points at its payment: {replay:?}"
    );
}

/// A keyed batch whose write fails (two payments with one session) leaves no claim
/// behind: each request is answered alone, the first written, the second refused by
/// the session's unique index with its key still free.
async fn a_keyed_batch_that_fails_claims_nothing_and_answers_each_alone(store: SqlStore) {
    let payments: Vec<Payment> = (0..2)
        .map(|_| {
            let mut payment = new_payment("user-1", "3");
            payment.gateway_session_id = Some("cs_twice".into());
            payment
        })
        .collect();
    let batch: Vec<NewPayment> = payments
        .iter()
        .zip(["ka", "kb"])
        .map(|(payment, key)| NewPayment { payment: payment.clone(), claim: Some(claim(key, "h")) })
        .collect();
    let answers = store.create_payments(&batch).await;
    assert!(matches!(&answers[0], Ok(CreatePaymentOutcome::Created(p)) if p.id == payments[0].id), "{answers:?}");
    assert!(answers[1].is_err(), "the second session is refused: {answers:?}");
    assert!(store.payment(payments[1].id).await.expect("read").is_none());
    let retry = new_payment("user-1", "3");
    let answer = store.create_payment(&retry, Some(&claim("kb", "h"))).await.expect("the key is free");
    assert!(matches!(&answer, CreatePaymentOutcome::Created(p) if p.id == retry.id), "{answer:?}");
}

/// A batch of reads by id (padded to a power of two on the wire, up to 32): each id
/// gets its own payment in order, an unknown id `None`, an id asked twice the same
/// payment twice; a row that does not parse fails its own read only.
async fn payments_read_together_answer_each_id_in_order(store: SqlStore) {
    let payments: Vec<Payment> = (1..=3).map(|n| new_payment("user-1", &n.to_string())).collect();
    for payment in &payments {
        store.create_payment(payment, None).await.expect("insert");
    }
    let unknown = uuid::Uuid::new_v4();
    let ids = [payments[2].id, unknown, payments[0].id, payments[2].id, payments[1].id];
    let answers: Vec<Option<Payment>> = store.payments(&ids).await.into_iter().map(|answer| answer.expect("read")).collect();
    let expected = [Some(&payments[2]), None, Some(&payments[0]), Some(&payments[2]), Some(&payments[1])];
    assert_eq!(answers.iter().map(Option::as_ref).collect::<Vec<_>>(), expected);
    let many: Vec<uuid::Uuid> = ids.iter().copied().chain((0..27).map(|_| uuid::Uuid::new_v4())).collect();
    for count in 1..=many.len() {
        let answers = store.payments(&many[..count]).await;
        assert_eq!(answers.len(), count);
        for (answer, id) in answers.iter().zip(&many) {
            let known = payments.iter().any(|p| p.id == *id);
            assert_eq!(answer.as_ref().expect("read").as_ref().map(|p| p.id), known.then_some(*id), "{count} ids");
        }
    }
    assert!(store.payments(&[]).await.is_empty());

    sqlx::query("UPDATE payments SET currency = 'dollars' WHERE id = $1")
        .bind(payments[1].id.to_string())
        .execute(store.pool())
        .await
        .expect("corrupt a row");
    let answers = store.payments(&[payments[0].id, payments[1].id, unknown]).await;
    assert!(matches!(&answers[0], Ok(Some(p)) if p.id == payments[0].id), "{answers:?}");
    assert!(matches!(&answers[1], Err(StoreError::Corrupt(_))), "{answers:?}");
    assert!(matches!(&answers[2], Ok(None)), "{answers:?}");
}

async fn user_payments_are_newest_first(store: SqlStore) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        let payment = new_payment("user-1", "1");
        store.create_payment(&payment, None).await.expect("insert");
        ids.push(payment.id);
    }
    store.create_payment(&new_payment("user-2", "1"), None).await.expect("other user");
    let (page, total) = store.user_payments("user-1", Page { limit: 2, offset: 1 }).await.expect("list");
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|p| p.id).collect::<Vec<_>>(), vec![ids[1], ids[0]]);
}

async fn the_console_filters_payments_by_every_field(store: SqlStore) {
    let (first, second, other) = (new_payment("user-1", "1"), new_payment("user-1", "2"), new_payment("user-2", "3"));
    for payment in [&first, &second, &other] {
        store.create_payment(payment, None).await.expect("insert");
    }
    let ids = |filter: PaymentFilter| {
        let store = store.clone();
        async move {
            let (found, total) = store.filtered_payments(&filter, Page { limit: 10, offset: 0 }).await.expect("list");
            assert_eq!(usize::try_from(total).ok(), Some(found.len()));
            found.into_iter().map(|p| p.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(PaymentFilter::default()).await, vec![other.id, second.id, first.id], "newest first");
    let user = PaymentFilter { user_id: Some("user-1".into()), ..PaymentFilter::default() };
    assert_eq!(ids(user.clone()).await, vec![second.id, first.id]);
    let pending = PaymentFilter { status: Some(PaymentStatus::Pending), gateway_name: Some("mock".into()), ..user.clone() };
    assert_eq!(ids(pending).await, vec![second.id, first.id]);
    assert_eq!(ids(PaymentFilter { status: Some(PaymentStatus::Succeeded), ..user.clone() }).await, Vec::<uuid::Uuid>::new());
    assert_eq!(ids(PaymentFilter { gateway_name: Some("stripe".into()), ..user.clone() }).await, Vec::<uuid::Uuid>::new());
    let later = second.created_at + chrono::Duration::microseconds(1);
    assert_eq!(
        ids(PaymentFilter { from: Some(second.created_at), until: Some(later), ..PaymentFilter::default() }).await,
        vec![second.id]
    );
    let (page, total) = store.filtered_payments(&PaymentFilter::default(), Page { limit: 1, offset: 1 }).await.expect("page");
    assert_eq!((page.iter().map(|p| p.id).collect::<Vec<_>>(), total), (vec![second.id], 3));
}

async fn an_event_is_applied_once_with_its_ledger_entry(store: SqlStore) {
    let payment = new_payment("user-1", "5");
    store.create_payment(&payment, None).await.expect("insert");
    store.attach_checkout_session(payment.id, "cs_e", "https://pay").await.expect("attach");
    let applied = apply_one(&store, log("evt_1"), "cs_e", captured).await.expect("apply");
    assert!(matches!(applied, EventOutcome::Applied(ref p) if p.status == PaymentStatus::Succeeded));
    let duplicate = apply_one(&store, log("evt_1"), "cs_e", captured).await.expect("again");
    assert!(matches!(duplicate, EventOutcome::Duplicate));
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 500);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);

    let skip = |_: &Payment| Decision::Skip("not today".into());
    let skipped = apply_one(&store, log("evt_2"), "cs_e", skip).await.expect("skip");
    assert!(matches!(skipped, EventOutcome::Skipped { reason, .. } if reason == "not today"));
    let unknown = apply_one(&store, log("evt_3"), "cs_none", captured).await.expect("unknown session");
    assert!(matches!(unknown, EventOutcome::Skipped { payment: None, .. }));

    // The console reads the payment's entry and its events, not the unknown one.
    let lines = store.payment_ledger(payment.id).await.expect("ledger lines");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines.iter().map(|l| l.amount.minor()).sum::<i64>(), 0);
    assert!(lines.iter().all(|l| l.object_id == payment.id.to_string() && l.entry_kind == "capture"), "{lines:?}");
    let events = store.payment_webhooks(payment.id).await.expect("events");
    assert_eq!(events.first().map(|e| (e.event_id.as_str(), e.processed)), Some(("evt_1", true)), "{events:?}");
    assert!(events.iter().all(|e| e.payment_id == Some(payment.id) && e.event_id != "evt_3"));
    assert_eq!(store.payment_ledger(uuid::Uuid::new_v4()).await.expect("none"), vec![]);
    let (log, total) = store.webhook_log(Page { limit: 2, offset: 0 }).await.expect("webhook log");
    assert_eq!((log.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), total), (vec!["evt_3", "evt_2"], 3), "newest first");
}

async fn an_entry_that_would_overdraw_rolls_back_everything(store: SqlStore) {
    let payment = new_payment("user-1", "5");
    store.create_payment(&payment, None).await.expect("insert");
    store.attach_checkout_session(payment.id, "cs_o", "https://pay").await.expect("attach");
    // Takes money from a wallet that holds none.
    let overdraw = |p: &Payment| {
        let entry = JournalEntry::movement(
            EntryKind::Withdrawal,
            p.id.to_string(),
            LedgerAccount::owned(AccountKind::Wallet, "user-1", usd()),
            LedgerAccount::platform(AccountKind::External, usd()),
            Money::from_minor(100, usd()),
        )
        .expect("entry");
        Decision::Apply(Box::new(Settlement {
            status: PaymentStatus::Processing,
            payment_intent_id: None,
            failure_reason: None,
            paid_at: None,
            entries: vec![entry],
            escrow_hold: None,
            wallet_deposit: None,
        }))
    };
    let refused = apply_one(&store, log("evt_o"), "cs_o", overdraw).await;
    assert!(
        matches!(refused, Err(StoreError::InsufficientFunds { ref account }) if account == "wallet:user-1:USD"),
        "{refused:?}"
    );
    assert_eq!(store.payment(payment.id).await.expect("read").map(|p| p.status), Some(PaymentStatus::Pending));
    assert_eq!(store.ledger_balance("wallet:user-1:USD").await.expect("balance"), 0);
    // The event was not consumed: a redelivery can still be applied.
    let retry = apply_one(&store, log("evt_o"), "cs_o", |_: &Payment| Decision::Skip("ok".into())).await.expect("retry");
    assert!(matches!(retry, EventOutcome::Skipped { .. }));
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// Events applied together keep their own answers: the same event twice and two
/// events on one payment are answered as if one came after the other, an event
/// logged before is a duplicate, one whose payment is missing changes nothing, and
/// when the entries together would overdraw, each is applied alone, so only the
/// one that overdraws is refused.
async fn payment_events_applied_together_keep_their_own_answers(store: SqlStore) {
    let paid = |store: &SqlStore, amount: &str| {
        let (store, payment) = (store.clone(), new_payment("user-1", amount));
        async move {
            store.create_payment(&payment, None).await.expect("insert");
            payment
        }
    };
    let event = |id: &str, payment: uuid::Uuid, decide: fn(&Payment) -> Decision| PaymentEvent {
        log: log(id),
        session_id: None,
        payment_id: Some(payment),
        decide: Arc::new(decide),
        log_unmatched: true,
    };
    let (first, second, third) = (paid(&store, "5").await, paid(&store, "3").await, paid(&store, "2").await);
    let earlier = store.apply_payment_events(&[event("evt_seen", third.id, captured)]).await;
    assert!(matches!(earlier[..], [Ok(EventOutcome::Applied(ref p))] if p.status == PaymentStatus::Succeeded), "{earlier:?}");
    let batch = [
        event("evt_a", first.id, captured),
        event("evt_a", first.id, captured),
        event("evt_b", second.id, |_| Decision::Skip("not today".into())),
        event("evt_c", uuid::Uuid::now_v7(), captured),
        event("evt_seen", third.id, captured),
        event("evt_d", first.id, captured),
    ];
    let answers = store.apply_payment_events(&batch).await;
    assert!(matches!(&answers[0], Ok(EventOutcome::Applied(p)) if p.id == first.id && p.status == PaymentStatus::Succeeded));
    assert!(matches!(answers[1], Ok(EventOutcome::Duplicate)), "{answers:?}");
    assert!(
        matches!(&answers[2], Ok(EventOutcome::Skipped { payment: Some(p), reason }) if p.id == second.id && reason == "not today")
    );
    assert!(matches!(&answers[3], Ok(EventOutcome::Skipped { payment: None, .. })), "{answers:?}");
    assert!(matches!(answers[4], Ok(EventOutcome::Duplicate)), "logged before: {answers:?}");
    assert!(
        matches!(&answers[5], Ok(EventOutcome::Skipped { reason, .. }) if reason == "the payment is succeeded"),
        "the second event on a payment sees the first's write: {answers:?}"
    );
    let status = |id| {
        let store = store.clone();
        async move { store.payment(id).await.expect("read").expect("exists").status }
    };
    assert_eq!(status(second.id).await, PaymentStatus::Pending);
    let (_, logged) = store.webhook_log(Page { limit: 1, offset: 0 }).await.expect("webhook log");
    assert_eq!(logged, 5, "evt_seen, evt_a, evt_b, evt_c and evt_d, once each");
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 700);

    let (fourth, fifth, sixth) = (paid(&store, "1").await, paid(&store, "1").await, paid(&store, "1").await);
    let overdraw = |p: &Payment| {
        let wallet = LedgerAccount::owned(AccountKind::Wallet, "user-1", usd());
        let external = LedgerAccount::platform(AccountKind::External, usd());
        let entry =
            JournalEntry::movement(EntryKind::Withdrawal, p.id.to_string(), wallet, external, Money::from_minor(1, usd()));
        succeeded(vec![entry.expect("entry")])
    };
    let batch = [event("evt_e", fourth.id, captured), event("evt_f", fifth.id, overdraw), event("evt_g", sixth.id, captured)];
    let answers = store.apply_payment_events(&batch).await;
    assert!(matches!(answers[0], Ok(EventOutcome::Applied(_))), "{answers:?}");
    assert!(matches!(&answers[1], Err(StoreError::InsufficientFunds { account }) if account == "wallet:user-1:USD"));
    assert!(matches!(answers[2], Ok(EventOutcome::Applied(_))), "{answers:?}");
    assert_eq!(
        [status(fourth.id).await, status(fifth.id).await, status(sixth.id).await],
        [PaymentStatus::Succeeded, PaymentStatus::Pending, PaymentStatus::Succeeded]
    );
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 900);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// Events naming only a session are found in the batch (the mock page's clicks):
/// each settles its own payment, one on a payment an earlier event of the batch
/// names sees that one's write, and one whose session no payment of its gateway has
/// is logged only when `log_unmatched` says so.
async fn events_found_by_session_are_applied_together(store: SqlStore) {
    let mut sessions = Vec::new();
    for amount in ["4", "2", "1"] {
        let payment = new_payment("user-1", amount);
        store.create_payment(&payment, None).await.expect("insert");
        let session = format!("cs_{}", payment.id.simple());
        store.attach_checkout_session(payment.id, &session, "https://pay").await.expect("attach");
        sessions.push((payment.id, session));
    }
    let by_session = |id: &str, session: &str, decide: fn(&Payment) -> Decision, log_unmatched: bool| PaymentEvent {
        log: log(id),
        session_id: Some(session.to_owned()),
        payment_id: None,
        decide: Arc::new(decide),
        log_unmatched,
    };
    let mut of_stripe = by_session("evt_stripe", &sessions[2].1, captured, false);
    of_stripe.log.gateway_name = "stripe".into();
    let by_id = PaymentEvent { payment_id: Some(sessions[0].0), session_id: None, ..by_session("evt_id", "", captured, true) };
    let batch = [
        by_session("evt_s1", &sessions[1].1, captured, false),
        by_session("evt_s0", &sessions[0].1, |_| Decision::Skip("not today".into()), false),
        by_id,
        by_session("evt_lost", "cs_nobody", captured, false),
        by_session("evt_logged", "cs_nobody_either", captured, true),
        of_stripe,
    ];
    let answers = store.apply_payment_events(&batch).await;
    assert!(matches!(&answers[0], Ok(EventOutcome::Applied(p)) if p.id == sessions[1].0), "{answers:?}");
    assert!(
        matches!(&answers[1], Ok(EventOutcome::Skipped { payment: Some(p), reason }) if p.id == sessions[0].0 && reason == "not today"),
        "{answers:?}"
    );
    assert!(matches!(&answers[2], Ok(EventOutcome::Applied(p)) if p.id == sessions[0].0), "after the skip: {answers:?}");
    for unmatched in &answers[3..] {
        assert!(matches!(unmatched, Ok(EventOutcome::Skipped { payment: None, .. })), "{answers:?}");
    }
    let status = |id| {
        let store = store.clone();
        async move { store.payment(id).await.expect("read").expect("exists").status }
    };
    assert_eq!(status(sessions[0].0).await, PaymentStatus::Succeeded);
    assert_eq!(status(sessions[1].0).await, PaymentStatus::Succeeded);
    assert_eq!(status(sessions[2].0).await, PaymentStatus::Pending, "a mock payment is not another gateway's");
    let (logs, logged) = store.webhook_log(Page { limit: 10, offset: 0 }).await.expect("webhook log");
    let mut ids: Vec<&str> = logs.iter().map(|l| l.event_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!((logged, ids), (4, vec!["evt_id", "evt_logged", "evt_s0", "evt_s1"]), "unmatched clicks write nothing");
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 600);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

async fn a_job_slot_is_claimed_once(store: SqlStore) {
    use app::marketplace_ports::BalanceStore;
    assert!(store.claim_job_slot("balance_snapshots", 42).await.expect("first"));
    assert!(!store.claim_job_slot("balance_snapshots", 42).await.expect("second"), "another replica got it first");
    assert!(store.claim_job_slot("balance_snapshots", 43).await.expect("next slot"));
    assert!(store.claim_job_slot("other_job", 42).await.expect("other job"));
}

/// A paid payment whose settlement posts `entries(payment id)` instead of its capture.
async fn settle_with(
    store: &SqlStore,
    amount: &str,
    entries: impl Fn(&Payment) -> Vec<JournalEntry> + Send + Sync,
) -> Result<EventOutcome, StoreError> {
    let payment = new_payment("user-1", amount);
    store.create_payment(&payment, None).await.expect("insert");
    let session = format!("cs_{}", payment.id.simple());
    store.attach_checkout_session(payment.id, &session, "https://pay").await.expect("attach");
    let entries = entries(&payment);
    apply_one(store, log(&format!("evt_{}", payment.id.simple())), &session, move |_: &Payment| succeeded(entries.clone())).await
}

/// One event, found by its session (as a webhook that does not echo our id is): it
/// is applied in a transaction of its own.
async fn apply_one(
    store: &SqlStore,
    log: WebhookLog,
    session: &str,
    decide: impl Fn(&Payment) -> Decision + Send + Sync + 'static,
) -> Result<EventOutcome, StoreError> {
    let event = PaymentEvent {
        log,
        session_id: Some(session.to_owned()),
        payment_id: None,
        decide: Arc::new(decide),
        log_unmatched: true,
    };
    store.apply_payment_events(&[event]).await.remove(0)
}

fn succeeded(entries: Vec<JournalEntry>) -> Decision {
    Decision::Apply(Box::new(Settlement {
        status: PaymentStatus::Succeeded,
        payment_intent_id: Some("pi_1".into()),
        failure_reason: None,
        paid_at: Some(Utc::now()),
        entries,
        escrow_hold: None,
        wallet_deposit: None,
    }))
}

/// The payment's capture, once: a payment no longer pending is skipped.
fn captured(p: &Payment) -> Decision {
    match p.status {
        PaymentStatus::Pending => succeeded(vec![p.capture_entry().expect("entry")]),
        other => Decision::Skip(format!("the payment is {other}")),
    }
}

/// Captures the payment `p`, and moves `minor` of platform cash to a wallet.
fn capture_and_cash_to_wallet(p: &Payment, minor: i64) -> Vec<JournalEntry> {
    let cash = LedgerAccount::platform(AccountKind::PlatformCash, usd());
    let wallet = LedgerAccount::owned(AccountKind::Wallet, "user-1", usd());
    let movement = JournalEntry::movement(EntryKind::Withdrawal, p.id.to_string(), cash, wallet, Money::from_minor(minor, usd()));
    vec![p.capture_entry().expect("capture"), movement.expect("entry")]
}

async fn stripes_holding(store: &SqlStore, account: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM ledger_stripes WHERE account_id = $1 AND balance > 0")
        .bind(account)
        .fetch_one(store.pool())
        .await
        .expect("stripes")
        .get("n")
}

/// Credits `account` 500 at a time (`credit`, a settlement of 5.00) until at least two
/// of its stripes hold money, then `debit`s all but 100 of it (taken from several
/// stripes; the debit's settlement is of 1.00) and is refused 101 more. The credited
/// total.
async fn a_debit_spreads_over_stripes(
    store: &SqlStore,
    account: &str,
    credit: impl Fn(&Payment) -> Vec<JournalEntry> + Send + Sync,
    debit: impl Fn(&Payment, i64) -> Vec<JournalEntry> + Send + Sync,
) -> i64 {
    let mut credited = 0;
    // Each settlement starts at the stripe its payment id hashes to: a few spread them.
    while credited < 3 || stripes_holding(store, account).await < 2 {
        assert!(credited < 20, "twenty credits all landed on one stripe");
        settle_with(store, "5", &credit).await.expect("credit");
        credited += 1;
    }
    let total = credited * 500;
    settle_with(store, "1", |p| debit(p, total - 100)).await.expect("a debit over several stripes");
    assert_eq!(store.ledger_balance(account).await.expect("balance"), 100);
    let refused = settle_with(store, "1", |p| debit(p, 101)).await;
    assert!(matches!(refused, Err(StoreError::InsufficientFunds { account: ref refused }) if refused == account), "{refused:?}");
    assert_eq!(store.ledger_balance(account).await.expect("balance"), 100);
    total
}

/// `platform_cash` is striped: captures land on different stripes, a debit larger than
/// any one stripe is taken from several, and one larger than all of them is refused.
async fn a_platform_debit_takes_from_several_stripes_and_never_below_zero(store: SqlStore) {
    let capture = |p: &Payment| vec![p.capture_entry().expect("entry")];
    // The debit's own capture brings its 100 to platform cash too.
    let debit = |p: &Payment, minor: i64| capture_and_cash_to_wallet(p, minor + 100);
    let total = a_debit_spreads_over_stripes(&store, "platform_cash:USD", capture, debit).await;
    assert_eq!(store.ledger_balance("external:USD").await.expect("balance"), -total - 100);
    assert_eq!(store.ledger_balance("wallet:user-1:USD").await.expect("balance"), total);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

fn vendor(kind: AccountKind) -> LedgerAccount {
    LedgerAccount::owned(kind, "vendor-1", usd())
}

/// A capture, and `minor` of it transferred to the vendor's pending balance.
fn capture_and_transfer(p: &Payment, minor: i64) -> Vec<JournalEntry> {
    let cash = LedgerAccount::platform(AccountKind::PlatformCash, usd());
    let transfer = JournalEntry::movement(
        EntryKind::Transfer,
        p.id.to_string(),
        cash,
        vendor(AccountKind::VendorPending),
        Money::from_minor(minor, usd()),
    );
    vec![p.capture_entry().expect("capture"), transfer.expect("entry")]
}

/// A vendor's pending balance is striped like the platform's accounts: transfers land
/// on different stripes, a maturation larger than any one stripe is taken from
/// several, and one larger than all of them is refused.
async fn a_vendor_debit_takes_from_several_stripes_and_never_below_zero(store: SqlStore) {
    let (pending, available) = (vendor(AccountKind::VendorPending), vendor(AccountKind::VendorAvailable));
    let mature = |p: &Payment, minor: i64| {
        let maturation = JournalEntry::movement(
            EntryKind::Maturation,
            p.id.to_string(),
            pending.clone(),
            available.clone(),
            Money::from_minor(minor, usd()),
        );
        vec![p.capture_entry().expect("capture"), maturation.expect("entry")]
    };
    let total = a_debit_spreads_over_stripes(&store, &pending.code(), |p| capture_and_transfer(p, 500), mature).await;
    assert_eq!(store.ledger_balance(&available.code()).await.expect("balance"), total - 100);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// A vendor that can receive transfers.
async fn onboarded_vendor(store: &SqlStore) -> ConnectedAccount {
    let now = Utc::now();
    let account = domain::testing::vendor_account(uuid::Uuid::now_v7(), now).onboarded(now);
    store.insert_account(&account).await.expect("vendor");
    account
}

/// A batch of transfers drawing on no payment, once the accounts it moves exist, is
/// written whole (on PostgreSQL as one statement outside a transaction) or not at
/// all, and then in a transaction: a batch whose sum no one stripe of the platform's
/// cash holds is taken from several, and a batch with a key used before replays that
/// key and writes the rest. The balances are exactly the transfers'.
async fn a_batch_of_transfers_is_written_whole_or_not_at_all(store: SqlStore) {
    let vendor = onboarded_vendor(&store).await;
    let pending = LedgerAccount::owned(AccountKind::VendorPending, vendor.id.to_string(), usd()).code();
    let mut credited = 0;
    while credited < 3 || stripes_holding(&store, "platform_cash:USD").await < 2 {
        assert!(credited < 20, "twenty captures all landed on one stripe");
        settle_with(&store, "5", |p| vec![p.capture_entry().expect("capture")]).await.expect("capture");
        credited += 1;
    }
    let cash = credited * 500;
    // Two alone: the first creates the vendor's pending account, the second finds it
    // (the store knows an account once an update found its row).
    for _ in 0..2 {
        let alone = store.create_transfers(&[transfer_request(&vendor, 100, None).0]).await;
        assert!(matches!(&alone[0], Ok(Guarded::Done(_))), "{alone:?}");
    }
    let key = |key: &str| Some(IdempotencyClaim { method: "CreateTransfer", ..claim(key, "h1") });
    let (a, b, c) = (
        transfer_request(&vendor, cash - 400, key("tr-a")),
        transfer_request(&vendor, 150, key("tr-b")),
        transfer_request(&vendor, 50, None),
    );
    let ids = [a.1.id, b.1.id, c.1.id];
    let answers = store.create_transfers(&[a.0, b.0, c.0]).await;
    assert_written(&answers, &ids);
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 0, "taken from several stripes");
    assert_eq!(store.ledger_balance(&pending).await.expect("balance"), cash);

    settle_with(&store, "5", |p| vec![p.capture_entry().expect("capture")]).await.expect("capture");
    let (again, new) = (transfer_request(&vendor, 150, key("tr-b")), transfer_request(&vendor, 120, key("tr-d")));
    let answers = store.create_transfers(&[again.0, new.0]).await;
    let replayed = Some(ids[1].to_string());
    assert!(matches!(&answers[0], Ok(Guarded::KeyExists { resource_id, .. }) if *resource_id == replayed), "{answers:?}");
    assert!(matches!(&answers[1], Ok(Guarded::Done(t)) if t.id == new.1.id), "{answers:?}");
    assert_eq!(store.transfer(again.1.id).await.expect("read"), None, "the replay wrote nothing");
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 380);
    assert_eq!(store.ledger_balance(&pending).await.expect("balance"), cash + 120);
    assert_eq!(store.transfer_batches_at_once(), 0, "neither batch could be one statement");

    // Fresh keys, a stripe that covers the batch: one statement on PostgreSQL.
    let (e, f, g) = (
        transfer_request(&vendor, 100, key("tr-e")),
        transfer_request(&vendor, 30, key("tr-f")),
        transfer_request(&vendor, 20, None),
    );
    let ids = [e.1.id, f.1.id, g.1.id];
    let answers = store.create_transfers(&[e.0, f.0, g.0]).await;
    assert_written(&answers, &ids);
    let at_once = u64::from(store.dialect() == store::Dialect::Postgres);
    assert_eq!(store.transfer_batches_at_once(), at_once);
    let replay = store.create_transfers(&[transfer_request(&vendor, 30, key("tr-f")).0]).await;
    assert!(matches!(&replay[0], Ok(Guarded::KeyExists { resource_id, .. }) if *resource_id == Some(ids[1].to_string())));
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 230);
    assert_eq!(store.ledger_balance(&pending).await.expect("balance"), cash + 270);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// A transfer is written only on its vendor as it stands when written: a debt that
/// appeared, or an account restricted, since the last transfer to the vendor (whose
/// statement on PostgreSQL kept the vendor for the next batch) is what the written
/// plan saw, and a plan made on the vendor as it was is not written.
async fn a_transfer_is_written_only_on_its_vendor_as_it_stands(store: SqlStore) {
    settle_with(&store, "10", |p| vec![p.capture_entry().expect("capture")]).await.expect("platform cash");
    let vendor = onboarded_vendor(&store).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = |minor: i64| {
        let (request, transfer) = transfer_request(&vendor, minor, None);
        let (plan, seen) = (request.plan.clone(), seen.clone());
        let planned = move |given: &ConnectedAccount, linked: Option<&LinkedPayment>, receivable: i64| {
            seen.lock().expect("seen").push((given.status, receivable));
            if given.status != AccountStatus::Active {
                return Err(format!("the account is {}", given.status));
            }
            let mut planned = plan(given, linked, receivable)?;
            planned.transfer.description = format!("planned on a receivable of {receivable}");
            Ok(planned)
        };
        (TransferRequest { plan: Arc::new(planned), ..request }, transfer)
    };
    let write = |minor: i64| {
        let (request, transfer) = recorded(minor);
        let store = store.clone();
        async move { (store.create_transfers(&[request]).await.remove(0), transfer.id) }
    };
    let described = |id: uuid::Uuid| {
        let store = store.clone();
        async move { store.transfer(id).await.expect("read").expect("written").description }
    };
    // The first creates the vendor's ledger account, the second finds it (the store
    // knows an account once an update found its row), the third is one statement.
    for _ in 0..3 {
        assert!(matches!(write(100).await.0, Ok(Guarded::Done(_))));
    }
    let postgres = store.dialect() == store::Dialect::Postgres;
    assert_eq!(store.transfer_batches_at_once(), u64::from(postgres));

    paid_with_a_debt(&store, "5", &vendor, 250).await;
    seen.lock().expect("seen").clear();
    let (answer, id) = write(100).await;
    assert!(matches!(answer, Ok(Guarded::Done(_))), "{answer:?}");
    assert_eq!(described(id).await, "planned on a receivable of -250");
    let planned_on: Vec<i64> = seen.lock().expect("seen").iter().map(|(_, receivable)| *receivable).collect();
    assert_eq!(planned_on.last(), Some(&-250), "{planned_on:?}");
    // Read afresh, the vendor is kept again: the next one is one statement.
    let at_once = store.transfer_batches_at_once();
    let (answer, id) = write(100).await;
    assert!(matches!(answer, Ok(Guarded::Done(_))), "{answer:?}");
    assert_eq!(described(id).await, "planned on a receivable of -250");
    assert_eq!(store.transfer_batches_at_once(), at_once + u64::from(postgres));

    let restricted = ConnectedAccount { status: AccountStatus::Restricted, ..vendor.clone() };
    assert!(store.apply_gateway_account(&restricted, Utc::now().timestamp()).await.expect("restricted"));
    let (answer, id) = write(100).await;
    assert!(matches!(&answer, Ok(Guarded::Refused(reason)) if reason == "the account is restricted"), "{answer:?}");
    assert_eq!(store.transfer(id).await.expect("read"), None);
    let pending = LedgerAccount::owned(AccountKind::VendorPending, vendor.id.to_string(), usd()).code();
    assert_eq!(store.ledger_balance(&pending).await.expect("balance"), 500);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// A paid payment of `amount` to the platform's cash, and `debt` (minor units) the
/// vendor now owes it, moved from its receivable to that cash.
async fn paid_with_a_debt(store: &SqlStore, amount: &str, vendor: &ConnectedAccount, debt: i64) {
    let owes = LedgerAccount::owned(AccountKind::VendorReceivable, vendor.id.to_string(), usd());
    let cash = LedgerAccount::platform(AccountKind::PlatformCash, usd());
    settle_with(store, amount, |p| {
        let moved = Money::from_minor(debt, usd());
        let debt = JournalEntry::movement(EntryKind::Withdrawal, p.id.to_string(), owes.clone(), cash.clone(), moved);
        vec![p.capture_entry().expect("capture"), debt.expect("entry")]
    })
    .await
    .expect("platform cash, and a debt of the vendor");
}

/// Each answer is its request's transfer, written.
fn assert_written(answers: &[Result<Guarded<Transfer>, StoreError>], ids: &[uuid::Uuid]) {
    assert_eq!(answers.len(), ids.len(), "{answers:?}");
    for (answer, id) in answers.iter().zip(ids) {
        assert!(matches!(answer, Ok(Guarded::Done(t)) if t.id == *id), "{answers:?}");
    }
}

/// The request of a transfer of `minor` from the platform's cash to the vendor's
/// pending balance, as the app makes one before asking the gateway.
fn transfer_request(vendor: &ConnectedAccount, minor: i64, claim: Option<IdempotencyClaim>) -> (TransferRequest, Transfer) {
    let now = Utc::now();
    let transfer = Transfer::pending(vendor, None, Money::from_minor(minor, usd()), "batch".into(), now, now);
    let cash = LedgerAccount::platform(AccountKind::PlatformCash, usd());
    let pending = LedgerAccount::owned(AccountKind::VendorPending, vendor.id.to_string(), usd());
    let entry =
        JournalEntry::movement(EntryKind::Transfer, transfer.id.to_string(), cash, pending, transfer.amount).expect("entry");
    let planned = transfer.clone();
    let plan = move |_: &ConnectedAccount, _: Option<&LinkedPayment>, _: i64| {
        Ok(TransferPlan { transfer: planned.clone(), split: None, entries: vec![entry.clone()] })
    };
    let receivable = LedgerAccount::owned(AccountKind::VendorReceivable, vendor.id.to_string(), usd()).code();
    let request = TransferRequest {
        claim,
        account_id: vendor.id,
        transfer_id: transfer.id,
        payment_id: None,
        receivable,
        plan: Arc::new(plan),
    };
    (request, transfer)
}

/// A pending transfer of `minor`, written.
async fn pending_transfer(store: &SqlStore, vendor: &ConnectedAccount, minor: i64) -> Transfer {
    let (request, _) = transfer_request(vendor, minor, None);
    match store.create_transfers(&[request]).await.pop() {
        Some(Ok(Guarded::Done(written))) => written,
        other => panic!("the transfer was not written: {other:?}"),
    }
}

/// Transfers created together keep their own answers: a refused plan is refused, a
/// key used earlier in the batch replays, and when the entries together would
/// overdraw the platform's cash, each is created alone, so only the one that
/// overdraws is refused.
async fn transfers_created_together_keep_their_own_answers(store: SqlStore) {
    settle_with(&store, "10", |p| vec![p.capture_entry().expect("capture")]).await.expect("platform cash");
    let vendor = onboarded_vendor(&store).await;
    let key = || Some(IdempotencyClaim { method: "CreateTransfer", ..claim("tr-1", "h1") });
    let refused = TransferRequest {
        plan: Arc::new(|_: &ConnectedAccount, _: Option<&LinkedPayment>, _: i64| Err("refused by its plan".to_owned())),
        ..transfer_request(&vendor, 1, None).0
    };
    let mut keyed_id = None;
    for overdraw in [false, true] {
        let (first, first_transfer) = transfer_request(&vendor, 100, None);
        let (keyed, keyed_transfer) = transfer_request(&vendor, 200, if overdraw { None } else { key() });
        let (replay, _) = transfer_request(&vendor, 200, key());
        let mut batch = vec![first, refused.clone(), keyed, replay];
        if overdraw {
            batch.push(transfer_request(&vendor, 2_000, None).0);
        }
        let answers = store.create_transfers(&batch).await;
        assert!(matches!(&answers[0], Ok(Guarded::Done(t)) if t.id == first_transfer.id), "{answers:?}");
        assert!(matches!(&answers[1], Ok(Guarded::Refused(reason)) if reason == "refused by its plan"), "{answers:?}");
        assert!(matches!(&answers[2], Ok(Guarded::Done(t)) if t.id == keyed_transfer.id), "{answers:?}");
        let keyed_id = keyed_id.get_or_insert(keyed_transfer.id.to_string());
        assert!(
            matches!(&answers[3], Ok(Guarded::KeyExists { resource_id: Some(id), .. }) if id == keyed_id),
            "the key's first transfer is replayed: {answers:?}"
        );
        if overdraw {
            assert!(
                matches!(&answers[4], Ok(Guarded::Refused(reason)) if reason.starts_with("insufficient_funds")),
                "{answers:?}"
            );
        }
        for id in [first_transfer.id, keyed_transfer.id] {
            assert_eq!(store.transfer(id).await.expect("read").expect("written").status, TransferStatus::Pending);
        }
    }
    let pending_code = LedgerAccount::owned(AccountKind::VendorPending, vendor.id.to_string(), usd()).code();
    assert_eq!(store.ledger_balance(&pending_code).await.expect("balance"), 600);
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 400);

    // Requests drawing on payments are planned in the payments' id order (the order
    // their rows are locked in), and each is still planned with its own payment.
    let (older, newer) = (new_payment("user-1", "5"), new_payment("user-1", "5"));
    for payment in [&older, &newer] {
        store.create_payment(payment, None).await.expect("payment");
    }
    let planned_on = Arc::new(std::sync::Mutex::new(Vec::new()));
    let drawing_on = |payment: &Payment| {
        let (request, transfer) = transfer_request(&vendor, 1, None);
        let (own, plan, planned_on) = (payment.id, request.plan.clone(), planned_on.clone());
        let checked = move |vendor: &ConnectedAccount, linked: Option<&LinkedPayment>, receivable: i64| {
            planned_on.lock().expect("planned").push(linked.map(|found| found.payment.id));
            match linked {
                Some(found) if found.payment.id == own => plan(vendor, linked, receivable),
                _ => Err("planned with another payment".to_owned()),
            }
        };
        (TransferRequest { payment_id: Some(payment.id), plan: Arc::new(checked), ..request }, transfer)
    };
    let ((on_newer, newer_transfer), (on_older, older_transfer)) = (drawing_on(&newer), drawing_on(&older));
    let answers = store.create_transfers(&[on_newer, on_older]).await;
    assert!(matches!(&answers[0], Ok(Guarded::Done(t)) if t.id == newer_transfer.id), "{answers:?}");
    assert!(matches!(&answers[1], Ok(Guarded::Done(t)) if t.id == older_transfer.id), "{answers:?}");
    // Once each, in the batch: a plan given another payment would be planned again alone.
    assert_eq!(*planned_on.lock().expect("planned"), vec![Some(older.id), Some(newer.id)]);
    assert_eq!(store.ledger_balance(&pending_code).await.expect("balance"), 602);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// Each plan is given its own vendor's account and receivable balance (what the
/// vendor owes, negative), read in the write's transaction; a request naming no
/// account is answered NotFound, alone or beside others, writes nothing and keeps
/// no key, while its batch-mates are written. A request refused by its plan (as an
/// inactive account is) whose key was used replays that key.
async fn a_transfer_is_planned_with_its_vendor_and_refused_without_one(store: SqlStore) {
    let (first, second) = (onboarded_vendor(&store).await, onboarded_vendor(&store).await);
    paid_with_a_debt(&store, "10", &first, 250).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let for_vendor = |vendor: &ConnectedAccount, minor: i64, claim: Option<IdempotencyClaim>| {
        let (request, transfer) = transfer_request(vendor, minor, claim);
        let (own, plan, seen) = (vendor.id, request.plan.clone(), seen.clone());
        let recorded = move |given: &ConnectedAccount, linked: Option<&LinkedPayment>, receivable: i64| {
            seen.lock().expect("seen").push((own, given.id, receivable));
            plan(given, linked, receivable)
        };
        (TransferRequest { plan: Arc::new(recorded), ..request }, transfer)
    };
    let key = || Some(IdempotencyClaim { method: "CreateTransfer", ..claim("tr-vendor", "h1") });
    let missing = || TransferRequest { account_id: uuid::Uuid::now_v7(), ..for_vendor(&first, 300, key()).0 };
    let ((to_first, first_transfer), (to_second, second_transfer)) =
        (for_vendor(&first, 100, None), for_vendor(&second, 200, None));
    let answers = store.create_transfers(&[to_first, missing(), to_second]).await;
    assert!(matches!(&answers[0], Ok(Guarded::Done(t)) if t.id == first_transfer.id), "{answers:?}");
    assert!(matches!(&answers[1], Err(StoreError::NotFound("connected account"))), "{answers:?}");
    assert!(matches!(&answers[2], Ok(Guarded::Done(t)) if t.id == second_transfer.id), "{answers:?}");
    // Each with its own account: the missing one was never planned. (On PostgreSQL
    // a batch or a lone request is planned for one statement first, then again in a
    // transaction when the vendors' ledger accounts are new: the same plans.)
    let mut planned = std::mem::take(&mut *seen.lock().expect("seen"));
    planned.sort();
    planned.dedup();
    let mut expected = vec![(first.id, first.id, -250), (second.id, second.id, 0)];
    expected.sort();
    assert_eq!(planned, expected);
    let alone = store.create_transfers(&[missing()]).await;
    assert!(matches!(&alone[0], Err(StoreError::NotFound("connected account"))), "{alone:?}");
    let answers = store.create_transfers(&[for_vendor(&first, 25, None).0]).await;
    assert!(matches!(&answers[0], Ok(Guarded::Done(_))), "{answers:?}");
    let alone_planned = std::mem::take(&mut *seen.lock().expect("seen"));
    assert!(!alone_planned.is_empty(), "planned");
    assert!(alone_planned.iter().all(|seen| *seen == (first.id, first.id, -250)), "alone, the same debt: {alone_planned:?}");

    // The missing account's key was not kept: it is free for a transfer that goes.
    let (keyed, keyed_transfer) = for_vendor(&first, 50, key());
    let answers = store.create_transfers(&[keyed]).await;
    assert!(matches!(&answers[0], Ok(Guarded::Done(t)) if t.id == keyed_transfer.id), "{answers:?}");
    let refused = TransferRequest {
        plan: Arc::new(|_: &ConnectedAccount, _: Option<&LinkedPayment>, _: i64| Err("the account is restricted".to_owned())),
        ..for_vendor(&first, 50, key()).0
    };
    let answers = store.create_transfers(&[refused]).await;
    let replayed = keyed_transfer.id.to_string();
    assert!(matches!(&answers[0], Ok(Guarded::KeyExists { resource_id: Some(id), .. }) if *id == replayed), "{answers:?}");
    // Only the four planned transfers moved money (the debt's 250 came in).
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 875);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// A request planned again after its batch's commit went through unanswered (here:
/// submitted again as it was) finds its transfer written: its own id refused as a
/// duplicate, or its plan now refusing, the stored transfer is the answer, alone or
/// in a batch, and the money moved once.
async fn a_transfer_written_before_its_answer_was_lost_is_the_answer(store: SqlStore) {
    settle_with(&store, "10", |p| vec![p.capture_entry().expect("capture")]).await.expect("platform cash");
    let vendor = onboarded_vendor(&store).await;
    let (written, transfer) = transfer_request(&vendor, 100, None);
    let done = |answers: &[Result<Guarded<Transfer>, StoreError>], id: uuid::Uuid| {
        assert!(matches!(&answers[0], Ok(Guarded::Done(t)) if t.id == id), "{answers:?}");
    };
    done(&store.create_transfers(std::slice::from_ref(&written)).await, transfer.id);
    done(&store.create_transfers(std::slice::from_ref(&written)).await, transfer.id);
    // In a batch: the duplicate fails the batch's transaction, then each goes alone.
    let (fresh, fresh_transfer) = transfer_request(&vendor, 200, None);
    let answers = store.create_transfers(&[written.clone(), fresh]).await;
    done(&answers, transfer.id);
    assert!(matches!(&answers[1], Ok(Guarded::Done(t)) if t.id == fresh_transfer.id), "{answers:?}");
    // A plan that sees the money gone the second time (the payment's rest used up).
    let (request, refused_later) = transfer_request(&vendor, 300, None);
    let planned_before = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (plan, before) = (request.plan.clone(), planned_before.clone());
    let once = move |vendor: &ConnectedAccount, linked: Option<&LinkedPayment>, receivable: i64| {
        if before.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err("amount exceeds what the payment left on the platform".to_owned());
        }
        plan(vendor, linked, receivable)
    };
    let request = TransferRequest { plan: Arc::new(once), ..request };
    done(&store.create_transfers(std::slice::from_ref(&request)).await, refused_later.id);
    done(&store.create_transfers(std::slice::from_ref(&request)).await, refused_later.id);
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 400);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// Settlements written together, until the ledger refuses one of them: then each is
/// written alone, so the refused one stays pending (for recovery) and its batch-mates
/// are settled, each once.
async fn settlements_refused_together_are_written_one_at_a_time(store: SqlStore) {
    settle_with(&store, "10", |p| vec![p.capture_entry().expect("capture")]).await.expect("platform cash");
    let vendor = onboarded_vendor(&store).await;
    let (first, second, third) = (
        pending_transfer(&store, &vendor, 100).await,
        pending_transfer(&store, &vendor, 200).await,
        pending_transfer(&store, &vendor, 300).await,
    );
    let paid = |transfer: &Transfer| Transfer {
        status: TransferStatus::Paid,
        gateway_transfer_id: Some(format!("tr_{}", transfer.id.simple())),
        paid_at: Some(Utc::now()),
        ..transfer.clone()
    };
    let pending_code = LedgerAccount::owned(AccountKind::VendorPending, vendor.id.to_string(), usd());
    // The second one "fails" giving back more than the vendor's pending balance holds.
    let give_back = JournalEntry::movement(
        EntryKind::TransferFailed,
        second.id.to_string(),
        pending_code.clone(),
        LedgerAccount::platform(AccountKind::PlatformCash, usd()),
        Money::from_minor(601, usd()),
    )
    .expect("entry");
    let failed = Transfer { status: TransferStatus::Failed, ..second.clone() };
    let settlements = vec![(paid(&first), vec![]), (failed, vec![give_back]), (paid(&third), vec![])];

    let answers = store.settle_transfers(&settlements).await;
    assert!(matches!(answers[0], Ok(true)), "{answers:?}");
    assert!(matches!(answers[1], Err(StoreError::InsufficientFunds { .. })), "{answers:?}");
    assert!(matches!(answers[2], Ok(true)), "{answers:?}");
    let status = |id| {
        let store = &store;
        async move { store.transfer(id).await.expect("read").expect("exists").status }
    };
    assert_eq!(status(first.id).await, TransferStatus::Paid);
    assert_eq!(status(second.id).await, TransferStatus::Pending, "the refused one is left for recovery");
    assert_eq!(status(third.id).await, TransferStatus::Paid);
    // Settled once: the same batch again writes nothing more.
    let again = store.settle_transfers(&settlements[..1]).await;
    assert!(matches!(again[..], [Ok(false)]), "{again:?}");
    assert_eq!(store.ledger_balance(&pending_code.code()).await.expect("balance"), 600);
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 400);

    // The same transfer twice in one batch (its request and the recovery job): the
    // first is written, the second finds it settled and posts nothing.
    let fourth = pending_transfer(&store, &vendor, 50).await;
    let available = LedgerAccount::owned(AccountKind::VendorAvailable, vendor.id.to_string(), usd());
    let matured = JournalEntry::movement(
        EntryKind::Maturation,
        fourth.id.to_string(),
        pending_code.clone(),
        available.clone(),
        Money::from_minor(50, usd()),
    )
    .expect("entry");
    let twice = vec![(paid(&fourth), vec![]), (paid(&fourth), vec![matured])];
    let answers = store.settle_transfers(&twice).await;
    assert!(matches!(answers[..], [Ok(true), Ok(false)]), "{answers:?}");
    assert_eq!(status(fourth.id).await, TransferStatus::Paid);
    assert_eq!(store.ledger_balance(&available.code()).await.expect("balance"), 0);
    assert_eq!(store.ledger_balance(&pending_code.code()).await.expect("balance"), 650);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// A settlement writes its transfer's event, and a delivery to each subscribed
/// endpoint, once: not again when it lost the race (the transfer was settled
/// already), whether it posts nothing (on PostgreSQL one statement, no transaction)
/// or posts entries (a transaction).
async fn a_settlement_writes_its_event_and_deliveries_once(store: SqlStore) {
    settle_with(&store, "10", |p| vec![p.capture_entry().expect("capture")]).await.expect("platform cash");
    let endpoint = subscribed_to_transfer_paid(&store).await;
    let vendor = onboarded_vendor(&store).await;
    let (first, second, third) = (
        pending_transfer(&store, &vendor, 100).await,
        pending_transfer(&store, &vendor, 200).await,
        pending_transfer(&store, &vendor, 300).await,
    );
    let paid = |transfer: &Transfer| paid_as(transfer, &format!("tr_{}", transfer.id.simple()));
    let answers = store.settle_transfers(&[(paid(&first), vec![]), (paid(&second), vec![])]).await;
    assert!(matches!(answers[..], [Ok(true), Ok(true)]), "{answers:?}");
    let lost = store.settle_transfers(&[(paid(&first), vec![]), (paid(&second), vec![])]).await;
    assert!(matches!(lost[..], [Ok(false), Ok(false)]), "settled already: {lost:?}");
    let pending = LedgerAccount::owned(AccountKind::VendorPending, vendor.id.to_string(), usd());
    let available = LedgerAccount::owned(AccountKind::VendorAvailable, vendor.id.to_string(), usd());
    let matured = JournalEntry::movement(
        EntryKind::Maturation,
        third.id.to_string(),
        pending,
        available.clone(),
        Money::from_minor(300, usd()),
    )
    .expect("entry");
    for answer in [true, false] {
        let settled = store.settle_transfers(&[(paid(&third), vec![matured.clone()])]).await;
        assert!(matches!(settled[..], [Ok(written)] if written == answer), "{settled:?}");
    }
    for transfer in [&first, &second, &third] {
        assert_eq!(paid_events(&store, transfer.id).await, 1, "one transfer.paid for {}", transfer.id);
    }
    assert_eq!(deliveries_to(&store, endpoint).await, 3);
    assert_eq!(store.ledger_balance(&available.code()).await.expect("balance"), 300);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// A batch of settlements mixing one settled before, one twice (the first one sent
/// counts), a pending one and one of no transfer answers each as alone would, with
/// one event per row changed; on PostgreSQL in one statement, and past 20
/// transfers in a transaction, with the same answers.
async fn settlements_of_a_mixed_batch_write_each_change_once(store: SqlStore) {
    settle_with(&store, "10", |p| vec![p.capture_entry().expect("capture")]).await.expect("platform cash");
    let endpoint = subscribed_to_transfer_paid(&store).await;
    let vendor = onboarded_vendor(&store).await;
    let (t1, t2, t3) = (
        pending_transfer(&store, &vendor, 10).await,
        pending_transfer(&store, &vendor, 10).await,
        pending_transfer(&store, &vendor, 10).await,
    );
    let ghost = Transfer { id: uuid::Uuid::now_v7(), ..t3.clone() };
    assert!(matches!(store.settle_transfers(&[(paid_as(&t1, "tr_1"), vec![])]).await[..], [Ok(true)]));
    let batch = [(&t1, "tr_1b"), (&t2, "tr_a"), (&t2, "tr_b"), (&t3, "tr_3"), (&ghost, "tr_g")]
        .map(|(transfer, gateway_id)| (paid_as(transfer, gateway_id), vec![]));
    let answers: Vec<bool> = store.settle_transfers(&batch).await.into_iter().map(|a| a.expect("answer")).collect();
    assert_eq!(answers, [false, true, false, true, false]);
    let gateway_id = |id| {
        let store = &store;
        async move { store.transfer(id).await.expect("read").expect("exists").gateway_transfer_id }
    };
    assert_eq!(gateway_id(t1.id).await.as_deref(), Some("tr_1"), "settled before, left as it was");
    assert_eq!(gateway_id(t2.id).await.as_deref(), Some("tr_a"), "the first of the batch's two");
    for (transfer, events) in [(&t1, 1), (&t2, 1), (&t3, 1), (&ghost, 0)] {
        assert_eq!(paid_events(&store, transfer.id).await, events, "events of {}", transfer.id);
    }
    assert_eq!(deliveries_to(&store, endpoint).await, 3);

    let mut many = Vec::new();
    for _ in 0..22 {
        many.push(pending_transfer(&store, &vendor, 1).await);
    }
    let mut batch: Vec<_> = many.iter().map(|t| (paid_as(t, "tr_many"), vec![])).collect();
    batch.insert(3, (paid_as(&many[0], "tr_again"), vec![]));
    batch.push((paid_as(&t1, "tr_late"), vec![]));
    let answers: Vec<bool> = store.settle_transfers(&batch).await.into_iter().map(|a| a.expect("answer")).collect();
    let mut expected = vec![true; 22];
    expected.insert(3, false);
    expected.push(false);
    assert_eq!(answers, expected);
    assert_eq!(deliveries_to(&store, endpoint).await, 25);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
}

/// The transfer as the gateway paid it, under `gateway_id`.
fn paid_as(transfer: &Transfer, gateway_id: &str) -> Transfer {
    Transfer {
        status: TransferStatus::Paid,
        gateway_transfer_id: Some(gateway_id.to_owned()),
        paid_at: Some(Utc::now()),
        ..transfer.clone()
    }
}

/// An enabled endpoint subscribed to `transfer.paid`; its id.
async fn subscribed_to_transfer_paid(store: &SqlStore) -> uuid::Uuid {
    use app::events_ports::{EndpointSecret, EventEndpoint, EventStore};
    let now = Utc::now();
    let endpoint = EventEndpoint {
        id: uuid::Uuid::now_v7(),
        url: "https://platform.example/hooks".into(),
        description: String::new(),
        subscription: domain::events::Subscription::parse("event_types", &["transfer.paid".to_owned()]).expect("types"),
        secret: EndpointSecret::generate(),
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    store.insert_endpoint(&endpoint).await.expect("endpoint");
    endpoint.id
}

async fn paid_events(store: &SqlStore, transfer: uuid::Uuid) -> i64 {
    use app::events_ports::{EventFilter, EventStore};
    let filter = EventFilter { object_id: Some(transfer), event_type: Some(domain::events::EventType::TransferPaid) };
    store.events(&filter, Page { limit: 10, offset: 0 }).await.expect("events").1
}

async fn deliveries_to(store: &SqlStore, endpoint: uuid::Uuid) -> i64 {
    use app::events_ports::EventStore;
    store.deliveries(Some(endpoint), Page { limit: 100, offset: 0 }).await.expect("deliveries").1
}

/// On PostgreSQL a writer skips the stripes other transactions hold: with all but one
/// of `platform_cash`'s, `external`'s and a vendor's pending stripes locked elsewhere,
/// and that vendor's account row too, a capture transferred to that vendor still
/// commits at once (it used to wait for the one balance row's lock).
#[tokio::test]
async fn postgres_writers_skip_the_stripes_others_hold() {
    let store = fresh_store(true).await;
    let name = database_name(&store).await;
    settle_with(&store, "5", |p| capture_and_transfer(p, 200)).await.expect("creates the stripes");
    let mut holder = store.pool().begin().await.expect("holder");
    sqlx::query(
        "SELECT stripe FROM ledger_stripes WHERE account_id IN ('platform_cash:USD', 'external:USD', $1) AND stripe <> 7 \
         FOR UPDATE",
    )
    .bind(vendor(AccountKind::VendorPending).code())
    .fetch_all(&mut *holder)
    .await
    .expect("lock");
    // The vendor's own row, locked as a balance update locks it: every transfer to
    // the vendor used to update it (the postings' foreign key only shares it).
    sqlx::query("SELECT id FROM ledger_accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(vendor(AccountKind::VendorPending).code())
        .fetch_all(&mut *holder)
        .await
        .expect("lock the row");
    let transfer = settle_with(&store, "5", |p| capture_and_transfer(p, 200));
    tokio::time::timeout(Duration::from_secs(20), transfer)
        .await
        .expect("the transfer waited for a held stripe")
        .expect("transfer");
    holder.rollback().await.expect("release");
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 600);
    assert_eq!(store.ledger_balance(&vendor(AccountKind::VendorPending).code()).await.expect("balance"), 400);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
    store.pool().close().await;
    drop_database(&name).await;
}

/// A write's balances go in one statement on PostgreSQL, each account's move only
/// after the one before it in lock order. A write that must wait for its first
/// account (every stripe of `external` held elsewhere) waits holding no stripe of the
/// accounts after it, so the one lock order still keeps writers from deadlocking; one
/// that must wait for its last (the vendor's pending balance) moves the two before it
/// in the statement and that one alone after. Each moves every account once.
#[tokio::test]
async fn postgres_a_write_waiting_for_an_account_holds_none_after_it() {
    let store = fresh_store(true).await;
    let name = database_name(&store).await;
    // The first creates the vendor's account, the second finds it: the store knows
    // every account of the ones after, whose balances then go in one statement.
    for _ in 0..2 {
        settle_with(&store, "5", |p| capture_and_transfer(p, 200)).await.expect("creates the accounts");
    }
    let pending = vendor(AccountKind::VendorPending).code();
    let free = wait_for_held_account(&store, "external:USD", &["platform_cash:USD", &pending]).await;
    assert_eq!(free, 32, "the waiting write held a stripe of an account after the one it waited for");
    wait_for_held_account(&store, &pending, &[]).await;
    assert_eq!(store.ledger_balance("external:USD").await.expect("balance"), -2000);
    assert_eq!(store.ledger_balance("platform_cash:USD").await.expect("balance"), 1200);
    assert_eq!(store.ledger_balance(&pending).await.expect("balance"), 800);
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
    store.pool().close().await;
    drop_database(&name).await;
}

/// Holds every stripe of `held` while a capture transferred to the vendor is written,
/// and once the write waits for a lock, counts the stripes of `others` no one holds;
/// then lets the write finish.
async fn wait_for_held_account(store: &SqlStore, held: &str, others: &[&str]) -> usize {
    use sqlx::Row;
    let mut holder = store.pool().begin().await.expect("holder");
    sqlx::query("SELECT stripe FROM ledger_stripes WHERE account_id = $1 FOR UPDATE")
        .bind(held)
        .fetch_all(&mut *holder)
        .await
        .expect("lock");
    let writer = settle_with(store, "5", |p| capture_and_transfer(p, 200));
    let watcher = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let waiting: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(store.pool())
            .await
            .expect("activity")
            .get("n");
            if waiting > 0 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the write never waited for {held}'s stripes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut free = 0;
        for other in others {
            let mut looker = store.pool().begin().await.expect("looker");
            free += sqlx::query("SELECT stripe FROM ledger_stripes WHERE account_id = $1 FOR UPDATE SKIP LOCKED")
                .bind(other)
                .fetch_all(&mut *looker)
                .await
                .expect("free stripes")
                .len();
            looker.rollback().await.expect("looker");
        }
        holder.rollback().await.expect("release");
        free
    };
    let (written, free) = tokio::join!(tokio::time::timeout(Duration::from_secs(60), writer), watcher);
    written.expect("the write finished once the account was free").expect("write");
    free
}

/// No two indexes of a table lead with the same column. When two did (payments'
/// `(gateway_name, session)` and `(gateway_name, intent)`), a lookup planned while the
/// table was nearly empty could take either at equal cost, and a pooled connection kept
/// that plan as the table grew: narrowed by `gateway_name` alone, every checkout read
/// every payment of the gateway (issue 11's checkout slowdown).
#[tokio::test]
async fn postgres_no_two_indexes_of_a_table_lead_with_the_same_column() {
    let store = fresh_store(true).await;
    let name = database_name(&store).await;
    let rows = sqlx::query(
        "SELECT CAST(t.relname AS TEXT) AS table_name, CAST(a.attname AS TEXT) AS leading, \
         CAST(string_agg(CAST(i.relname AS TEXT), ', ' ORDER BY i.relname) AS TEXT) AS indexes \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] \
         WHERE n.nspname = 'public' GROUP BY t.relname, a.attname HAVING COUNT(*) > 1",
    )
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    let shared: Vec<String> = rows
        .iter()
        .map(|row| {
            let text = |column: &str| sqlx::Row::get::<String, _>(row, column);
            format!("{}.{}: {}", text("table_name"), text("leading"), text("indexes"))
        })
        .collect();
    assert_eq!(shared, Vec::<String>::new(), "indexes sharing a leading column");
    store.pool().close().await;
    drop_database(&name).await;
}

/// A lookup of payments by gateway ids, planned on an empty table (as a pooled
/// connection may plan it, and keep the plan while the table grows), enters the
/// index by the ids it names. Led by `gateway_name`, the session index let the plan
/// narrow by the gateway alone and filter every payment of it for the sessions.
#[tokio::test]
async fn postgres_lookups_by_gateway_ids_are_narrowed_by_the_ids_on_an_empty_table() {
    let store = fresh_store(true).await;
    let name = database_name(&store).await;
    for column in ["gateway_session_id", "gateway_payment_intent_id"] {
        let sql = format!("EXPLAIN SELECT id FROM payments WHERE {column} IN ('a', 'b') AND gateway_name = 'mock'");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await.expect("explain");
        let plan: Vec<String> = rows.iter().map(|row| sqlx::Row::get::<String, _>(row, 0)).collect();
        let condition = plan.iter().find(|line| line.contains("Index Cond")).cloned().unwrap_or_default();
        assert!(condition.contains(column), "the ids are the index condition: {plan:#?}");
    }
    store.pool().close().await;
    drop_database(&name).await;
}

/// SQLite syncs its log at every commit (`synchronous` FULL, 2) unless told otherwise.
#[tokio::test]
async fn sqlite_syncs_every_commit_unless_told_otherwise() {
    for (setting, level) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
        let path = std::env::temp_dir().join("vondipayment-tests").join(format!("sync-{}.db", uuid::Uuid::new_v4().simple()));
        let options = StoreOptions {
            url: format!("sqlite://{}", path.display()),
            max_connections: 1,
            max_lifetime: Duration::from_secs(60),
            acquire_timeout: Duration::from_secs(10),
            sqlite_synchronous: setting,
        };
        let store = SqlStore::connect(&options).await.expect("connect");
        let row = sqlx::query("PRAGMA synchronous").fetch_one(store.pool()).await.expect("pragma");
        assert_eq!(sqlx::Row::get::<i64, _>(&row, 0), level, "{setting:?}");
        store.close().await;
        let _ = std::fs::remove_file(&path);
    }
}

/// On an SQLite file, reads have connections of their own: one runs while the one
/// writing connection is inside a transaction, sees only what was committed, and sees
/// the commit as soon as it is made.
#[tokio::test]
async fn sqlite_reads_run_beside_an_open_write_and_see_only_commits() {
    let store = fresh_store(false).await;
    let payment = new_payment("user-1", "5");
    assert!(matches!(store.create_payment(&payment, None).await.expect("create"), CreatePaymentOutcome::Created(_)));
    let mut writing = store.pool().begin().await.expect("begin");
    sqlx::query("UPDATE payments SET user_id = 'user-2' WHERE id = $1")
        .bind(payment.id.to_string())
        .execute(&mut *writing)
        .await
        .expect("update");
    let during = store.payment(payment.id).await.expect("a read while the writer is busy").expect("payment");
    assert_eq!(during.user_id, "user-1", "an uncommitted write is not read");
    writing.commit().await.expect("commit");
    let after = store.payment(payment.id).await.expect("read").expect("payment");
    assert_eq!(after.user_id, "user-2", "a committed write is read at once");
    store.close().await;
}

/// A database in memory exists on the writer's connection only: reads go there too,
/// and see what was written.
#[tokio::test]
async fn sqlite_in_memory_reads_what_it_wrote() {
    let options = StoreOptions {
        url: "sqlite::memory:".into(),
        max_connections: 1,
        max_lifetime: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(10),
        sqlite_synchronous: Default::default(),
    };
    let store = SqlStore::connect(&options).await.expect("connect");
    store::migrate_up(&store).await.expect("migrate");
    let payment = new_payment("user-1", "5");
    store.create_payment(&payment, None).await.expect("create");
    assert_eq!(store.payment(payment.id).await.expect("read").map(|p| p.id), Some(payment.id));
    store.close().await;
}

/// Polls `operation` at most `times` times, yielding in between, then drops it: a
/// caller that went away (client gone, deadline) at some point of its work.
async fn abandon_after<F: std::future::Future>(operation: F, times: usize) {
    let mut operation = std::pin::pin!(operation);
    for _ in 0..times {
        if std::future::poll_fn(|cx| std::task::Poll::Ready(operation.as_mut().poll(cx))).await.is_ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// A caller dropped while its transaction's BEGIN is in flight must not leave the
/// pooled connection inside that transaction (sqlx 0.9 does on PostgreSQL,
/// sqlx#4393): the next statement on it, an autocommit write, would never commit.
/// With one pooled connection, every write after an abandoned transaction is seen at
/// once by another connection.
#[tokio::test]
async fn postgres_a_transaction_abandoned_at_any_point_leaves_no_open_transaction_behind() {
    let store = fresh_store_with(true, 1).await;
    let name = database_name(&store).await;
    let url = format!("{}/{name}", admin_url().rsplit_once('/').map(|(base, _)| base).expect("URL with a database"));
    let mut observer = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.expect("observer");
    use app::marketplace_ports::BalanceStore;
    use sqlx::Row;
    for attempt in 0..120_i64 {
        let payment = new_payment("user-1", "5");
        abandon_after(store.create_payment(&payment, None), usize::try_from(attempt % 12).expect("small")).await;
        assert!(store.claim_job_slot("abandon_probe", attempt).await.expect("claim"), "slot {attempt} was free");
        let seen: i64 = sqlx::query("SELECT COUNT(*) AS n FROM scheduler_slots WHERE job = 'abandon_probe' AND slot = $1")
            .bind(attempt)
            .fetch_one(&mut observer)
            .await
            .expect("count")
            .get("n");
        assert_eq!(seen, 1, "the write after abandoned transaction {attempt} did not commit");
    }
    assert_eq!(store.check_ledger().await.expect("check"), vec![]);
    drop(observer);
    store.pool().close().await;
    drop_database(&name).await;
}

/// Reads by id keep a connection between batches (no trip back to the pool, whose
/// ping is a round trip): one that broke costs its batch a read on a fresh
/// connection, not an error, and a kept connection does not hold the store's close.
#[tokio::test]
async fn postgres_reads_by_id_go_on_past_a_broken_kept_connection() {
    use sqlx::Row;
    let store = fresh_store(true).await;
    let name = database_name(&store).await;
    let payment = new_payment("user-1", "5");
    store.create_payment(&payment, None).await.expect("insert");
    let read = || async { store.payments(&[payment.id]).await.remove(0).expect("read").expect("found").id };
    assert_eq!(read().await, payment.id);
    // The one connection that has read by id is the kept one.
    let terminated = sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%FROM payments WHERE id IN%') t",
    )
    .fetch_one(store.pool())
    .await
    .expect("terminate")
    .get::<i64, _>("n");
    assert_eq!(terminated, 1, "one kept connection");
    assert_eq!(read().await, payment.id, "read again on a fresh connection");
    assert_eq!(read().await, payment.id);
    tokio::time::timeout(Duration::from_secs(30), store.close()).await.expect("the store closes with a connection kept");
    drop_database(&name).await;
}

/// A pool of one connection keeps none for reads: a write after a read by id still
/// gets the connection.
#[tokio::test]
async fn postgres_a_pool_of_one_still_writes_after_a_read_by_id() {
    let store = fresh_store_with(true, 1).await;
    let name = database_name(&store).await;
    let first = new_payment("user-1", "5");
    store.create_payment(&first, None).await.expect("insert");
    assert!(store.payments(&[first.id]).await.remove(0).expect("read").is_some());
    let second = new_payment("user-1", "6");
    store.create_payment(&second, None).await.expect("a write after the read");
    store.close().await;
    drop_database(&name).await;
}
