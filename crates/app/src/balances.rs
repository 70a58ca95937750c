//! Vendor balances, read from the ledger, and their history of snapshots.

use chrono::{DateTime, Utc};
use domain::accounts::ConnectedAccount;
use uuid::Uuid;

use crate::auth::Principal;
use crate::marketplace_ports::{BalanceLine, BalanceSnapshot, GatewayFigures, SnapshotType};
use crate::ports::Page;
use crate::{App, AppError};

/// How many due transfers one scheduler run matures.
pub const MATURE_BATCH_MAX: i64 = 500;

/// At most one on-demand snapshot per account in this time.
pub const ON_DEMAND_SNAPSHOT_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Snapshots of `account` built from its ledger lines; ids are assigned here even
/// when they are not stored.
fn snapshots(
    account: &ConnectedAccount,
    lines: Vec<BalanceLine>,
    snapshot_type: SnapshotType,
    now: DateTime<Utc>,
) -> Vec<BalanceSnapshot> {
    lines
        .into_iter()
        .map(|line| BalanceSnapshot {
            id: Uuid::now_v7(),
            connected_account_id: account.id,
            gateway_account_id: account.gateway_account_id.clone(),
            currency: line.currency,
            available_minor: line.available_minor,
            pending_minor: line.pending_minor,
            instant_available_minor: if account.payouts_enabled { line.available_minor } else { 0 },
            receivable_minor: line.receivable_minor,
            source_types: line.source_types,
            gateway: None,
            snapshot_type,
            created_at: now,
        })
        .collect()
}

impl App {
    /// One snapshot per currency, read from the ledger. `force_refresh` also asks the
    /// gateway and stores them as on-demand, at most once per account per
    /// `ON_DEMAND_SNAPSHOT_EVERY`: a refresh within that time answers the last one
    /// (each call would otherwise write rows and call the gateway).
    pub async fn balance(
        &self,
        principal: &Principal,
        account_id: &str,
        force_refresh: bool,
    ) -> Result<Vec<BalanceSnapshot>, AppError> {
        let account = self.account(principal, account_id).await?;
        let now = Utc::now();
        let since = now - ON_DEMAND_SNAPSHOT_EVERY;
        if force_refresh {
            let recent = self.store.recent_on_demand_snapshots(account.id, since).await?;
            if !recent.is_empty() {
                return Ok(recent);
            }
        }
        let lines = self.store.balance_lines(account.id).await?;
        let mut current = snapshots(&account, lines, SnapshotType::OnDemand, now);
        if force_refresh {
            self.compare_with_gateway(&account, &mut current).await?;
            return Ok(self.store.insert_on_demand_snapshots(account.id, &current, since).await?);
        }
        Ok(current)
    }

    /// Reads the gateway's own balance of the account into the snapshots; a figure
    /// that differs from our ledger is logged and counted.
    async fn compare_with_gateway(&self, account: &ConnectedAccount, current: &mut [BalanceSnapshot]) -> Result<(), AppError> {
        let Some(reported) =
            self.connect.for_account(&account.gateway_account_id).balance(account).await.map_err(AppError::from)?
        else {
            return Ok(());
        };
        for snapshot in current.iter_mut() {
            let at_gateway = reported.iter().find(|b| b.currency.eq_ignore_ascii_case(&snapshot.currency));
            let (available, pending) = at_gateway.map_or((0, 0), |b| (b.available_minor, b.pending_minor));
            snapshot.gateway = Some(GatewayFigures { available_minor: available, pending_minor: pending });
            // Our pending funds are already at the gateway (Stripe transfers arrive at once).
            if available + pending != snapshot.available_minor + snapshot.pending_minor {
                crate::metrics::gateway_mismatch("balance");
                tracing::warn!(account_id = %account.id, currency = %snapshot.currency,
                    ledger_available = snapshot.available_minor, ledger_pending = snapshot.pending_minor,
                    gateway_available = available, gateway_pending = pending,
                    "the gateway's balance differs from the ledger");
            }
        }
        Ok(())
    }

    pub async fn balance_history(
        &self,
        principal: &Principal,
        account_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        page: Page,
    ) -> Result<(Vec<BalanceSnapshot>, i64), AppError> {
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(domain::FieldError::new("from_date", "must not be after to_date").into());
        }
        let account = self.account(principal, account_id).await?;
        Ok(self.store.snapshots(account.id, from, to, page).await?)
    }

    /// The balance job: matures due pending funds, then records a scheduled snapshot
    /// of every account that holds a balance, once per `interval` across all replicas.
    /// Returns how many transfers matured.
    pub async fn run_balance_job(&self, interval: std::time::Duration) -> Result<usize, AppError> {
        let now = Utc::now();
        let matured = self.store.mature_transfers(now, MATURE_BATCH_MAX).await?;
        let slot = now.timestamp_millis() / i64::try_from(interval.as_millis().max(1)).unwrap_or(i64::MAX);
        if !self.store.claim_job_slot("balance_snapshots", slot).await? {
            return Ok(matured);
        }
        for account_id in self.store.accounts_with_balances().await? {
            let Some(account) = self.store.account(account_id).await? else { continue };
            let lines = self.store.balance_lines(account.id).await?;
            self.store.insert_snapshots(&snapshots(&account, lines, SnapshotType::Scheduled, now)).await?;
        }
        if matured > 0 {
            tracing::info!(matured, "pending funds became available");
        }
        Ok(matured)
    }
}
