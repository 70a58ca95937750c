//! The calls the scenarios make, on one gRPC channel and one HTTP client to the
//! service's one port (gRPC and HTTP share it).

use api::proto::connected_account_service_client::ConnectedAccountServiceClient;
use api::proto::escrow_service_client::EscrowServiceClient;
use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::transfer_service_client::TransferServiceClient;
use api::proto::{
    self, CreateAccountLinkRequest, CreateCheckoutSessionRequest, CreateConnectedAccountRequest, CreateTransferRequest,
    GetPaymentRequest, ProcessExpiredEscrowsRequest,
};
use tonic::transport::Channel;

use crate::BoxError;

/// No call waits longer than this: a stuck service ends the run with errors.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone)]
pub struct Service {
    base: String,
    channel: Channel,
    http: reqwest::Client,
    token: String,
}

/// An escrowed checkout: held for a day unless made due (see `escrow_release`).
pub struct Escrow<'a> {
    pub merchant: &'a str,
}

impl Service {
    pub async fn connect(base: &str, token: String) -> Result<Self, BoxError> {
        let channel = Channel::from_shared(base.to_owned())?.timeout(CALL_TIMEOUT).connect().await?;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(CALL_TIMEOUT).build()?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), channel, http, token })
    }

    /// Another HTTP/2 connection to the same service, for one worker.
    pub async fn reconnect(&self) -> Result<Self, BoxError> {
        Self::connect(&self.base, self.token.clone()).await
    }

    fn authed<T>(&self, message: T) -> Result<tonic::Request<T>, BoxError> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {}", self.token).parse()?);
        Ok(request)
    }

    /// CreateCheckoutSession, then "Simulate successful payment" on the mock page
    /// (two requests); returns the payment id.
    pub async fn paid_checkout(&self, key: &str, amount: &str, escrow: Option<Escrow<'_>>) -> Result<String, BoxError> {
        let mut checkout = CreateCheckoutSessionRequest {
            user_id: "loadgen-buyer".into(),
            amount: amount.into(),
            currency: "USD".into(),
            payment_type: proto::PaymentType::ProductB2c.into(),
            success_url: "https://load.example/ok".into(),
            cancel_url: "https://load.example/no".into(),
            gateway_name: "mock".into(),
            idempotency_key: key.into(),
            ..Default::default()
        };
        if let Some(escrow) = escrow {
            checkout.escrow_enabled = true;
            checkout.escrow_hold_days = 1;
            checkout.merchant_id = escrow.merchant.into();
        }
        let mut payments = PaymentServiceClient::new(self.channel.clone());
        let created = payments.create_checkout_session(self.authed(checkout)?).await?.into_inner();
        let answer = self
            .http
            .post(format!("{}/payment/mock/complete", self.base))
            .form(&[("session_id", created.session_id.as_str()), ("outcome", "success")])
            .send()
            .await?;
        match answer.status().as_u16() {
            303 => Ok(created.payment_id),
            status => Err(format!("the mock page answered {status}: {}", answer.text().await.unwrap_or_default()).into()),
        }
    }

    pub async fn get_payment(&self, payment_id: &str) -> Result<(), BoxError> {
        let mut payments = PaymentServiceClient::new(self.channel.clone());
        payments.get_payment(self.authed(GetPaymentRequest { payment_id: payment_id.into() })?).await?;
        Ok(())
    }

    /// A connected account onboarded through the mock KYC page; returns its id.
    pub async fn onboarded_vendor(&self, owner: &str) -> Result<String, BoxError> {
        let mut accounts = ConnectedAccountServiceClient::new(self.channel.clone());
        let request = CreateConnectedAccountRequest {
            email: format!("{owner}@vendors.example"),
            account_type: proto::ConnectedAccountType::Express.into(),
            business_type: "company".into(),
            country: "US".into(),
            metadata: [("user_id".to_owned(), owner.to_owned())].into(),
        };
        let account = accounts.create_connected_account(self.authed(request)?).await?.into_inner().account.ok_or("no account")?;
        let link = CreateAccountLinkRequest {
            account_id: account.id.clone(),
            return_url: "https://load.example/onboarded".into(),
            refresh_url: "https://load.example/retry".into(),
        };
        let link = accounts.create_account_link(self.authed(link)?).await?.into_inner();
        // The page's "Complete onboarding" form posts the link's own parameters.
        let fields: Vec<(String, String)> = reqwest::Url::parse(&link.url)?.query_pairs().into_owned().collect();
        let page = self.http.post(&link.url).form(&fields).send().await?;
        if page.status().as_u16() != 303 {
            return Err(format!("the onboarding form answered {}", page.status()).into());
        }
        Ok(account.id)
    }

    /// CreateTransfer from the platform's cash (no payment) to `vendor`.
    pub async fn transfer(&self, vendor: &str, amount: &str, key: &str) -> Result<(), BoxError> {
        let mut transfers = TransferServiceClient::new(self.channel.clone());
        let request = CreateTransferRequest {
            connected_account_id: vendor.into(),
            amount: amount.into(),
            currency: "USD".into(),
            idempotency_key: key.into(),
            ..Default::default()
        };
        transfers.create_transfer(self.authed(request)?).await?;
        Ok(())
    }

    /// One ProcessExpiredEscrows call; returns how many holds it released.
    pub async fn process_expired_escrows(&self, limit: i32) -> Result<i32, BoxError> {
        let mut escrow = EscrowServiceClient::new(self.channel.clone());
        let answer = escrow.process_expired_escrows(self.authed(ProcessExpiredEscrowsRequest { limit })?).await?;
        Ok(answer.into_inner().released_count)
    }
}
