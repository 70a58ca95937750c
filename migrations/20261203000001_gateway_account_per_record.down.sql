ALTER TABLE balance_snapshots DROP COLUMN gateway_account_id;
ALTER TABLE payouts DROP COLUMN gateway_account_id;
