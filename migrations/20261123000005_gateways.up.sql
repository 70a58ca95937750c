-- A snapshot taken against a gateway keeps the gateway's own figures beside ours.
ALTER TABLE balance_snapshots ADD COLUMN gateway_available_amount BIGINT;
ALTER TABLE balance_snapshots ADD COLUMN gateway_pending_amount BIGINT;
-- When the newest gateway event applied to an account was created (unix seconds):
-- an older `account.updated` never undoes a newer one.
ALTER TABLE connected_accounts ADD COLUMN gateway_event_at BIGINT NOT NULL DEFAULT 0;
-- A reversal is recorded before the gateway is asked: pending until it confirms,
-- failed (and undone in the ledger) when it refuses. Existing ones were confirmed.
ALTER TABLE transfer_reversals ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded';
ALTER TABLE transfer_reversals ADD COLUMN gateway_reversal_id TEXT;
-- A withdrawal paid out by a real gateway (AllSecure) names it and, once known,
-- the gateway's transaction; NULL is the built-in mock's bank.
ALTER TABLE wallet_transactions ADD COLUMN gateway_name TEXT;
ALTER TABLE wallet_transactions ADD COLUMN gateway_transaction_id TEXT;
-- The card a gateway pays a vendor out to (AllSecure's register transaction).
ALTER TABLE connected_accounts ADD COLUMN payout_card_reference TEXT;
