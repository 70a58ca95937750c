//! `payment.v1.SplitService`.

use app::App;
use domain::fees::{SplitRuleInput, SplitRuleUpdate};
use tonic::{Request, Response, Status};

use super::{page, principal};
use crate::convert::marketplace as wire;
use crate::error::to_status;
use crate::proto::{self, split_service_server::SplitService};

pub struct SplitApi {
    app: App,
}

impl SplitApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl SplitService for SplitApi {
    async fn create_split_rule(
        &self,
        request: Request<proto::CreateSplitRuleRequest>,
    ) -> Result<Response<proto::CreateSplitRuleResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let input = SplitRuleInput {
            name: r.name,
            connected_account_id: r.connected_account_id,
            rule_type: wire::rule_type_from_wire(r.r#type),
            value: r.value,
            priority: r.priority,
            currency: r.currency,
            min_amount: r.min_amount,
            max_amount: r.max_amount,
        };
        let rule = self.app.create_split_rule(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(proto::CreateSplitRuleResponse { split_rule: Some(wire::split_rule(rule)) }))
    }

    async fn get_split_rule(
        &self,
        request: Request<proto::GetSplitRuleRequest>,
    ) -> Result<Response<proto::GetSplitRuleResponse>, Status> {
        let principal = principal(&request)?;
        let rule = self.app.split_rule(&principal, &request.get_ref().rule_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetSplitRuleResponse { split_rule: Some(wire::split_rule(rule)) }))
    }

    async fn list_split_rules(
        &self,
        request: Request<proto::ListSplitRulesRequest>,
    ) -> Result<Response<proto::ListSplitRulesResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (rules, total) =
            self.app.split_rules(&principal, &r.connected_account_id, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListSplitRulesResponse {
            split_rules: rules.into_iter().map(wire::split_rule).collect(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn update_split_rule(
        &self,
        request: Request<proto::UpdateSplitRuleRequest>,
    ) -> Result<Response<proto::UpdateSplitRuleResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let update = SplitRuleUpdate {
            name: r.name,
            value: r.value,
            priority: r.priority,
            is_active: r.is_active,
            min_amount: r.min_amount,
            max_amount: r.max_amount,
        };
        let rule = self.app.update_split_rule(&principal, &r.rule_id, update).await.map_err(to_status)?;
        Ok(Response::new(proto::UpdateSplitRuleResponse { split_rule: Some(wire::split_rule(rule)) }))
    }

    async fn delete_split_rule(
        &self,
        request: Request<proto::DeleteSplitRuleRequest>,
    ) -> Result<Response<proto::DeleteSplitRuleResponse>, Status> {
        let principal = principal(&request)?;
        self.app.delete_split_rule(&principal, &request.get_ref().rule_id).await.map_err(to_status)?;
        Ok(Response::new(proto::DeleteSplitRuleResponse { success: true }))
    }

    async fn calculate_fee(
        &self,
        request: Request<proto::CalculateFeeRequest>,
    ) -> Result<Response<proto::CalculateFeeResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let quote =
            self.app.calculate_fee(&principal, &r.connected_account_id, &r.amount, &r.currency).await.map_err(to_status)?;
        Ok(Response::new(wire::fee_quote(quote)))
    }
}
