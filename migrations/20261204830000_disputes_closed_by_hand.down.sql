ALTER TABLE disputes DROP COLUMN close_reason;
ALTER TABLE disputes DROP COLUMN closed_by;
