-- One row per (job, time slot): the replica that inserts it does the slot's
-- once-per-interval work (scheduled balance snapshots), the others skip it.
CREATE TABLE scheduler_slots (
    job        TEXT   NOT NULL,
    slot       BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (job, slot)
);
