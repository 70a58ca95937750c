//! `payment.v1.WalletService`.

use app::App;
use app::wallet::DepositInput;
use tonic::{Request, Response, Status};

use super::{page, principal};
use crate::convert::wallet as wire;
use crate::error::to_status;
use crate::proto::{self, wallet_service_server::WalletService};

pub struct WalletApi {
    app: App,
}

impl WalletApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl WalletService for WalletApi {
    async fn get_wallet(&self, request: Request<proto::GetWalletRequest>) -> Result<Response<proto::GetWalletResponse>, Status> {
        let principal = principal(&request)?;
        let balances = self.app.wallet(&principal, &request.get_ref().user_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetWalletResponse { balances: balances.into_iter().map(wire::balance).collect() }))
    }

    async fn deposit(&self, request: Request<proto::DepositRequest>) -> Result<Response<proto::DepositResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let input = DepositInput {
            user_id: r.user_id,
            amount: r.amount,
            currency: r.currency,
            gateway_name: r.gateway_name,
            success_url: r.success_url,
            cancel_url: r.cancel_url,
            idempotency_key: r.idempotency_key,
        };
        let payment = self.app.deposit(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::DepositResponse {
            payment_id: payment.id.to_string(),
            session_id: payment.gateway_session_id.unwrap_or_default(),
            checkout_url: payment.checkout_url.unwrap_or_default(),
        }))
    }

    async fn withdraw(&self, request: Request<proto::WithdrawRequest>) -> Result<Response<proto::WithdrawResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let transaction = self
            .app
            .withdraw(&principal, &r.user_id, &r.amount, &r.currency, &r.description, &r.idempotency_key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::WithdrawResponse { transaction: Some(wire::transaction(transaction)) }))
    }

    async fn list_wallet_transactions(
        &self,
        request: Request<proto::ListWalletTransactionsRequest>,
    ) -> Result<Response<proto::ListWalletTransactionsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (transactions, total) =
            self.app.wallet_transactions(&principal, &r.user_id, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListWalletTransactionsResponse {
            transactions: transactions.into_iter().map(wire::transaction).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }
}
