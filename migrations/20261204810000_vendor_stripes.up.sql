-- A vendor's pending and available balances are striped like the platform's accounts
-- (issue 11): every transfer to one vendor updated its one `vendor_pending` row, so
-- transfers to a vendor ran one at a time. The accounts already made move their
-- balance into stripe 0 of 16 (the store makes the stripes of an account it creates).
INSERT INTO ledger_stripes (account_id, stripe, balance, may_go_negative)
SELECT a.id, n.stripe, CASE WHEN n.stripe = 0 THEN a.balance ELSE 0 END, a.may_go_negative
FROM ledger_accounts a CROSS JOIN (
    SELECT 0 AS stripe UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
    UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11
    UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14 UNION ALL SELECT 15
) n
WHERE a.kind IN ('vendor_pending', 'vendor_available');
UPDATE ledger_accounts SET balance = 0 WHERE kind IN ('vendor_pending', 'vendor_available');
