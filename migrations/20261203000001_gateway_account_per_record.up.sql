-- The gateway account (acct_…) a payout was sent to and a balance snapshot was taken
-- of, kept on the record as the original's stripe_account_id. Earlier rows take
-- their connected account's.
ALTER TABLE payouts ADD COLUMN gateway_account_id TEXT;
ALTER TABLE balance_snapshots ADD COLUMN gateway_account_id TEXT;
UPDATE payouts SET gateway_account_id =
    (SELECT a.gateway_account_id FROM connected_accounts a WHERE a.id = payouts.connected_account_id);
UPDATE balance_snapshots SET gateway_account_id =
    (SELECT a.gateway_account_id FROM connected_accounts a WHERE a.id = balance_snapshots.connected_account_id);
