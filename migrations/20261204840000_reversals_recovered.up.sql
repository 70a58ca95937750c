-- A reversal may take back the part of a transfer's share that repaid the vendor's
-- debt: it gives that debt back (the vendor owes it again) and asks no gateway.
-- `recovered_amount` is that part of a reversal (the gateway is asked for the rest);
-- a transfer's `reversed_recovered_amount` the sum of it over its reversals.
ALTER TABLE transfer_reversals ADD COLUMN recovered_amount BIGINT NOT NULL DEFAULT 0
    CHECK (recovered_amount >= 0);
ALTER TABLE transfers ADD COLUMN reversed_recovered_amount BIGINT NOT NULL DEFAULT 0
    CHECK (reversed_recovered_amount >= 0);
