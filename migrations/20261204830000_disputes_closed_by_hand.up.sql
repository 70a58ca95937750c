-- A dispute an operator closed (CloseDispute): who, and why. NULL `closed_by` is a
-- dispute its gateway closed, or one still open.
ALTER TABLE disputes ADD COLUMN closed_by TEXT;
ALTER TABLE disputes ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
