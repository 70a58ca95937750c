//! The vendors a batch of transfers was written on, kept for the next batch to the
//! same vendor (issue 11): reading them was a round trip on the transfer writer's
//! path, a fifth of its turn under load. Nothing trusts them blindly: the one
//! statement that writes a batch planned on them first checks, on its own snapshot,
//! that each account's status and each receivable's balance are still what the plans
//! saw, and writes nothing otherwise (the batch then goes through a transaction that
//! reads them afresh).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use domain::accounts::ConnectedAccount;
use uuid::Uuid;

use crate::inserts::Inserts;

/// Receivables kept at most: past it they are all forgotten and learnt again.
const KEPT_MAX: usize = 1024;

/// What a batch's plans are made on: the accounts of the vendors it names, and the
/// balances of the receivables named beside them.
#[derive(Default)]
pub(crate) struct Vendors {
    pub(crate) accounts: HashMap<Uuid, ConnectedAccount>,
    /// A receivable with no row yet is missing: its balance is 0.
    pub(crate) receivables: HashMap<String, i64>,
}

impl Vendors {
    pub(crate) fn receivable(&self, code: &str) -> i64 {
        self.receivables.get(code).copied().unwrap_or_default()
    }
}

/// Each kept receivable with its vendor's account and its balance.
#[derive(Default)]
pub(crate) struct KnownVendors(Mutex<HashMap<String, (ConnectedAccount, i64)>>);

impl KnownVendors {
    /// The vendors of every (account, receivable) pair, when all of them are kept.
    pub(crate) fn of<'a>(&self, pairs: impl Iterator<Item = (Uuid, &'a str)>) -> Option<Vendors> {
        let kept = self.0.lock().ok()?;
        let mut vendors = Vendors::default();
        for (account_id, receivable) in pairs {
            let (account, balance) = kept.get(receivable).filter(|(account, _)| account.id == account_id)?;
            vendors.accounts.insert(account_id, account.clone());
            vendors.receivables.insert(receivable.to_owned(), *balance);
        }
        Some(vendors)
    }

    /// Keeps what a batch was just written on, unchanged by it.
    pub(crate) fn keep<'a>(&self, pairs: impl Iterator<Item = (Uuid, &'a str)>, vendors: &Vendors) {
        let Ok(mut kept) = self.0.lock() else { return };
        for (account_id, receivable) in pairs {
            let Some(account) = vendors.accounts.get(&account_id) else { continue };
            if kept.len() >= KEPT_MAX && !kept.contains_key(receivable) {
                kept.clear();
            }
            kept.insert(receivable.to_owned(), (account.clone(), vendors.receivable(receivable)));
        }
    }

    pub(crate) fn forget<'a>(&self, pairs: impl Iterator<Item = (Uuid, &'a str)>) {
        if let Ok(mut kept) = self.0.lock() {
            for (_, receivable) in pairs {
                kept.remove(receivable);
            }
        }
    }
}

/// The CTE `add_unchanged` adds: one row when the vendors are as planned on.
const UNCHANGED: &str = "unchanged";

/// Adds `UNCHANGED` to a statement: a row when each account of `pairs` has the status
/// and each receivable the balance `vendors` says, and `after` (a CTE returning rows,
/// read whole first) returned some. The statement's first balance move waits for it.
pub(crate) fn add_unchanged<'a>(
    statement: &mut Inserts,
    pairs: impl Iterator<Item = (Uuid, &'a str)>,
    vendors: &Vendors,
    after: Option<&str>,
) -> &'static str {
    let (accounts, receivables): (BTreeSet<Uuid>, BTreeSet<&str>) = pairs.unzip();
    // Two values a check: an account's id and status, or a receivable's id and balance.
    let account_checks = (0..accounts.len())
        .map(|n| (2 * n + 1, 2 * n + 2))
        .map(|(id, status)| format!("EXISTS (SELECT 1 FROM connected_accounts WHERE id = ${id} AND status = ${status})"));
    let receivable_checks = (accounts.len()..accounts.len() + receivables.len())
        .map(|n| (2 * n + 1, 2 * n + 2))
        .map(|(id, balance)| format!("COALESCE((SELECT balance FROM ledger_balances WHERE id = ${id}), 0) = ${balance}"));
    let mut checks: Vec<String> = account_checks.chain(receivable_checks).collect();
    if let Some(after) = after {
        checks.push(format!("(SELECT COUNT(*) FROM {after}) > 0"));
    }
    statement.add_named(UNCHANGED, &format!("SELECT 1 AS unchanged WHERE {}", checks.join(" AND ")));
    for id in &accounts {
        let status = vendors.accounts.get(id).map(|account| account.status.as_str());
        statement.bind(id.to_string()).bind(status);
    }
    for receivable in &receivables {
        statement.bind(*receivable).bind(vendors.receivable(receivable));
    }
    UNCHANGED
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn vendor() -> ConnectedAccount {
        domain::testing::vendor_account(Uuid::now_v7(), Utc::now())
    }

    fn read(account: &ConnectedAccount, receivable: &str, balance: i64) -> Vendors {
        Vendors {
            accounts: HashMap::from([(account.id, account.clone())]),
            receivables: HashMap::from([(receivable.to_owned(), balance)]),
        }
    }

    /// A batch's vendors are found only when every pair it names is kept, each
    /// receivable with its own vendor; a receivable read as missing is kept as 0.
    #[test]
    fn vendors_are_found_only_whole_and_as_kept() {
        let (first, second) = (vendor(), vendor());
        let known = KnownVendors::default();
        known.keep([(first.id, "r1")].into_iter(), &read(&first, "r1", -250));
        known.keep([(second.id, "r2")].into_iter(), &Vendors { receivables: HashMap::new(), ..read(&second, "r2", 0) });
        let both = known.of([(first.id, "r1"), (second.id, "r2")].into_iter()).expect("both kept");
        assert_eq!((both.receivable("r1"), both.receivable("r2")), (-250, 0));
        assert_eq!(both.accounts.len(), 2);
        assert!(known.of([(first.id, "r1"), (first.id, "r3")].into_iter()).is_none(), "r3 is not kept");
        assert!(known.of([(second.id, "r1")].into_iter()).is_none(), "r1 is the first vendor's");
        known.forget([(first.id, "r1")].into_iter());
        assert!(known.of([(first.id, "r1")].into_iter()).is_none());
        assert!(known.of([(second.id, "r2")].into_iter()).is_some());
    }

    /// Past its bound the store forgets what it kept rather than grow.
    #[test]
    fn kept_vendors_stay_bounded() {
        let known = KnownVendors::default();
        let accounts: Vec<_> = (0..=KEPT_MAX).map(|_| vendor()).collect();
        for (n, account) in accounts.iter().enumerate() {
            let code = format!("r{n}");
            known.keep([(account.id, code.as_str())].into_iter(), &read(account, &code, 0));
        }
        assert_eq!(known.0.lock().expect("kept").len(), 1);
        let last = format!("r{KEPT_MAX}");
        assert!(known.of([(accounts[KEPT_MAX].id, last.as_str())].into_iter()).is_some());
    }
}
