//! Input built to break the storage or the client: NUL and control characters in
//! text fields, strings that are not UTF-8, and values far longer than any limit.
//! Each is INVALID_ARGUMENT (HTTP 400) naming its field, and changes nothing.

use api::proto::escrow_service_client::EscrowServiceClient;
use api::proto::refund_service_client::RefundServiceClient;
use api::proto::wallet_service_client::WalletServiceClient;
use api::proto::{
    CancelEscrowHoldRequest, CreatePayoutRequest, CreateRefundRequest, CreateSplitRuleRequest, CreateTransferRequest,
    GetUserPaymentsRequest, GetWalletRequest, ListWalletTransactionsRequest, ProcessWebhookEventRequest, WithdrawRequest,
};
use app::Role;
use bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::helpers::{Db, authed, checkout_request, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(
    nul_in_a_text_field_is_refused_naming_the_field,
    a_string_that_is_not_utf8_is_invalid_argument_naming_the_field,
    a_huge_bad_value_is_quoted_briefly
);

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = result.expect_err(field);
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}: {}", status.message());
    assert!(status.message().starts_with(field), "'{}' should name {field}", status.message());
}

async fn nul_in_a_text_field_is_refused_naming_the_field(db: Db) {
    let app = spawn_app(db).await;
    let admin = token("ops", &[Role::Admin]);
    let buyer = token("user-1", &[Role::User]);
    let payment_id = app.paid_checkout("user-1", "5", "USD").await;
    let before = app.row_counts().await;
    let nul = "a\0b".to_owned();
    let any_id = uuid::Uuid::now_v7().to_string();

    let mut request = checkout_request(&nul, "1", "USD");
    assert_refused(app.payments().create_checkout_session(authed(request.clone(), &admin)).await, "user_id");
    request = checkout_request("user-1", "1", "USD");
    request.metadata = [("order".to_owned(), nul.clone())].into();
    assert_refused(app.payments().create_checkout_session(authed(request.clone(), &buyer)).await, "metadata");
    request.metadata.clear();
    request.buyer_id = nul.clone();
    assert_refused(app.payments().create_checkout_session(authed(request, &buyer)).await, "buyer_id");
    let query = GetUserPaymentsRequest { user_id: nul.clone(), ..Default::default() };
    assert_refused(app.payments().get_user_payments(authed(query, &admin)).await, "user_id");

    let refund = CreateRefundRequest { payment_id, reason: nul.clone(), ..Default::default() };
    assert_refused(RefundServiceClient::new(app.channel.clone()).create_refund(authed(refund, &admin)).await, "reason");
    let cancel = CancelEscrowHoldRequest { escrow_id: any_id.clone(), reason: nul.clone() };
    assert_refused(EscrowServiceClient::new(app.channel.clone()).cancel_escrow_hold(authed(cancel, &admin)).await, "reason");

    let transfer = CreateTransferRequest {
        connected_account_id: any_id.clone(),
        amount: "1".into(),
        currency: "USD".into(),
        description: nul.clone(),
        ..Default::default()
    };
    assert_refused(app.transfers().create_transfer(authed(transfer, &admin)).await, "description");
    let payout = CreatePayoutRequest {
        connected_account_id: any_id.clone(),
        amount: "1".into(),
        currency: "USD".into(),
        description: nul.clone(),
        ..Default::default()
    };
    assert_refused(app.payouts().create_payout(authed(payout, &admin)).await, "description");
    let rule = CreateSplitRuleRequest {
        name: nul.clone(),
        r#type: api::proto::SplitRuleType::Percentage.into(),
        value: "10".into(),
        ..Default::default()
    };
    assert_refused(app.splits().create_split_rule(authed(rule, &admin)).await, "name");

    let mut wallet = WalletServiceClient::new(app.channel.clone());
    assert_refused(wallet.get_wallet(authed(GetWalletRequest { user_id: nul.clone() }, &admin)).await, "user_id");
    let history = ListWalletTransactionsRequest { user_id: nul.clone(), ..Default::default() };
    assert_refused(wallet.list_wallet_transactions(authed(history, &admin)).await, "user_id");
    let withdraw = WithdrawRequest {
        user_id: "user-1".into(),
        amount: "1".into(),
        currency: "USD".into(),
        description: nul.clone(),
        ..Default::default()
    };
    assert_refused(wallet.withdraw(authed(withdraw, &buyer)).await, "description");

    let service = token("platform", &[Role::Service]);
    for (event_id, event_type, field) in [
        (nul.as_str(), "checkout.session.completed", "event_id"),
        ("evt_1", nul.as_str(), "event_type"),
        ("evt_1", &"x".repeat(101), "event_type"),
    ] {
        let event = ProcessWebhookEventRequest {
            event_id: event_id.into(),
            event_type: event_type.into(),
            event_payload: b"{}".to_vec(),
            gateway_name: "mock".into(),
            ..Default::default()
        };
        assert_refused(app.payments().process_webhook_event(authed(event, &service)).await, field);
    }

    // The mock page needs no login, so its session id is anybody's input.
    let (status, _) = app.complete_on_mock_page(&nul, "success").await;
    assert_eq!(status, 400);
    let page = app.http.get(app.url("/payment/mock?session_id=a%00b")).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 400);

    let response = app
        .http
        .post(app.url("/api/v1/balance/withdraw"))
        .bearer_auth(&buyer)
        .json(&serde_json::json!({"amount": "1", "currency": "USD", "description": nul}))
        .send()
        .await
        .expect("json api");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("error envelope");
    assert_eq!(body["error"]["code"], "INVALID_ARGUMENT", "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().starts_with("description"), "{body}");

    assert_eq!(app.row_counts().await, before, "refused requests changed the database");
    app.assert_ledger_ok();
    app.stop().await;
}

/// Sends a message exactly as given, so a test can put bytes on the wire that no
/// generated client would produce.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        *self
    }
    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// A protobuf message with one length-delimited field holding `bytes`.
fn one_string_field(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut message = vec![(number << 3) | 2, u8::try_from(bytes.len()).expect("short")];
    message.extend_from_slice(bytes);
    message
}

async fn a_string_that_is_not_utf8_is_invalid_argument_naming_the_field(db: Db) {
    let app = spawn_app(db).await;
    let admin = token("ops", &[Role::Admin]);
    let before = app.row_counts().await;
    let not_utf8 = [b'a', 0xff, 0xfe, b'z'];
    for (method, number, field) in [
        ("payment.v1.PaymentService/CreateCheckoutSession", 1, "user_id"),
        ("payment.v1.PaymentService/GetPayment", 1, "payment_id"),
        ("payment.v1.RefundService/CreateRefund", 3, "reason"),
        ("payment.v1.TransferService/CreateTransfer", 5, "description"),
        ("payment.v1.WalletService/Withdraw", 4, "description"),
        ("payment.v1.EscrowService/CancelEscrowHold", 2, "reason"),
    ] {
        let mut grpc = tonic::client::Grpc::new(app.channel.clone());
        grpc.ready().await.expect("ready");
        let path = format!("/{method}").parse().expect("path");
        let request = authed(one_string_field(number, &not_utf8), &admin);
        let status = grpc.unary(request, path, RawCodec).await.expect_err(method);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{method}: {}", status.message());
        assert!(status.message().contains(field), "{method}: '{}' should name {field}", status.message());
    }
    assert_eq!(app.row_counts().await, before);
    app.stop().await;
}

async fn a_huge_bad_value_is_quoted_briefly(db: Db) {
    let app = spawn_app(db).await;
    let buyer = token("user-1", &[Role::User]);
    for (currency, amount) in [("Q".repeat(10_000), "1".to_owned()), ("USD".to_owned(), "9x".repeat(5_000))] {
        let status = app.create_checkout(&buyer, checkout_request("user-1", &amount, &currency)).await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{}", &status.message()[..80.min(status.message().len())]);
        assert!(status.message().len() < 200, "the message repeats the value: {} bytes", status.message().len());
    }
    let response = app
        .http
        .post(app.url("/api/v1/balance/withdraw"))
        .bearer_auth(&buyer)
        .json(&serde_json::json!({"amount": 1, "currency": "USD", "description": "d".repeat(20_000)}))
        .send()
        .await
        .expect("json api");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("error envelope");
    assert!(body["error"]["message"].as_str().unwrap_or_default().len() < 400, "{body}");
    app.stop().await;
}
