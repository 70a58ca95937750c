DROP INDEX events_nats_unpublished;
ALTER TABLE events DROP COLUMN nats_locked_until;
ALTER TABLE events DROP COLUMN nats_published_at;
