//! Stripe's wire format: `application/x-www-form-urlencoded` with bracket nesting
//! (`metadata[k]=v`, `line_items[0][price_data][currency]=usd`, `expand[]=x`).

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// Decodes `a=1&b%5Bc%5D=2` into ordered pairs; `+` is a space, as browsers and Stripe's
/// clients encode it.
pub(crate) fn decode(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (unescape(key), unescape(value))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// `line_items[0][price_data][currency]` → `["line_items", "0", "price_data", "currency"]`;
/// `None` when the brackets do not pair up (Stripe would not parse the name either).
pub(crate) fn segments(key: &str) -> Option<Vec<&str>> {
    let Some(open) = key.find('[') else {
        return Some(vec![key]);
    };
    let (head, mut rest) = key.split_at(open);
    let mut out = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let (segment, after) = inner.split_once(']')?;
        out.push(segment);
        rest = after;
    }
    Some(out)
}

/// The name before the first `[`: what Stripe's "unknown parameter" check looks at first.
pub(crate) fn top(key: &str) -> &str {
    key.split('[').next().unwrap_or(key)
}

/// Read access to decoded pairs. An empty value means "unset", as in Stripe.
#[derive(Debug, Clone, Default)]
pub(crate) struct Form(pub Vec<(String, String)>);

impl Form {
    /// The last non-empty value for exactly this key (a repeated key overrides, as in Rails).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Integer parameters were checked by validation, so a bad one here is simply absent.
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// Whether anything was sent under this key or below it (`key` or `key[...]`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, v)| (k == key && !v.is_empty()) || k.strip_prefix(key).is_some_and(|rest| rest.starts_with('[')))
    }

    /// One level of `prefix[k]=v` pairs as a JSON object (metadata); empty values unset a key.
    pub(crate) fn map(&self, prefix: &str) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in &self.0 {
            let Some(name) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('[')).and_then(|r| r.strip_suffix(']')) else {
                continue;
            };
            if name.contains('[') || name.contains(']') {
                continue;
            }
            if value.is_empty() {
                out.remove(name);
            } else {
                out.insert(name.to_string(), Value::String(value.clone()));
            }
        }
        out
    }

    /// Values of a list parameter, whether sent as `name[]=v` or `name[0]=v`.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| !v.is_empty() && segments(k).is_some_and(|s| s.len() == 2 && s.first() == Some(&name)))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Distinct index segments under `name[...]` in order of first appearance (`line_items`).
    pub(crate) fn indices(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (key, _) in &self.0 {
            if let Some(segs) = segments(key)
                && segs.first() == Some(&name)
                && let Some(index) = segs.get(1)
                && !out.iter().any(|seen| seen == index)
            {
                out.push((*index).to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_plus_and_percent_escapes_are_decoded() {
        let pairs = decode("metadata%5Bpayment_id%5D=p+1&expand[]=payment_intent&a=%C3%A9&flag");
        assert_eq!(
            pairs,
            vec![
                ("metadata[payment_id]".to_string(), "p 1".to_string()),
                ("expand[]".to_string(), "payment_intent".to_string()),
                ("a".to_string(), "é".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn nested_names_split_into_segments_and_unbalanced_ones_do_not() {
        assert_eq!(segments("line_items[0][price_data][currency]"), Some(vec!["line_items", "0", "price_data", "currency"]));
        assert_eq!(segments("expand[]"), Some(vec!["expand", ""]));
        assert_eq!(segments("amount"), Some(vec!["amount"]));
        assert_eq!(segments("metadata[k"), None);
        assert_eq!(segments("metadata[k]x"), None);
    }

    #[test]
    fn helpers_read_maps_lists_and_indices() {
        let form =
            Form(decode("metadata[a]=1&metadata[b]=2&metadata[a]=&expand[]=x&expand[1]=y&line_items[0][q]=1&line_items[1][q]=2"));
        assert_eq!(Value::Object(form.map("metadata")), serde_json::json!({"b": "2"}));
        assert_eq!(form.list("expand"), vec!["x", "y"]);
        assert_eq!(form.indices("line_items"), vec!["0", "1"]);
        assert!(form.has("line_items"));
        assert!(!form.has("line"));
    }
}
