-- Events to the platform (the outbox). An event is written in the transaction of
-- the state change it tells, with one delivery row per endpoint subscribed to its
-- type at that moment; the delivery worker sends them after the commit.
CREATE TABLE events (
    id         TEXT   PRIMARY KEY,
    event_type TEXT   NOT NULL,
    object_id  TEXT   NOT NULL,
    -- The object as the API shows it, JSON.
    payload    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_by_object ON events (object_id, id);

CREATE TABLE event_endpoints (
    id          TEXT   PRIMARY KEY,
    url         TEXT   NOT NULL,
    description TEXT   NOT NULL,
    secret      TEXT   NOT NULL,
    -- ",payment.succeeded,refund.failed," or ",*,": matched with LIKE '%,type,%'.
    event_types TEXT   NOT NULL,
    enabled     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE event_deliveries (
    event_id         TEXT   NOT NULL REFERENCES events (id),
    endpoint_id      TEXT   NOT NULL REFERENCES event_endpoints (id) ON DELETE CASCADE,
    -- The event's object: an endpoint gets one object's events in their order.
    object_id        TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    -- A worker's claim: no other worker sends it before this time.
    locked_until     BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    -- Start of the retry window (the event's time, or a redelivery's).
    since            BIGINT NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (status, next_attempt_at);
CREATE INDEX event_deliveries_per_object ON event_deliveries (endpoint_id, object_id, status, event_id);
