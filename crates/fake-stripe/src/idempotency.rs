//! Stripe's idempotency: a key is scoped to the account it was used on (`Stripe-Account`,
//! or the platform); the first executed answer is kept and replayed for the same request,
//! and the key is refused for a different one.

use std::collections::HashMap;

/// The answer saved under a key, with what it answered.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    method: String,
    path: String,
    /// Sorted, so that only the parameters matter, not their order on the wire.
    form: Vec<(String, String)>,
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Saved {
    pub(crate) fn new(method: &str, path: &str, form: &[(String, String)], status: u16, body: Vec<u8>) -> Self {
        Saved { method: method.to_string(), path: path.to_string(), form: sorted(form), status, body }
    }
}

pub(crate) enum Lookup<'a> {
    Fresh,
    Replay(&'a Saved),
    /// Same key, different method, path or parameters.
    Mismatch,
}

/// (account, key) → saved answer.
#[derive(Debug, Default)]
pub(crate) struct Idempotency {
    saved: HashMap<(Option<String>, String), Saved>,
}

fn sorted(form: &[(String, String)]) -> Vec<(String, String)> {
    let mut form = form.to_vec();
    form.sort();
    form
}

impl Idempotency {
    pub(crate) fn lookup(
        &self,
        account: Option<&str>,
        key: &str,
        method: &str,
        path: &str,
        form: &[(String, String)],
    ) -> Lookup<'_> {
        match self.saved.get(&(account.map(str::to_string), key.to_string())) {
            None => Lookup::Fresh,
            Some(saved) if saved.method == method && saved.path == path && saved.form == sorted(form) => Lookup::Replay(saved),
            Some(_) => Lookup::Mismatch,
        }
    }

    pub(crate) fn save(&mut self, account: Option<&str>, key: &str, saved: Saved) {
        self.saved.insert((account.map(str::to_string), key.to_string()), saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn keys_replay_per_account_and_refuse_other_parameters() {
        let mut store = Idempotency::default();
        let form = pairs(&[("amount", "1"), ("currency", "eur")]);
        store.save(None, "k", Saved::new("POST", "/v1/payouts", &form, 200, b"{}".to_vec()));
        let reordered = pairs(&[("currency", "eur"), ("amount", "1")]);
        assert!(matches!(store.lookup(None, "k", "POST", "/v1/payouts", &reordered), Lookup::Replay(s) if s.status == 200));
        assert!(matches!(store.lookup(None, "k", "POST", "/v1/payouts", &pairs(&[("amount", "2")])), Lookup::Mismatch));
        assert!(matches!(store.lookup(None, "k", "POST", "/v1/transfers", &form), Lookup::Mismatch));
        assert!(matches!(store.lookup(Some("acct_1"), "k", "POST", "/v1/payouts", &form), Lookup::Fresh));
    }
}
