DROP INDEX escrow_holds_expiring;
CREATE INDEX escrow_holds_expiring ON escrow_holds (hold_until) WHERE status = 'holding';
