DROP INDEX payments_gateway_intent;
ALTER TABLE balance_snapshots DROP COLUMN receivable_amount;
DROP TABLE disputes;
