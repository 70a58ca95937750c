//! The endpoints the fake knows; anything else is Stripe's "Unrecognized request URL".

use crate::params::{self, Endpoint};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    CreateSession,
    GetSession(String),
    ExpireSession(String),
    GetPaymentIntent(String),
    CreateRefund,
    GetRefund(String),
    CreateAccount,
    CreateAccountLink,
    CreateTransfer,
    GetTransfer(String),
    CreateReversal(String),
    CreatePayout,
    GetPayout(String),
    CancelPayout(String),
    GetBalance,
    ListBalanceTransactions,
}

impl Route {
    pub(crate) fn parse(method: &str, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let id = |s: &str| s.to_string();
        let route = match (method, segments.as_slice()) {
            ("POST", ["v1", "checkout", "sessions"]) => Route::CreateSession,
            ("GET", ["v1", "checkout", "sessions", session]) => Route::GetSession(id(session)),
            ("POST", ["v1", "checkout", "sessions", session, "expire"]) => Route::ExpireSession(id(session)),
            ("GET", ["v1", "payment_intents", intent]) => Route::GetPaymentIntent(id(intent)),
            ("POST", ["v1", "refunds"]) => Route::CreateRefund,
            ("GET", ["v1", "refunds", refund]) => Route::GetRefund(id(refund)),
            ("POST", ["v1", "accounts"]) => Route::CreateAccount,
            ("POST", ["v1", "account_links"]) => Route::CreateAccountLink,
            ("POST", ["v1", "transfers"]) => Route::CreateTransfer,
            ("GET", ["v1", "transfers", transfer]) => Route::GetTransfer(id(transfer)),
            ("POST", ["v1", "transfers", transfer, "reversals"]) => Route::CreateReversal(id(transfer)),
            ("POST", ["v1", "payouts"]) => Route::CreatePayout,
            ("GET", ["v1", "payouts", payout]) => Route::GetPayout(id(payout)),
            ("POST", ["v1", "payouts", payout, "cancel"]) => Route::CancelPayout(id(payout)),
            ("GET", ["v1", "balance"]) => Route::GetBalance,
            ("GET", ["v1", "balance_transactions"]) => Route::ListBalanceTransactions,
            _ => return None,
        };
        // An empty id segment (`/v1/refunds/`) is not a route in Stripe either.
        match &route {
            Route::GetSession(s)
            | Route::ExpireSession(s)
            | Route::GetPaymentIntent(s)
            | Route::GetRefund(s)
            | Route::GetTransfer(s)
            | Route::GetPayout(s)
            | Route::CreateReversal(s)
            | Route::CancelPayout(s)
                if s.is_empty() =>
            {
                None
            }
            _ => Some(route),
        }
    }

    /// The parameter table: the form body for POST, the query for GET.
    pub(crate) fn endpoint(&self) -> &'static Endpoint {
        match self {
            Route::CreateSession => &params::CREATE_SESSION,
            Route::GetPaymentIntent(_) => &params::GET_PAYMENT_INTENT,
            Route::CreateRefund => &params::CREATE_REFUND,
            Route::CreateAccount => &params::CREATE_ACCOUNT,
            Route::CreateAccountLink => &params::CREATE_ACCOUNT_LINK,
            Route::CreateTransfer => &params::CREATE_TRANSFER,
            Route::CreateReversal(_) => &params::CREATE_REVERSAL,
            Route::CreatePayout => &params::CREATE_PAYOUT,
            Route::ListBalanceTransactions => &params::LIST_BALANCE_TRANSACTIONS,
            Route::GetSession(_)
            | Route::ExpireSession(_)
            | Route::GetRefund(_)
            | Route::GetTransfer(_)
            | Route::GetPayout(_)
            | Route::CancelPayout(_)
            | Route::GetBalance => &params::EXPAND_ONLY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_routes_and_others_do_not() {
        assert_eq!(Route::parse("POST", "/v1/checkout/sessions"), Some(Route::CreateSession));
        assert_eq!(Route::parse("POST", "/v1/transfers/tr_1/reversals"), Some(Route::CreateReversal("tr_1".into())));
        assert_eq!(Route::parse("GET", "/v1/refunds/re_1"), Some(Route::GetRefund("re_1".into())));
        assert_eq!(Route::parse("GET", "/v1/refunds/"), None);
        assert_eq!(Route::parse("GET", "/v1/refunds"), None);
        assert_eq!(Route::parse("GET", "/v1/balance_transactions"), Some(Route::ListBalanceTransactions));
        assert_eq!(Route::parse("GET", "/v1/payouts/po_1"), Some(Route::GetPayout("po_1".into())));
        assert_eq!(Route::parse("GET", "/v1/transfers/"), None);
        assert_eq!(Route::parse("DELETE", "/v1/accounts"), None);
        assert_eq!(Route::parse("POST", "/v2/accounts"), None);
    }
}
