-- Disputes (chargebacks) as the gateways report them. One row per gateway dispute:
-- the unique (gateway, dispute id) makes a repeated "created" event a no-op.
CREATE TABLE disputes (
    id                 TEXT PRIMARY KEY,
    payment_id         TEXT   NOT NULL REFERENCES payments (id),
    gateway_name       TEXT   NOT NULL,
    gateway_dispute_id TEXT   NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    fee                BIGINT NOT NULL DEFAULT 0 CHECK (fee >= 0),
    currency           TEXT   NOT NULL,
    reason             TEXT   NOT NULL,
    status             TEXT   NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost')),
    closed_at          BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX disputes_gateway ON disputes (gateway_name, gateway_dispute_id);
CREATE INDEX disputes_payment ON disputes (payment_id, status);
CREATE INDEX disputes_newest ON disputes (created_at DESC, id DESC);
-- What the vendor owed the platform when a balance snapshot was taken (≥ 0).
ALTER TABLE balance_snapshots ADD COLUMN receivable_amount BIGINT NOT NULL DEFAULT 0;
-- A Stripe dispute names the payment intent, not our payment.
CREATE INDEX payments_gateway_intent ON payments (gateway_name, gateway_payment_intent_id);
