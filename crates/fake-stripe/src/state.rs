//! Everything the fake remembers, behind one mutex: objects (each owned by the platform or
//! a connected account), the request log, pending faults and idempotency keys.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::RecordedRequest;
use crate::idempotency::Idempotency;

/// A stored Stripe object and whose it is (`None` = the platform).
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) owner: Option<String>,
    pub(crate) value: Value,
}

impl Stored {
    pub(crate) fn object(&self) -> &str {
        self.value.get("object").and_then(Value::as_str).unwrap_or_default()
    }
}

/// What a matched request suffers instead of being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Fail(u16),
    Hang,
}

#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) path_prefix: String,
    pub(crate) kind: FaultKind,
    pub(crate) remaining: usize,
}

/// A session's `payment_intent_data`, kept aside because a Checkout Session object does
/// not show it; it becomes the PaymentIntent when the buyer pays.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntentData {
    pub(crate) metadata: Map<String, Value>,
    pub(crate) transfer_group: Option<String>,
}

#[derive(Debug)]
pub(crate) struct FakeState {
    pub(crate) api_key: String,
    /// Oldest first; never shrinks, so `index` positions stay valid.
    objects: Vec<Stored>,
    index: HashMap<String, usize>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) idempotency: Idempotency,
    pub(crate) refunds_start_pending: bool,
    pub(crate) intent_data: HashMap<String, IntentData>,
}

impl FakeState {
    pub(crate) fn new(api_key: &str) -> Self {
        FakeState {
            api_key: api_key.to_string(),
            objects: Vec::new(),
            index: HashMap::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            idempotency: Idempotency::default(),
            refunds_start_pending: false,
            intent_data: HashMap::new(),
        }
    }

    /// Stores `value` for `owner` and returns a copy for the answer.
    pub(crate) fn insert(&mut self, owner: Option<&str>, value: Value) -> Value {
        if let Some(id) = value.get("id").and_then(Value::as_str) {
            self.index.insert(id.to_string(), self.objects.len());
        }
        self.objects.push(Stored { owner: owner.map(str::to_string), value: value.clone() });
        value
    }

    /// Drops `id` from the index and hides the object from `all` (the list keeps its
    /// place, so other objects' positions stay valid).
    pub(crate) fn forget(&mut self, id: &str) -> bool {
        let Some(i) = self.index.remove(id) else { return false };
        if let Some(stored) = self.objects.get_mut(i) {
            stored.value["object"] = Value::String("forgotten".into());
        }
        true
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Stored> {
        self.index.get(id).and_then(|&i| self.objects.get(i))
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        let i = *self.index.get(id)?;
        self.objects.get_mut(i).map(|stored| &mut stored.value)
    }

    /// The object if it has this `object` type and `owner` may see it: a connected
    /// account sees only its own objects, the platform only the platform's.
    pub(crate) fn visible(&self, id: &str, object: &str, owner: Option<&str>) -> Option<&Value> {
        self.get(id).filter(|s| s.object() == object && s.owner.as_deref() == owner).map(|s| &s.value)
    }

    pub(crate) fn all(&self, object: &str) -> impl Iterator<Item = &Stored> {
        self.objects.iter().filter(move |s| s.object() == object)
    }

    pub(crate) fn is_account(&self, id: &str) -> bool {
        self.visible(id, "account", None).is_some()
    }

    /// Consumes one use of the first fault whose prefix matches `path`.
    pub(crate) fn take_fault(&mut self, path: &str) -> Option<FaultKind> {
        let position = self.faults.iter().position(|f| f.remaining > 0 && path.starts_with(&f.path_prefix))?;
        let fault = self.faults.get_mut(position)?;
        fault.remaining -= 1;
        let kind = fault.kind;
        if fault.remaining == 0 {
            self.faults.remove(position);
        }
        Some(kind)
    }
}

/// `prefix` + 24 random alphanumerics, the shape of Stripe's ids.
pub(crate) fn new_id(prefix: &str) -> String {
    let random: String = uuid::Uuid::new_v4().simple().to_string().chars().take(24).collect();
    format!("{prefix}{random}")
}

/// Integer field of a stored object (0 when absent: amounts the fake itself wrote).
pub(crate) fn int(value: &Value, field: &str) -> i64 {
    value.get(field).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_visible_only_to_their_owner() {
        let mut state = FakeState::new("sk");
        state.insert(Some("acct_1"), json!({"id": "po_1", "object": "payout"}));
        assert!(state.visible("po_1", "payout", Some("acct_1")).is_some());
        assert!(state.visible("po_1", "payout", None).is_none());
        assert!(state.visible("po_1", "payout", Some("acct_2")).is_none());
        assert!(state.visible("po_1", "refund", Some("acct_1")).is_none());
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let mut state = FakeState::new("sk");
        state.faults.push(Fault { path_prefix: "/v1/refunds".into(), kind: FaultKind::Fail(500), remaining: 2 });
        state.faults.push(Fault { path_prefix: "/v1".into(), kind: FaultKind::Hang, remaining: 1 });
        assert_eq!(state.take_fault("/v1/refunds"), Some(FaultKind::Fail(500)));
        assert_eq!(state.take_fault("/v1/accounts"), Some(FaultKind::Hang));
        assert_eq!(state.take_fault("/v1/refunds"), Some(FaultKind::Fail(500)));
        assert_eq!(state.take_fault("/v1/refunds"), None);
        assert!(new_id("re_").starts_with("re_") && new_id("re_").len() == 27);
    }
}
