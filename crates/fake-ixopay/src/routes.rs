//! The endpoints the fake serves, under `/api/v3` so that signatures cover the same URIs
//! as with the real gateway; anything else is a 404 system error.

use percent_encoding::percent_decode_str;

/// The path prefix of IXOPAY's v3 API; `base_url()` ends with it.
pub(crate) const BASE_PATH: &str = "/api/v3";

/// An operation that faults and return types can be set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Debit,
    Refund,
    Payout,
    /// Registers a card for later payouts without charging it.
    Register,
    Status,
}

impl Op {
    pub(crate) fn parse(name: &str) -> Option<Op> {
        match name {
            "debit" => Some(Op::Debit),
            "refund" => Some(Op::Refund),
            "payout" => Some(Op::Payout),
            "register" => Some(Op::Register),
            "status" => Some(Op::Status),
            _ => None,
        }
    }
}

/// How the status API finds a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    MerchantTransactionId(String),
    Uuid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /transaction/{apiKey}/{debit|refund|payout|register}`.
    Transaction { api_key: String, op: Op },
    /// `GET /status/{apiKey}/getByMerchantTransactionId/{id}` or `.../getByUuid/{uuid}`.
    Status { api_key: String, lookup: Lookup },
}

impl Route {
    /// Segments are percent-decoded; empty ones never match.
    pub(crate) fn parse(method: &str, path: &str) -> Option<Route> {
        let rest = path.strip_prefix(BASE_PATH)?.strip_prefix('/')?;
        let segments: Vec<String> = rest.split('/').map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (method, segments.as_slice()) {
            ("POST", ["transaction", api_key, op]) => {
                let op = Op::parse(op).filter(|op| *op != Op::Status)?;
                Some(Route::Transaction { api_key: api_key.to_string(), op })
            }
            ("GET", ["status", api_key, "getByMerchantTransactionId", id]) => {
                Some(Route::Status { api_key: api_key.to_string(), lookup: Lookup::MerchantTransactionId(id.to_string()) })
            }
            ("GET", ["status", api_key, "getByUuid", uuid]) => {
                Some(Route::Status { api_key: api_key.to_string(), lookup: Lookup::Uuid(uuid.to_string()) })
            }
            _ => None,
        }
    }

    pub(crate) fn api_key(&self) -> &str {
        match self {
            Route::Transaction { api_key, .. } | Route::Status { api_key, .. } => api_key,
        }
    }

    pub(crate) fn op(&self) -> Op {
        match self {
            Route::Transaction { op, .. } => *op,
            Route::Status { .. } => Op::Status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_routes_and_others_do_not() {
        assert_eq!(
            Route::parse("POST", "/api/v3/transaction/key/debit"),
            Some(Route::Transaction { api_key: "key".into(), op: Op::Debit })
        );
        assert_eq!(
            Route::parse("GET", "/api/v3/status/key/getByMerchantTransactionId/order%2F1"),
            Some(Route::Status { api_key: "key".into(), lookup: Lookup::MerchantTransactionId("order/1".into()) })
        );
        assert_eq!(
            Route::parse("GET", "/api/v3/status/key/getByUuid/abc"),
            Some(Route::Status { api_key: "key".into(), lookup: Lookup::Uuid("abc".into()) })
        );
        assert_eq!(
            Route::parse("POST", "/api/v3/transaction/key/register"),
            Some(Route::Transaction { api_key: "key".into(), op: Op::Register })
        );
        assert_eq!(Route::parse("POST", "/api/v3/transaction/key/status"), None);
        assert_eq!(Route::parse("POST", "/api/v3/transaction/key/preauthorize"), None);
        assert_eq!(Route::parse("GET", "/api/v3/transaction/key/debit"), None);
        assert_eq!(Route::parse("POST", "/transaction/key/debit"), None);
        assert_eq!(Route::parse("GET", "/api/v3/status/key/getByUuid/"), None);
    }
}
