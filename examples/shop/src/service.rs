//! The payment service, seen from the shop: its gRPC API and nothing else, called
//! as the platform (service and admin roles).

use std::time::Duration;

use api::proto::connected_account_service_client::ConnectedAccountServiceClient;
use api::proto::escrow_service_client::EscrowServiceClient;
use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::refund_service_client::RefundServiceClient;
use api::proto::transfer_service_client::TransferServiceClient;
use api::proto::{
    self, CancelEscrowHoldRequest, CreateCheckoutSessionRequest, CreateCheckoutSessionResponse, CreateRefundRequest,
    GetEscrowByPaymentIdRequest, GetPaymentRequest, ListConnectedAccountsRequest, ListTransfersRequest, ReleaseEscrowHoldRequest,
    ReverseTransferRequest,
};
use app::Role;
use tonic::transport::{Channel, Endpoint};

use crate::config::Credentials;
use crate::error::ShopError;

/// A stuck service fails a page instead of hanging it.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Minted tokens live this long: one per call, so none outlives its use.
const TOKEN_TTL_MINUTES: i64 = 5;
/// The subject the service sees for the shop's calls.
const SUBJECT: &str = "example-shop";

#[derive(Clone)]
pub struct Service {
    channel: Channel,
    credentials: Credentials,
}

impl Service {
    /// Connects lazily: the shop may start before the service.
    pub fn new(url: &str, credentials: Credentials) -> Result<Self, ShopError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| ShopError::Config(format!("SHOP_SERVICE_URL: {e}")))?
            .connect_timeout(CALL_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        Ok(Self { channel: endpoint.connect_lazy(), credentials })
    }

    fn authed<T>(&self, message: T) -> Result<tonic::Request<T>, ShopError> {
        let token = match &self.credentials {
            Credentials::Token(token) => token.clone(),
            Credentials::Secret(secret) => {
                let ttl = chrono::Duration::minutes(TOKEN_TTL_MINUTES);
                api::mint_hs256(secret, SUBJECT, &[Role::Service, Role::Admin], ttl)
                    .map_err(|e| ShopError::Token(e.to_string()))?
            }
        };
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {token}").parse().map_err(|_| ShopError::Token("not a header value".into()))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }

    pub async fn accounts(&self) -> Result<Vec<proto::ConnectedAccount>, ShopError> {
        let request = ListConnectedAccountsRequest { limit: 100, ..Default::default() };
        let mut client = ConnectedAccountServiceClient::new(self.channel.clone());
        Ok(client.list_connected_accounts(self.authed(request)?).await?.into_inner().accounts)
    }

    pub async fn checkout(&self, request: CreateCheckoutSessionRequest) -> Result<CreateCheckoutSessionResponse, ShopError> {
        let mut client = PaymentServiceClient::new(self.channel.clone());
        Ok(client.create_checkout_session(self.authed(request)?).await?.into_inner())
    }

    pub async fn payment(&self, payment_id: &str) -> Result<proto::Payment, ShopError> {
        let request = GetPaymentRequest { payment_id: payment_id.to_owned() };
        let mut client = PaymentServiceClient::new(self.channel.clone());
        client.get_payment(self.authed(request)?).await?.into_inner().payment.ok_or(ShopError::NotFound("payment"))
    }

    /// The order's hold; none for a payment without escrow or not yet paid.
    pub async fn hold(&self, payment_id: &str) -> Result<Option<proto::EscrowHold>, ShopError> {
        let request = GetEscrowByPaymentIdRequest { payment_id: payment_id.to_owned() };
        let mut client = EscrowServiceClient::new(self.channel.clone());
        match client.get_escrow_by_payment_id(self.authed(request)?).await {
            Ok(answer) => Ok(answer.into_inner().escrow),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }

    /// Pays the vendor: the service splits the fee and transfers the rest.
    pub async fn release(&self, escrow_id: &str) -> Result<(), ShopError> {
        let request = ReleaseEscrowHoldRequest { escrow_id: escrow_id.to_owned() };
        let mut client = EscrowServiceClient::new(self.channel.clone());
        client.release_escrow_hold(self.authed(request)?).await?;
        Ok(())
    }

    pub async fn cancel_hold(&self, escrow_id: &str, reason: &str) -> Result<(), ShopError> {
        let request = CancelEscrowHoldRequest { escrow_id: escrow_id.to_owned(), reason: reason.to_owned() };
        let mut client = EscrowServiceClient::new(self.channel.clone());
        client.cancel_escrow_hold(self.authed(request)?).await?;
        Ok(())
    }

    /// The vendor's transfer for a payment (made when its escrow was released).
    pub async fn transfer_of(&self, account_id: &str, payment_id: &str) -> Result<Option<proto::Transfer>, ShopError> {
        let request = ListTransfersRequest { connected_account_id: account_id.to_owned(), limit: 100, offset: 0 };
        let mut client = TransferServiceClient::new(self.channel.clone());
        let transfers = client.list_transfers(self.authed(request)?).await?.into_inner().transfers;
        Ok(transfers.into_iter().find(|t| t.payment_id == payment_id))
    }

    /// Takes `amount` (empty = all not yet reversed) back from the vendor's transfer.
    pub async fn reverse(&self, transfer_id: &str, amount: &str, key: &str) -> Result<(), ShopError> {
        let request = ReverseTransferRequest {
            transfer_id: transfer_id.to_owned(),
            amount: amount.to_owned(),
            description: "refunded by the shop's operator".into(),
            idempotency_key: key.to_owned(),
        };
        let mut client = TransferServiceClient::new(self.channel.clone());
        client.reverse_transfer(self.authed(request)?).await?;
        Ok(())
    }

    /// `amount` empty = everything still refundable; the key makes a resent form one refund.
    pub async fn refund(&self, payment_id: &str, amount: &str, key: &str) -> Result<proto::Refund, ShopError> {
        let request = CreateRefundRequest {
            payment_id: payment_id.to_owned(),
            amount: amount.to_owned(),
            reason: "refunded by the shop's operator".into(),
            idempotency_key: key.to_owned(),
        };
        let mut client = RefundServiceClient::new(self.channel.clone());
        client.create_refund(self.authed(request)?).await?.into_inner().refund.ok_or(ShopError::NotFound("refund"))
    }
}
