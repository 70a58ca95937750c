//! The edge of the service: gRPC (tonic) and HTTP (axum) on one port, auth,
//! request observation and the error → status mapping. The only crate that knows
//! proto or JSON.

pub mod auth;
pub mod codec;
mod convert;
mod deadline;
pub mod error;
pub mod grpc;
pub mod http;
pub mod observe;
pub mod proto;

use app::App;
use axum::Router;
use axum::routing::post;

pub use auth::{
    Authenticator, Jwks, JwksLocation, JwksSettings, NewToken, TokenProblem, TokenRefusal, TokenRules, VerificationKey, mint,
    mint_hs256,
};

/// Every route of port 30051: the payment.v1 services, reflection, grpc.health,
/// webhooks, the JSON API and `pages` (the HTML pages, built by the `pages` crate).
pub fn router(
    app: App,
    authenticator: Authenticator,
    request_timeout: std::time::Duration,
    pages: Router,
) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    use proto::*;
    // Both reflection versions: grpcurl speaks v1, many other clients (Postman,
    // grpcio-reflection, older grpcurl) only v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder().build_v1()?;
    let reflection_v1alpha = reflection_builder().build_v1alpha()?;
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let health_reporter_task = health_reporter.clone();
    tokio::spawn(async move {
        health_reporter_task.set_serving::<payment_service_server::PaymentServiceServer<grpc::payment::PaymentApi>>().await;
    });
    drop(health_reporter);

    let grpc = tonic::service::Routes::new(payment_service_server::PaymentServiceServer::new(grpc::payment::PaymentApi::new(
        app.clone(),
    )))
    .add_service(escrow_service_server::EscrowServiceServer::new(grpc::escrow::EscrowApi::new(app.clone())))
    .add_service(refund_service_server::RefundServiceServer::new(grpc::escrow::EscrowApi::new(app.clone())))
    .add_service(dispute_service_server::DisputeServiceServer::new(grpc::disputes::DisputeApi::new(app.clone())))
    .add_service(connected_account_service_server::ConnectedAccountServiceServer::new(grpc::accounts::AccountApi::new(
        app.clone(),
    )))
    .add_service(transfer_service_server::TransferServiceServer::new(grpc::transfers::TransferApi::new(app.clone())))
    .add_service(balance_service_server::BalanceServiceServer::new(grpc::balances::BalanceApi::new(app.clone())))
    .add_service(payout_service_server::PayoutServiceServer::new(grpc::payouts::PayoutApi::new(app.clone())))
    .add_service(split_service_server::SplitServiceServer::new(grpc::splits::SplitApi::new(app.clone())))
    .add_service(wallet_service_server::WalletServiceServer::new(grpc::wallet::WalletApi::new(app.clone())))
    .add_service(reconciliation_service_server::ReconciliationServiceServer::new(grpc::reconciliation::ReconciliationApi::new(
        app.clone(),
    )))
    .add_service(event_service_server::EventServiceServer::new(grpc::events::EventApi::new(app.clone())))
    .add_service(reflection)
    .add_service(reflection_v1alpha)
    .add_service(health_service)
    .into_axum_router()
    .layer(axum::middleware::from_fn_with_state(authenticator.clone(), auth::require_principal));

    let json = http::json_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, route)| router.route(path, route))
        .with_state(http::balance::JsonState { app: app.clone(), auth: authenticator });

    let web = Router::new().route("/webhooks/{gateway}", post(http::webhooks::receive)).with_state(app);

    let known = observe::known_methods(&[proto::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET])?;
    Ok(grpc
        .merge(web)
        .merge(json)
        .merge(pages)
        .fallback(http::not_found)
        .layer(axum::middleware::from_fn_with_state(request_timeout, deadline::deadline))
        .layer(axum::middleware::from_fn_with_state(known, observe::observe)))
}
