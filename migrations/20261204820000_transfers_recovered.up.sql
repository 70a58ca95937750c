-- What of a transfer's share repaid the vendor's debt (`receivable_recovery`) and
-- stayed on the platform. `amount` is the vendor's whole share from now on: what
-- reached the vendor is `amount - recovered_amount`, zero when the debt took it all
-- (the share itself is never zero, as its CHECK says).
ALTER TABLE transfers ADD COLUMN recovered_amount BIGINT NOT NULL DEFAULT 0 CHECK (recovered_amount >= 0);

-- Earlier transfers stored only what reached the vendor: their recovered part is
-- the `receivable_recovery` entry of the transfer, or of the escrow hold whose
-- release made it (a held payment has that one transfer).
UPDATE transfers SET recovered_amount = (
    SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT)
    FROM journal_entries e JOIN postings p ON p.entry_id = e.id
    WHERE e.kind = 'receivable_recovery' AND p.amount > 0
      AND (e.object_id = transfers.id
           OR e.object_id IN (SELECT h.id FROM escrow_holds h WHERE h.payment_id = transfers.payment_id))
);
UPDATE transfers SET amount = amount + recovered_amount WHERE recovered_amount > 0;
