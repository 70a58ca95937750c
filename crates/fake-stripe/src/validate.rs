//! Checks a request's parameters against its endpoint table (`params`): unknown names,
//! types, enum values, metadata limits, then required names. These errors are not
//! stored under the idempotency key, as in Stripe (the request never started executing).

use std::collections::{HashMap, HashSet};

use crate::errors::ApiError;
use crate::form;
use crate::params::{Endpoint, Kind, METADATA_KEY_CHARS_MAX, METADATA_KEYS_MAX, METADATA_VALUE_CHARS_MAX, Node};

/// Metadata keys seen so far, per metadata object (`metadata`, `payment_intent_data[metadata]`).
type MetadataKeys = HashMap<String, HashSet<String>>;

pub(crate) fn check(endpoint: &Endpoint, pairs: &[(String, String)]) -> Result<(), ApiError> {
    let mut metadata = MetadataKeys::new();
    for (key, value) in pairs {
        let Some(segments) = form::segments(key) else {
            return Err(ApiError::unknown_param(key));
        };
        let Some((name, rest)) = segments.split_first() else {
            return Err(ApiError::unknown_param(key));
        };
        let Some(node) = lookup(endpoint.params, name) else {
            return Err(ApiError::unknown_param(name));
        };
        walk(node, rest, name.to_string(), value, &mut metadata)?;
    }
    for name in endpoint.required {
        let present = pairs.iter().any(|(key, value)| form::top(key) == *name && (!value.is_empty() || key.len() > name.len()));
        if !present {
            return Err(ApiError::missing_param(name));
        }
    }
    Ok(())
}

fn lookup(fields: &'static [(&'static str, Node)], name: &str) -> Option<&'static Node> {
    fields.iter().find(|(field, _)| *field == name).map(|(_, node)| node)
}

fn walk(node: &'static Node, rest: &[&str], path: String, value: &str, metadata: &mut MetadataKeys) -> Result<(), ApiError> {
    match node {
        Node::Any => Ok(()),
        Node::Leaf(kind) => match rest.first() {
            Some(segment) => Err(ApiError::unknown_param(&format!("{path}[{segment}]"))),
            None => leaf(kind, &path, value),
        },
        Node::Map(fields) => match rest.split_first() {
            // `name=` (empty) unsets an object in Stripe; any other flat value is a type error.
            None if value.is_empty() => Ok(()),
            None => Err(ApiError::invalid(format!("Invalid object: {path} must be a hash")).param(path)),
            Some((field, rest)) => match lookup(fields, field) {
                Some(child) => walk(child, rest, format!("{path}[{field}]"), value, metadata),
                None => Err(ApiError::unknown_param(&format!("{path}[{field}]"))),
            },
        },
        Node::List(item) => match rest.split_first() {
            None if value.is_empty() => Ok(()),
            None => Err(ApiError::invalid(format!("Invalid array: {path} must be an array")).param(path)),
            Some((index, rest)) if index.is_empty() || index.chars().all(|c| c.is_ascii_digit()) => {
                walk(item, rest, format!("{path}[{index}]"), value, metadata)
            }
            Some((index, _)) => Err(ApiError::invalid(format!("Invalid array index: {path}[{index}]")).param(path)),
        },
        Node::Metadata => match rest {
            [] if value.is_empty() => Ok(()),
            [key] => metadata_entry(&path, key, value, metadata),
            _ => Err(ApiError::invalid(format!("Invalid value type for {path}: metadata values must be strings")).param(path)),
        },
    }
}

fn metadata_entry(path: &str, key: &str, value: &str, metadata: &mut MetadataKeys) -> Result<(), ApiError> {
    let full = format!("{path}[{key}]");
    if key.is_empty() {
        return Err(ApiError::invalid("Metadata keys must not be empty").param(full));
    }
    if key.chars().count() > METADATA_KEY_CHARS_MAX {
        return Err(ApiError::invalid(format!("Metadata keys can have up to {METADATA_KEY_CHARS_MAX} characters")).param(full));
    }
    if value.chars().count() > METADATA_VALUE_CHARS_MAX {
        return Err(
            ApiError::invalid(format!("Metadata values can have up to {METADATA_VALUE_CHARS_MAX} characters")).param(full)
        );
    }
    let keys = metadata.entry(path.to_string()).or_default();
    keys.insert(key.to_string());
    if keys.len() > METADATA_KEYS_MAX {
        return Err(ApiError::invalid(format!("You can specify up to {METADATA_KEYS_MAX} keys in {path}")).param(path));
    }
    Ok(())
}

/// An empty value means "unset" in Stripe, so it passes here and the required check decides.
fn leaf(kind: &Kind, path: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Ok(());
    }
    match kind {
        Kind::Text(max) if value.chars().count() > *max => {
            Err(ApiError::invalid(format!("Invalid string: {value}; must be at most {max} characters")).param(path))
        }
        Kind::Text(_) => Ok(()),
        Kind::Int(min, max) => match value.parse::<i64>() {
            Err(_) => Err(ApiError::invalid(format!("Invalid integer: {value}")).param(path)),
            Ok(n) if n < *min && *min == 1 => Err(ApiError::invalid("Invalid positive integer").param(path)),
            Ok(n) if n < *min => Err(ApiError::invalid(format!("This value must be greater than or equal to {min}.")).param(path)),
            Ok(n) if n > *max && path.ends_with("amount") => Err(ApiError::invalid(format!("Amount must be no more than {max} (minor units)."))
                .code("amount_too_large")
                .param(path)),
            Ok(n) if n > *max => Err(ApiError::invalid(format!("This value must be less than or equal to {max}.")).param(path)),
            Ok(_) => Ok(()),
        },
        Kind::Bool if value == "true" || value == "false" => Ok(()),
        Kind::Bool => Err(ApiError::invalid(format!("Invalid boolean: {value}")).param(path)),
        Kind::Enum(allowed) if allowed.contains(&value) => Ok(()),
        Kind::Enum(allowed) => Err(ApiError::invalid(format!("Invalid {path}: must be one of {}", one_of(allowed))).param(path)),
        Kind::Currency if value.len() == 3 && value.chars().all(|c| c.is_ascii_lowercase()) => Ok(()),
        Kind::Currency => Err(ApiError::invalid(format!(
            "Invalid currency: {value}. Currencies are three-letter ISO codes in lower case, e.g. usd (fake-stripe refuses upper case)."
        ))
        .param(path)),
    }
}

/// `a, b, or c`, as in Stripe's enum messages.
fn one_of(allowed: &[&str]) -> String {
    match allowed {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;

    fn run(endpoint: &Endpoint, body: &str) -> Result<(), (Option<String>, String)> {
        check(endpoint, &form::decode(body)).map_err(|e| (e.param, e.message))
    }

    fn param_of(endpoint: &Endpoint, body: &str) -> Option<String> {
        run(endpoint, body).err().and_then(|(param, _)| param)
    }

    #[test]
    fn each_rule_names_the_offending_parameter() {
        let session = "mode=payment&success_url=https://x&line_items[0][quantity]=1";
        let cases: &[(&Endpoint, String, Option<&str>)] = &[
            (&params::CREATE_SESSION, session.to_string(), None),
            (&params::CREATE_SESSION, format!("{session}&bogus=1"), Some("bogus")),
            (
                &params::CREATE_SESSION,
                format!("{session}&line_items[0][price_data][bogus]=1"),
                Some("line_items[0][price_data][bogus]"),
            ),
            (
                &params::CREATE_SESSION,
                format!("{session}&line_items[0][price_data][currency]=USD"),
                Some("line_items[0][price_data][currency]"),
            ),
            (&params::CREATE_SESSION, format!("{session}&payment_intent_data[nope]=1"), Some("payment_intent_data[nope]")),
            (&params::CREATE_SESSION, format!("{session}&mode=refund"), Some("mode")),
            (&params::CREATE_SESSION, "mode=payment&line_items[0][quantity]=1".to_string(), Some("success_url")),
            (
                &params::CREATE_SESSION,
                format!("{session}&metadata[{}]=v", "k".repeat(41)),
                Some(&*format!("metadata[{}]", "k".repeat(41))),
            ),
            (&params::CREATE_REFUND, "reason=because".to_string(), Some("reason")),
            (&params::CREATE_REFUND, "amount=0".to_string(), Some("amount")),
            (&params::CREATE_REFUND, "amount=abc".to_string(), Some("amount")),
            (&params::CREATE_REFUND, "amount=100000000".to_string(), Some("amount")),
            (&params::CREATE_REFUND, "amount=99999999".to_string(), None),
            (
                &params::CREATE_ACCOUNT,
                "type=express&capabilities[transfers][requested]=yes".to_string(),
                Some("capabilities[transfers][requested]"),
            ),
            (
                &params::CREATE_ACCOUNT,
                "type=express&settings[payouts][schedule][interval]=hourly".to_string(),
                Some("settings[payouts][schedule][interval]"),
            ),
            (&params::CREATE_ACCOUNT, "type=express&settings[payouts][schedule][interval]=manual".to_string(), None),
            (&params::CREATE_ACCOUNT, "type=other".to_string(), Some("type")),
            (
                &params::CREATE_PAYOUT,
                "amount=1&currency=eur&statement_descriptor=12345678901234567890123".to_string(),
                Some("statement_descriptor"),
            ),
            (&params::CREATE_PAYOUT, "amount=1&currency=eur&method=fast".to_string(), Some("method")),
            (&params::CREATE_PAYOUT, "amount=1".to_string(), Some("currency")),
        ];
        for (endpoint, body, expected) in cases {
            let result = run(endpoint, body);
            match expected {
                None => assert!(result.is_ok(), "{body}: {result:?}"),
                Some(param) => assert_eq!(param_of(endpoint, body).as_deref(), Some(*param), "{body}: {result:?}"),
            }
        }
    }

    #[test]
    fn more_than_fifty_metadata_keys_are_refused() {
        let body: Vec<String> = (0..51).map(|i| format!("metadata[k{i}]=v")).collect();
        let body = format!("amount=1&currency=eur&{}", body.join("&"));
        assert_eq!(param_of(&params::CREATE_PAYOUT, &body).as_deref(), Some("metadata"));
    }

    #[test]
    fn enum_messages_read_like_stripes() {
        let (_, message) = run(&params::CREATE_REFUND, "reason=x").err().unwrap_or_default();
        assert_eq!(message, "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer");
    }
}
