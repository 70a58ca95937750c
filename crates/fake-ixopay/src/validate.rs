//! Checks a transaction request's JSON against its field table: unknown fields, types,
//! then required fields. Every refusal is a 400 system error (1002) naming the field,
//! and nothing is stored.

use serde_json::{Map, Value};

use crate::amount;
use crate::errors::SystemError;
use crate::routes::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string of at most this many characters (required ones must not be empty).
    Text(usize),
    /// An absolute http(s) URL.
    Url,
    /// A positive decimal string with at most 2 decimals.
    Amount,
    /// Three upper-case letters.
    Currency,
    Bool,
    /// An object of `CUSTOMER` fields.
    Customer,
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false }
}

/// IXOPAY limits merchantTransactionId and uuids to 50 characters.
const ID: Kind = Kind::Text(50);
const TEXT: Kind = Kind::Text(255);

/// The hosted-page debit: no card data, so every redirect URL is needed.
const DEBIT: &[Field] = &[
    req("merchantTransactionId", ID),
    req("amount", Kind::Amount),
    req("currency", Kind::Currency),
    req("successUrl", Kind::Url),
    req("cancelUrl", Kind::Url),
    req("errorUrl", Kind::Url),
    req("callbackUrl", Kind::Url),
    opt("description", TEXT),
    opt("merchantMetaData", TEXT),
    opt("withRegister", Kind::Bool),
    opt("customer", Kind::Customer),
];

const REFUND: &[Field] = &[
    req("merchantTransactionId", ID),
    req("referenceUuid", ID),
    req("amount", Kind::Amount),
    req("currency", Kind::Currency),
    opt("callbackUrl", Kind::Url),
    opt("description", TEXT),
    opt("merchantMetaData", TEXT),
];

/// One of referenceUuid and transactionToken is needed (see `check`).
const PAYOUT: &[Field] = &[
    req("merchantTransactionId", ID),
    req("amount", Kind::Amount),
    req("currency", Kind::Currency),
    req("callbackUrl", Kind::Url),
    opt("referenceUuid", ID),
    opt("transactionToken", TEXT),
    opt("description", TEXT),
    opt("merchantMetaData", TEXT),
];

/// A card registered on the hosted page for later payouts: like a debit without money.
/// `amount` and `currency` are refused as unknown fields.
const REGISTER: &[Field] = &[
    req("merchantTransactionId", ID),
    req("successUrl", Kind::Url),
    req("cancelUrl", Kind::Url),
    req("errorUrl", Kind::Url),
    req("callbackUrl", Kind::Url),
    opt("description", TEXT),
    opt("merchantMetaData", TEXT),
    opt("customer", Kind::Customer),
];

/// IXOPAY's customer object, as far as a hosted-page debit uses it.
const CUSTOMER: &[Field] = &[
    opt("identification", Kind::Text(36)),
    opt("firstName", ID),
    opt("lastName", ID),
    opt("birthDate", Kind::Text(10)),
    opt("gender", Kind::Text(1)),
    opt("billingAddress1", ID),
    opt("billingAddress2", ID),
    opt("billingCity", ID),
    opt("billingPostcode", Kind::Text(16)),
    opt("billingState", Kind::Text(30)),
    opt("billingCountry", Kind::Text(2)),
    opt("billingPhone", Kind::Text(20)),
    opt("shippingFirstName", ID),
    opt("shippingLastName", ID),
    opt("shippingCompany", ID),
    opt("shippingAddress1", ID),
    opt("shippingAddress2", ID),
    opt("shippingCity", ID),
    opt("shippingPostcode", Kind::Text(16)),
    opt("shippingState", Kind::Text(30)),
    opt("shippingCountry", Kind::Text(2)),
    opt("shippingPhone", Kind::Text(20)),
    opt("company", ID),
    opt("email", TEXT),
    opt("emailVerified", Kind::Bool),
    opt("ipAddress", Kind::Text(45)),
    opt("nationalId", TEXT),
];

fn table(op: Op) -> &'static [Field] {
    match op {
        Op::Debit => DEBIT,
        Op::Refund => REFUND,
        Op::Register => REGISTER,
        Op::Payout | Op::Status => PAYOUT,
    }
}

/// Unknown fields first, then each known field's type, then what is missing.
pub(crate) fn check(op: Op, body: &Map<String, Value>) -> Result<(), SystemError> {
    fields(table(op), "", body)?;
    if op == Op::Payout {
        let given = |name: &str| body.get(name).is_some_and(|v| !v.is_null());
        match (given("referenceUuid"), given("transactionToken")) {
            (false, false) => return Err(SystemError::field("referenceUuid", "is required (or transactionToken)")),
            (true, true) => {
                return Err(SystemError::field("transactionToken", "give referenceUuid or transactionToken, not both"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn fields(table: &[Field], prefix: &str, body: &Map<String, Value>) -> Result<(), SystemError> {
    if let Some(unknown) = body.keys().find(|key| !table.iter().any(|f| f.name == key.as_str())) {
        return Err(SystemError::field(&format!("{prefix}{unknown}"), "unknown field"));
    }
    for field in table {
        let name = format!("{prefix}{}", field.name);
        match body.get(field.name) {
            None | Some(Value::Null) if field.required => return Err(SystemError::field(&name, "is required")),
            None | Some(Value::Null) => {}
            Some(value) => kind(field, &name, value)?,
        }
    }
    Ok(())
}

fn kind(field: &Field, name: &str, value: &Value) -> Result<(), SystemError> {
    let bad = |problem: &str| Err(SystemError::field(name, problem));
    match (field.kind, value) {
        (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::Bool, _) => bad("must be true or false"),
        (Kind::Customer, Value::Object(inner)) => fields(CUSTOMER, "customer.", inner),
        (Kind::Customer, _) => bad("must be an object"),
        (Kind::Amount, Value::Number(_)) => bad("must be a decimal string like \"9.99\", not a number"),
        (_, Value::String(text)) => text_kind(field, text).map_or(Ok(()), |problem| bad(&problem)),
        _ => bad("must be a string"),
    }
}

/// The problem with a string value, if any.
fn text_kind(field: &Field, text: &str) -> Option<String> {
    match field.kind {
        Kind::Text(_) if field.required && text.is_empty() => Some("must not be empty".into()),
        Kind::Text(max) if text.chars().count() > max => Some(format!("must be at most {max} characters")),
        Kind::Amount => match amount::cents(text) {
            None => Some("must be a decimal string with at most 2 decimals, like \"9.99\" or \"1000\"".into()),
            Some(0) => Some("must be greater than 0".into()),
            Some(_) => None,
        },
        Kind::Currency if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_uppercase()) => {
            Some("must be a three-letter upper-case ISO 4217 code, like \"EUR\"".into())
        }
        Kind::Url if !(text.starts_with("https://") || text.starts_with("http://")) || text.len() < 10 => {
            Some("must be an absolute http(s) URL".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn debit() -> Value {
        json!({
            "merchantTransactionId": "order-1",
            "amount": "9.99",
            "currency": "EUR",
            "successUrl": "https://shop.test/ok",
            "cancelUrl": "https://shop.test/cancel",
            "errorUrl": "https://shop.test/error",
            "callbackUrl": "https://shop.test/callback",
        })
    }

    fn refused(op: Op, body: &Value) -> Option<String> {
        let map = body.as_object().cloned().unwrap_or_default();
        check(op, &map).err().and_then(|e| e.details)
    }

    #[test]
    fn each_rule_names_the_offending_field() {
        let with = |field: &str, value: Value| {
            let mut body = debit();
            body[field] = value;
            body
        };
        let without = |field: &str| {
            let mut body = debit();
            body.as_object_mut().map(|o| o.remove(field));
            body
        };
        assert_eq!(refused(Op::Debit, &debit()), None);
        assert_eq!(refused(Op::Debit, &with("colour", json!("blue"))).as_deref(), Some("colour"));
        assert_eq!(refused(Op::Debit, &with("amount", json!(9.99))).as_deref(), Some("amount"));
        assert_eq!(refused(Op::Debit, &with("amount", json!("9.999"))).as_deref(), Some("amount"));
        assert_eq!(refused(Op::Debit, &with("amount", json!("0.00"))).as_deref(), Some("amount"));
        assert_eq!(refused(Op::Debit, &with("currency", json!("eur"))).as_deref(), Some("currency"));
        assert_eq!(refused(Op::Debit, &with("withRegister", json!("yes"))).as_deref(), Some("withRegister"));
        assert_eq!(refused(Op::Debit, &with("merchantMetaData", json!("x".repeat(256)))).as_deref(), Some("merchantMetaData"));
        assert_eq!(refused(Op::Debit, &with("merchantMetaData", json!("x".repeat(255)))), None);
        assert_eq!(refused(Op::Debit, &with("successUrl", json!("/ok"))).as_deref(), Some("successUrl"));
        assert_eq!(
            refused(Op::Debit, &with("customer", json!({"email": "a@b.c", "pet": "cat"}))).as_deref(),
            Some("customer.pet")
        );
        assert_eq!(refused(Op::Debit, &with("customer", json!({"email": "a@b.c", "emailVerified": true}))), None);
        assert_eq!(refused(Op::Debit, &without("errorUrl")).as_deref(), Some("errorUrl"));
        assert_eq!(refused(Op::Debit, &with("merchantTransactionId", json!(""))).as_deref(), Some("merchantTransactionId"));
    }

    #[test]
    fn refunds_and_payouts_have_their_own_tables() {
        let refund = json!({"merchantTransactionId": "r-1", "referenceUuid": "abc", "amount": "1", "currency": "EUR"});
        assert_eq!(refused(Op::Refund, &refund), None);
        let mut with_url = refund.clone();
        with_url["successUrl"] = json!("https://shop.test/ok");
        assert_eq!(refused(Op::Refund, &with_url).as_deref(), Some("successUrl"));
        let payout =
            json!({"merchantTransactionId": "p-1", "amount": "1", "currency": "EUR", "callbackUrl": "https://shop.test/cb"});
        assert_eq!(refused(Op::Payout, &payout).as_deref(), Some("referenceUuid"));
        let mut both = payout.clone();
        both["referenceUuid"] = json!("abc");
        assert_eq!(refused(Op::Payout, &both), None);
        both["transactionToken"] = json!("tok");
        assert_eq!(refused(Op::Payout, &both).as_deref(), Some("transactionToken"));
    }

    #[test]
    fn a_register_has_no_money_fields() {
        let mut register = debit();
        register.as_object_mut().map(|o| o.remove("currency"));
        assert_eq!(refused(Op::Register, &register).as_deref(), Some("amount"));
        register.as_object_mut().map(|o| o.remove("amount"));
        assert_eq!(refused(Op::Register, &register), None);
        register["customer"] = json!({"email": "a@b.c"});
        register["description"] = json!("Card for payouts");
        assert_eq!(refused(Op::Register, &register), None);
        register["currency"] = json!("EUR");
        assert_eq!(refused(Op::Register, &register).as_deref(), Some("currency"));
        register.as_object_mut().map(|o| o.remove("currency"));
        register["withRegister"] = json!(true);
        assert_eq!(refused(Op::Register, &register).as_deref(), Some("withRegister"));
        register.as_object_mut().map(|o| o.remove("withRegister"));
        register.as_object_mut().map(|o| o.remove("callbackUrl"));
        assert_eq!(refused(Op::Register, &register).as_deref(), Some("callbackUrl"));
    }
}
