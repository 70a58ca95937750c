-- Striped balances of the platform's accounts (issue 11). Every checkout and transfer
-- moved `external` and `platform_cash`; one balance row each made them queue one
-- behind another. A striped account's balance is its `ledger_accounts.balance` (kept
-- at 0) plus the sum of its stripes, and every stripe of
-- an account that may not go negative is itself never negative, so neither is the sum.
CREATE TABLE ledger_stripes (
    account_id      TEXT   NOT NULL REFERENCES ledger_accounts (id),
    stripe          BIGINT NOT NULL,
    balance         BIGINT NOT NULL DEFAULT 0,
    may_go_negative BIGINT NOT NULL CHECK (may_go_negative IN (0, 1)),
    PRIMARY KEY (account_id, stripe),
    CHECK (may_go_negative = 1 OR balance >= 0)
);

-- The platform's accounts already made move their balance into stripe 0 of 16 (the
-- store's STRIPES; it makes the stripes of an account it creates itself).
INSERT INTO ledger_stripes (account_id, stripe, balance, may_go_negative)
SELECT a.id, n.stripe, CASE WHEN n.stripe = 0 THEN a.balance ELSE 0 END, a.may_go_negative
FROM ledger_accounts a CROSS JOIN (
    SELECT 0 AS stripe UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
    UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11
    UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14 UNION ALL SELECT 15
) n
WHERE a.kind IN ('external', 'platform_cash', 'platform_escrow', 'platform_fees');
UPDATE ledger_accounts SET balance = 0 WHERE kind IN ('external', 'platform_cash', 'platform_escrow', 'platform_fees');

-- Every account's balance, striped or not: what readers and check-ledger use.
CREATE VIEW ledger_balances AS
SELECT a.id, a.kind, a.owner, a.currency, a.may_go_negative,
       CAST(a.balance + COALESCE((SELECT SUM(s.balance) FROM ledger_stripes s WHERE s.account_id = a.id), 0) AS BIGINT)
           AS balance
FROM ledger_accounts a;
