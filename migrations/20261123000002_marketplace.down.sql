DROP TABLE payouts;
DROP TABLE balance_snapshots;
DROP TABLE transfer_reversals;
DROP TABLE transfers;
DROP TABLE payment_splits;
DROP TABLE split_rules;
DROP TABLE account_links;
DROP TABLE connected_accounts;
