-- Transfers drawing on no payment are left out of the index by payment: every
-- lookup by payment names one (`payment_id = $1` implies the index's condition), so
-- their entries (one of the eighteen index entries a transfer writes) were never read.
DROP INDEX transfers_payment;
CREATE INDEX transfers_payment ON transfers (payment_id) WHERE payment_id IS NOT NULL;
