//! tonic services. Each method: read the principal, convert the request, call the
//! use case, convert the answer; nothing else.

pub mod payment;

use app::Principal;

/// The principal the auth middleware attached; absent only if the middleware was
/// configured to skip this method.
pub(crate) fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated("this method needs authorization: Bearer <JWT>"))
}

/// Services whose issues come later answer UNIMPLEMENTED through tonic's default stubs.
pub struct NotYetImplemented;

impl crate::proto::escrow_service_server::EscrowService for NotYetImplemented {}
impl crate::proto::refund_service_server::RefundService for NotYetImplemented {}
impl crate::proto::connected_account_service_server::ConnectedAccountService for NotYetImplemented {}
impl crate::proto::transfer_service_server::TransferService for NotYetImplemented {}
impl crate::proto::balance_service_server::BalanceService for NotYetImplemented {}
impl crate::proto::payout_service_server::PayoutService for NotYetImplemented {}
impl crate::proto::split_service_server::SplitService for NotYetImplemented {}
impl crate::proto::wallet_service_server::WalletService for NotYetImplemented {}
