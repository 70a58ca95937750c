//! Disputes closed by hand (CloseDispute, and the console's form): AllSecure sends
//! nothing when a chargeback is lost, so an admin closes it. The money moves as the
//! gateway's closing would, once; a later word from the gateway changes nothing.

use api::proto::event_service_client::EventServiceClient;
use api::proto::{self, CloseDisputeRequest, CreateRefundRequest, ListEventsRequest};
use app::Role;

use crate::allsecure::{now, spawn_with_allsecure};
use crate::console::sign_in;
use crate::disputes::{allsecure_chargeback, mock_dispute_event, status};
use crate::helpers::{Db, TestApp, authed, spawn_app, token};
use crate::marketplace::admin;
use crate::on_both_databases;
use crate::pages::{WebSession, hidden};

on_both_databases!(
    a_chargeback_closed_lost_by_hand_takes_the_escrow_once,
    a_chargeback_closed_won_by_hand_is_released_normally,
    the_console_closes_a_dispute_for_admins_only_after_confirming,
    a_payment_without_escrow_is_not_refunded_while_disputed,
);

fn close(dispute_id: &str, outcome: proto::DisputeStatus, reason: &str, key: &str) -> CloseDisputeRequest {
    CloseDisputeRequest {
        dispute_id: dispute_id.into(),
        outcome: outcome.into(),
        reason: reason.into(),
        idempotency_key: key.into(),
    }
}

async fn close_as(app: &TestApp, who: &str, request: CloseDisputeRequest) -> Result<proto::Dispute, tonic::Status> {
    let closed = app.disputes().close_dispute(authed(request, who)).await?;
    Ok(closed.into_inner().dispute.expect("dispute"))
}

/// AllSecure reverses the chargeback (it won after all) after it was closed by
/// hand: answered OK and logged, with why it was not applied, and nothing else
/// written (no money moved).
async fn gateway_says_won_after_closing(app: &TestApp, fake: &fake_ixopay::FakeIxopay, dispute: &proto::Dispute) {
    let mut before = app.row_counts().await;
    let reversal = fake.chargeback_reversal(&dispute.gateway_dispute_id, &now()).expect("reversal");
    let (code, text) = crate::allsecure::deliver(app, reversal).await;
    assert_eq!((code, text.as_str()), (200, "OK"));
    *before.get_mut("webhook_logs").expect("webhook_logs") += 1;
    assert_eq!(app.row_counts().await, before, "the webhook after a manual close changes nothing but the log");
    let mut web = WebSession::new(app);
    sign_in(&mut web, "ops", "role_admin").await;
    let log = web.get("/en/admin/webhooks").await.body;
    assert!(log.contains(&format!("dispute {} was closed by hand", dispute.id)), "{log}");
}

fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

async fn a_chargeback_closed_lost_by_hand_takes_the_escrow_once(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let (payment_id, dispute) = allsecure_chargeback(&app, &fake).await;
    assert_eq!(app.ledger_balance("platform_escrow:RSD").await, 150_000);
    let lost = proto::DisputeStatus::Lost;

    // Refused, changing nothing: other roles, bad input.
    let before = app.row_counts().await;
    for who in [token("backend", &[Role::Service]), token("vendor", &[Role::Merchant])] {
        let refused = close_as(&app, &who, close(&dispute.id, lost, "bank letter", "")).await.expect_err("admin only");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{}", refused.message());
    }
    let unspecified = close(&dispute.id, proto::DisputeStatus::Unspecified, "bank letter", "");
    let refused = close_as(&app, &admin(), unspecified).await.expect_err("no outcome");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("outcome"), "{}", refused.message());
    let open = close(&dispute.id, proto::DisputeStatus::UnderReview, "bank letter", "");
    assert!(close_as(&app, &admin(), open).await.expect_err("open").message().contains("outcome"));
    let refused = close_as(&app, &admin(), close(&dispute.id, lost, "  ", "")).await.expect_err("no reason");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("reason"), "{}", refused.message());
    assert_eq!(app.row_counts().await, before);

    // Lost: the amount leaves escrow, the hold ends; a retry answers the same.
    let closed = close_as(&app, &admin(), close(&dispute.id, lost, "bank letter 7", "close-1")).await.expect("closed");
    assert_eq!(closed.status, status(lost));
    assert_eq!((closed.closed_by.as_str(), closed.close_reason.as_str()), ("ops", "bank letter 7"));
    assert!(closed.closed_at.is_some());
    assert_eq!(app.ledger_balance("platform_escrow:RSD").await, 0, "taken out of escrow");
    assert_eq!(app.hold_of(&payment_id).await.status, i32::from(proto::EscrowStatus::Cancelled));
    app.assert_ledger_ok();
    let after = app.row_counts().await;
    let replayed = close_as(&app, &admin(), close(&dispute.id, lost, "bank letter 7", "close-1")).await.expect("replay");
    assert_eq!(replayed, closed);
    assert_eq!(app.row_counts().await, after, "a replay changes nothing");

    // Closed: another closing is refused, naming why.
    let refused = close_as(&app, &admin(), close(&dispute.id, proto::DisputeStatus::Won, "oops", "close-2")).await;
    let refused = refused.expect_err("closed already");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("already closed by hand (lost)"), "{}", refused.message());

    // The gateway's later word moves no money: the operator's outcome stands.
    gateway_says_won_after_closing(&app, &fake, &dispute).await;
    assert_eq!(app.disputes_of(&payment_id).await[0].status, status(lost));

    // The platform hears it closed, by whom.
    let request = ListEventsRequest { object_id: dispute.id.clone(), limit: 10, ..Default::default() };
    let events = EventServiceClient::new(app.channel.clone()).list_events(authed(request, &admin())).await;
    let events = events.expect("events").into_inner().events;
    assert_eq!(events.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(), ["dispute.closed", "dispute.opened"]);
    let data: serde_json::Value = serde_json::from_str(&events[0].data_json).expect("JSON");
    assert_eq!(
        (&data["status"], &data["closed_by"], &data["close_reason"]),
        (&"lost".into(), &"ops".into(), &"bank letter 7".into())
    );
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_chargeback_closed_won_by_hand_is_released_normally(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let (payment_id, dispute) = allsecure_chargeback(&app, &fake).await;
    let won = proto::DisputeStatus::Won;
    let closed = close_as(&app, &admin(), close(&dispute.id, won, "bank withdrew it", "")).await.expect("closed");
    assert_eq!(closed.status, status(won));
    assert_eq!(app.hold_of(&payment_id).await.status, i32::from(proto::EscrowStatus::Holding), "unfrozen, not released");
    assert_eq!(app.process_expired(0).await, 1, "won: released on expiry like any hold");
    assert_eq!(app.hold_of(&payment_id).await.status, i32::from(proto::EscrowStatus::Released));
    gateway_says_won_after_closing(&app, &fake, &dispute).await;
    app.assert_ledger_ok();
    app.stop().await;
}

async fn the_console_closes_a_dispute_for_admins_only_after_confirming(db: Db) {
    let (app, fake) = spawn_with_allsecure(db).await;
    let (payment_id, dispute) = allsecure_chargeback(&app, &fake).await;
    let page = format!("/sr/admin/payments/{payment_id}");
    let action = format!("{page}/close-dispute");
    let form = |csrf: &str, confirm: &'static str| {
        let mut form = vec![
            ("csrf", csrf.to_owned()),
            ("dispute_id", dispute.id.clone()),
            ("outcome", "lost".to_owned()),
            ("reason", "pismo banke".to_owned()),
            ("idempotency_key", "console-close-1".to_owned()),
        ];
        if !confirm.is_empty() {
            form.push(("confirm", confirm.to_owned()));
        }
        form
    };
    let before = app.row_counts().await;

    let mut reader = WebSession::new(&app);
    sign_in(&mut reader, "svc", "role_service").await;
    let shown = reader.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.body.contains("close-dispute"), "the service role gets no form");
    let csrf = hidden(&shown.body, "csrf");
    let refused = reader.post(&action, &pairs(&form(&csrf, "yes"))).await;
    assert_eq!(refused.status, 403);

    let mut web = WebSession::new(&app);
    sign_in(&mut web, "ops", "role_admin").await;
    let shown = web.get(&page).await;
    assert!(shown.body.contains(&format!("close-dispute-{}", dispute.id)), "{}", shown.body);
    assert!(shown.body.contains("Ručno zatvori spor"), "in Serbian");
    let csrf = hidden(&shown.body, "csrf");
    let unconfirmed = web.post(&action, &pairs(&form(&csrf, ""))).await;
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.body);
    assert_eq!(app.row_counts().await, before, "refusals changed nothing");

    let closed = web.post(&action, &pairs(&form(&csrf, "yes"))).await;
    assert_eq!((closed.status, closed.location()), (303, format!("{page}?notice=dispute_closed").as_str()), "{}", closed.body);
    assert_eq!(app.disputes_of(&payment_id).await[0].status, status(proto::DisputeStatus::Lost));
    let shown = web.get(&format!("/ru/admin/payments/{payment_id}")).await;
    assert!(shown.body.contains("Закрыт вручную: ops: pismo banke"), "{}", shown.body);
    assert!(!shown.body.contains("close-dispute-"), "a closed dispute has no form");
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_payment_without_escrow_is_not_refunded_while_disputed(db: Db) {
    let app = spawn_app(db).await;
    let payment_id = app.paid_checkout("buyer-1", "20.00", "USD").await;
    let intent = app.get_payment(&admin(), &payment_id).await.expect("payment").gateway_payment_intent_id;
    let dispute = serde_json::json!({"id": "dp_mock_9", "amount": 2_000, "currency": "usd", "payment_intent": intent,
        "reason": "fraudulent", "status": "needs_response"});
    assert!(mock_dispute_event(&app, "evt_dispute_9", "charge.dispute.created", &dispute).await);
    let refund = CreateRefundRequest { payment_id: payment_id.clone(), amount: "5.00".into(), ..Default::default() };
    let before = app.row_counts().await;
    let refused = app.refunds().create_refund(authed(refund.clone(), &admin())).await.expect_err("disputed");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("open dispute"), "{}", refused.message());
    assert_eq!(app.row_counts().await, before, "a refused refund changes nothing");

    let id = app.disputes_of(&payment_id).await[0].id.clone();
    close_as(&app, &admin(), close(&id, proto::DisputeStatus::Won, "the bank found for us", "")).await.expect("closed");
    let refunded = app.refunds().create_refund(authed(refund, &admin())).await.expect("closed: refundable");
    assert_eq!(refunded.into_inner().refund.expect("refund").amount, "5.00");
    app.assert_ledger_ok();
    app.stop().await;
}
