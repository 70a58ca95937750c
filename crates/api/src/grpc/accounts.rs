//! `payment.v1.ConnectedAccountService`.

use app::App;
use domain::accounts::AccountInput;
use tonic::{Request, Response, Status};

use super::{optional_enum, page, principal};
use crate::convert::{self, marketplace as wire};
use crate::error::to_status;
use crate::proto::{self, connected_account_service_server::ConnectedAccountService};

pub struct AccountApi {
    app: App,
}

impl AccountApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl ConnectedAccountService for AccountApi {
    async fn create_connected_account(
        &self,
        request: Request<proto::CreateConnectedAccountRequest>,
    ) -> Result<Response<proto::CreateConnectedAccountResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let input = AccountInput {
            email: r.email,
            account_type: wire::account_type_from_wire(r.account_type),
            business_type: r.business_type,
            country: r.country,
            metadata: r.metadata.into_iter().collect(),
        };
        let account = self.app.create_account(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::CreateConnectedAccountResponse { account: Some(wire::account(account)) }))
    }

    async fn get_connected_account(
        &self,
        request: Request<proto::GetConnectedAccountRequest>,
    ) -> Result<Response<proto::GetConnectedAccountResponse>, Status> {
        let principal = principal(&request)?;
        let account = self.app.account(&principal, &request.get_ref().account_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetConnectedAccountResponse { account: Some(wire::account(account)) }))
    }

    async fn create_account_link(
        &self,
        request: Request<proto::CreateAccountLinkRequest>,
    ) -> Result<Response<proto::CreateAccountLinkResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (url, expires_at) =
            self.app.create_account_link(&principal, &r.account_id, &r.return_url, &r.refresh_url).await.map_err(to_status)?;
        Ok(Response::new(proto::CreateAccountLinkResponse { url, expires_at: Some(convert::timestamp(expires_at)) }))
    }

    async fn list_connected_accounts(
        &self,
        request: Request<proto::ListConnectedAccountsRequest>,
    ) -> Result<Response<proto::ListConnectedAccountsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let status = optional_enum("status", r.status, wire::account_status_from_wire)?;
        let (accounts, total) = self.app.accounts(&principal, status, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListConnectedAccountsResponse {
            accounts: accounts.into_iter().map(wire::account).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }
}
