-- Fold the stripes back into their account's row before dropping them.
DROP VIEW ledger_balances;
UPDATE ledger_accounts SET balance = balance +
    COALESCE((SELECT SUM(s.balance) FROM ledger_stripes s WHERE s.account_id = ledger_accounts.id), 0);
DROP TABLE ledger_stripes;
