ALTER TABLE transfers DROP COLUMN reversed_recovered_amount;
ALTER TABLE transfer_reversals DROP COLUMN recovered_amount;
