-- Fold a vendor's stripes back into its account's row.
UPDATE ledger_accounts SET balance = balance +
    COALESCE((SELECT SUM(s.balance) FROM ledger_stripes s WHERE s.account_id = ledger_accounts.id), 0)
WHERE kind IN ('vendor_pending', 'vendor_available');
DELETE FROM ledger_stripes
WHERE account_id IN (SELECT id FROM ledger_accounts WHERE kind IN ('vendor_pending', 'vendor_available'));
