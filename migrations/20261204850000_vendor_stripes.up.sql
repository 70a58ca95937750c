-- A vendor's pending and available balances are striped like the platform's accounts
-- (issue 11): every transfer to one vendor updated its one `vendor_pending` row, so
-- transfers to a vendor ran one at a time. The accounts already made move their
-- balance into stripe 0 of 16 (the store makes the stripes of an account it creates).
INSERT INTO ledger_stripes (account_id, stripe, balance, may_go_negative)
WITH RECURSIVE n (stripe) AS (SELECT 0 UNION ALL SELECT stripe + 1 FROM n WHERE stripe < 15)
SELECT a.id, n.stripe, CASE WHEN n.stripe = 0 THEN a.balance ELSE 0 END, a.may_go_negative
FROM ledger_accounts a CROSS JOIN n
WHERE a.kind IN ('vendor_pending', 'vendor_available');
UPDATE ledger_accounts SET balance = 0 WHERE kind IN ('vendor_pending', 'vendor_available');
