DROP TABLE postings;
DROP TABLE journal_entries;
DROP TABLE ledger_accounts;
DROP TABLE webhook_logs;
DROP TABLE idempotency_keys;
DROP TABLE payments;
