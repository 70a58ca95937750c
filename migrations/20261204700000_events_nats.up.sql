-- Events on NATS JetStream: an event is published once its object's earlier events
-- are; `nats_locked_until` is a worker's claim, `nats_published_at` the ack's time.
ALTER TABLE events ADD COLUMN nats_published_at BIGINT;
ALTER TABLE events ADD COLUMN nats_locked_until BIGINT;
CREATE INDEX events_nats_unpublished ON events (nats_published_at, object_id, id);
