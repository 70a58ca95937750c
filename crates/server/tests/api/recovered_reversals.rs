//! Reversals of transfers whose share repaid the vendor's debt: the recovered part
//! comes back by giving the debt back (no gateway call), the part that reached the
//! vendor through Stripe as any reversal.

use api::proto::event_service_client::EventServiceClient;
use api::proto::{self, GetBalanceRequest, ListEventsRequest};
use app::Role;
use fake_stripe::FakeStripe;

use crate::helpers::{Db, TestApp, authed, token};
use crate::on_both_databases;
use crate::stripe_connect::{paid_transfer, payout, reverse};
use crate::stripe_support::{calls, field, spawn_with_stripe, stripe_vendor};

on_both_databases!(reversals_give_back_the_debt_a_transfer_repaid_and_reverse_only_what_reached_the_vendor_at_stripe);

/// Every reversal request Stripe received.
fn reversal_requests(fake: &FakeStripe) -> usize {
    fake.requests().iter().filter(|r| r.method == "POST" && r.path.ends_with("/reversals")).count()
}

async fn receivable_amount(app: &TestApp, account: &str) -> String {
    let request = GetBalanceRequest { account_id: account.into(), force_refresh: false };
    let balances = app.balances().get_balance(authed(request, &token("ops", &[Role::Admin]))).await.expect("balance");
    balances.into_inner().balances[0].receivable_amount.clone()
}

async fn reversals_give_back_the_debt_a_transfer_repaid_and_reverse_only_what_reached_the_vendor_at_stripe(db: Db) {
    let recovery = [("GATEWAYS_STRIPE_TIMEOUT", "300ms"), ("GATEWAYS_STRIPE_MAX_RETRIES", "0"), ("RECOVERY_INTERVAL", "2s")];
    let (app, fake) = spawn_with_stripe(db, &recovery).await;
    let admin = token("ops", &[Role::Admin]);
    let (account, _) = stripe_vendor(&app, &fake, &admin, "vendor-5").await;
    let receivable = format!("vendor_receivable:{account}:USD");
    let available = format!("vendor_available:{account}:USD");
    // Paid 100.00, paid out, reversed: the vendor owes 100.00.
    let paid = paid_transfer(&app, &fake, &account, ("100.00", "100.00")).await;
    app.payouts().create_payout(authed(payout(&account, "100.00", "po-owed"), &admin)).await.expect("payout");
    app.transfers().reverse_transfer(authed(reverse(&paid.id, "100.00", "owed"), &admin)).await.expect("clawback");
    // A transfer the debt takes whole (30.00), then one it takes 70.00 of (30.00 sent).
    let whole = paid_transfer(&app, &fake, &account, ("30.00", "30.00")).await;
    assert_eq!((whole.amount.as_str(), whole.recovered_amount.as_str()), ("0.00", "30.00"));
    let part = paid_transfer(&app, &fake, &account, ("100.00", "100.00")).await;
    assert_eq!((part.amount.as_str(), part.recovered_amount.as_str()), ("30.00", "70.00"));
    assert_eq!((app.ledger_balance(&receivable).await, app.ledger_balance(&available).await), (0, 3_000));
    let requests_before = reversal_requests(&fake);

    // The whole one reversed in full: the debt it repaid is owed again, exactly;
    // nothing asked of Stripe; a retry answers the same reversal.
    let request = reverse(&whole.id, "", "give-back");
    let answer = app.transfers().reverse_transfer(authed(request.clone(), &admin)).await.expect("a pure recovery reversed");
    let answer = answer.into_inner();
    let (reversal, transfer) = (answer.reversal.expect("reversal"), answer.transfer.expect("transfer"));
    assert_eq!((reversal.amount.as_str(), reversal.recovered_amount.as_str()), ("30.00", "30.00"));
    assert_eq!((reversal.status.as_str(), reversal.gateway_reversal_id.as_str()), ("succeeded", ""));
    assert_eq!(transfer.status, i32::from(proto::TransferStatus::Reversed));
    assert_eq!((transfer.reversed_amount.as_str(), transfer.reversed_recovered_amount.as_str()), ("30.00", "30.00"));
    assert_eq!(app.ledger_balance(&receivable).await, -3_000, "the 30.00 it repaid is owed again");
    assert_eq!(app.ledger_balance(&available).await, 3_000, "the vendor's balance is not touched");
    assert_eq!(reversal_requests(&fake), requests_before, "no reversal request for a recovered part");
    let again = app.transfers().reverse_transfer(authed(request, &admin)).await.expect("replay").into_inner();
    assert_eq!(again.reversal.expect("reversal").id, reversal.id);
    assert_eq!(app.ledger_balance(&receivable).await, -3_000, "given back once");
    assert_eq!(receivable_amount(&app, &account).await, "30.00");
    let events = EventServiceClient::new(app.channel.clone());
    let listed = ListEventsRequest { object_id: reversal.id.clone(), limit: 10, ..Default::default() };
    let told = events.clone().list_events(authed(listed, &admin)).await.expect("events").into_inner().events;
    assert_eq!(told.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(), ["reversal.succeeded"]);
    let data: serde_json::Value = serde_json::from_str(&told[0].data_json).expect("JSON");
    assert_eq!((&data["amount"], &data["recovered_amount"]), (&"30.00".into(), &"30.00".into()));

    // Stripe refuses the partly recovered one's reversal: all of it is undone, the
    // sent part back on the balance, the debt it gave back cancelled again.
    let reversals = format!("/v1/transfers/{}/reversals", part.gateway_transfer_id);
    fake.fail_next(&reversals, 400, 1);
    let refused = app.transfers().reverse_transfer(authed(reverse(&part.id, "", "part-refused"), &admin)).await;
    let refused = refused.expect("recorded, then refused").into_inner();
    assert_eq!(refused.reversal.expect("reversal").status, "failed");
    let transfer = refused.transfer.expect("transfer");
    assert_eq!((transfer.reversed_amount.as_str(), transfer.reversed_recovered_amount.as_str()), ("0.00", "0.00"));
    assert_eq!((app.ledger_balance(&available).await, app.ledger_balance(&receivable).await), (3_000, -3_000));
    app.assert_ledger_ok();

    // Reversed in full: Stripe takes back the 30.00 sent, the 70.00 it repaid is
    // owed again. Stripe does not answer at first: both parts are recorded, the
    // reversal waits, and the recovery job asks Stripe again for the sent part.
    let made_before = fake.objects("transfer_reversal").len();
    fake.hang_next(&reversals, 1);
    let request = reverse(&part.id, "", "part-back");
    let answer = app.transfers().reverse_transfer(authed(request.clone(), &admin)).await;
    let answer = answer.expect("a partly recovered transfer reversed").into_inner();
    let (reversal, transfer) = (answer.reversal.expect("reversal"), answer.transfer.expect("transfer"));
    assert_eq!((reversal.amount.as_str(), reversal.recovered_amount.as_str()), ("100.00", "70.00"));
    assert_eq!(reversal.status, "pending");
    assert_eq!(transfer.status, i32::from(proto::TransferStatus::Reversed));
    assert_eq!(app.ledger_balance(&receivable).await, -10_000, "30.00 + 70.00 owed again while Stripe is asked");
    crate::helpers::eventually("the recovery job to settle the reversal", || {
        let mut transfers = app.transfers();
        let request = authed(request.clone(), &admin);
        async move {
            let reversal = transfers.reverse_transfer(request).await.ok()?.into_inner().reversal?;
            (reversal.status == "succeeded").then_some(())
        }
    })
    .await;
    let sent: Vec<_> = calls(&fake, "POST", &reversals).into_iter().skip(1).collect();
    assert!(sent.len() >= 2, "the unanswered request and the recovery's: {sent:?}");
    for request in &sent {
        assert_eq!(field(request, "amount"), Some("3000"), "Stripe is asked for the sent part only");
        assert_eq!(request.idempotency_key.as_deref(), Some(format!("reversal-{}", reversal.id).as_str()));
    }
    assert_eq!(fake.objects("transfer_reversal").len(), made_before + 1, "one reversal at Stripe for every try");
    assert_eq!(app.ledger_balance(&available).await, 0, "the sent part came back from the vendor's balance");
    assert_eq!(app.ledger_balance(&receivable).await, -10_000, "given back once");
    assert_eq!(receivable_amount(&app, &account).await, "100.00");
    app.assert_ledger_ok();

    // The debt given back is recovered again by the next transfer: a new recovery.
    let next = paid_transfer(&app, &fake, &account, ("150.00", "150.00")).await;
    assert_eq!((next.amount.as_str(), next.recovered_amount.as_str()), ("50.00", "100.00"));
    assert_eq!(app.ledger_balance(&receivable).await, 0);
    app.assert_ledger_ok();
    app.stop().await;
}
