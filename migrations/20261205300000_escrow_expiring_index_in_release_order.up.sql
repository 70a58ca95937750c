-- The expiring holds are read in release order (hold_until, then id) a batch at a
-- time. With the index on hold_until alone, a plan made while statistics counted no
-- holding hold read every due hold and sorted them for each batch (20-80 ms a call
-- with 10,000 due); in release order, the read stops at the batch's end whatever the
-- statistics say.
DROP INDEX escrow_holds_expiring;
CREATE INDEX escrow_holds_expiring ON escrow_holds (hold_until, id) WHERE status = 'holding';
