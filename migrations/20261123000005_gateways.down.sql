ALTER TABLE connected_accounts DROP COLUMN payout_card_reference;
ALTER TABLE wallet_transactions DROP COLUMN gateway_transaction_id;
ALTER TABLE wallet_transactions DROP COLUMN gateway_name;
ALTER TABLE transfer_reversals DROP COLUMN gateway_reversal_id;
ALTER TABLE transfer_reversals DROP COLUMN status;
ALTER TABLE connected_accounts DROP COLUMN gateway_event_at;
ALTER TABLE balance_snapshots DROP COLUMN gateway_pending_amount;
ALTER TABLE balance_snapshots DROP COLUMN gateway_available_amount;
