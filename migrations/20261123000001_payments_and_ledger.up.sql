-- Portable SQL: the same file runs on PostgreSQL and SQLite.
-- Amounts are BIGINT minor units; timestamps BIGINT microseconds since the Unix
-- epoch (UTC); booleans BIGINT 0/1; ids TEXT (UUID v7, sortable by time).

CREATE TABLE payments (
    id                        TEXT PRIMARY KEY,
    user_id                   TEXT   NOT NULL,
    amount                    BIGINT NOT NULL CHECK (amount > 0),
    currency                  TEXT   NOT NULL,
    payment_type              TEXT   NOT NULL CHECK (payment_type IN ('platform_service', 'product_b2c', 'product_c2c', 'balance_deposit')),
    status                    TEXT   NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'cancelled', 'refunded')),
    gateway_name              TEXT   NOT NULL,
    gateway_session_id        TEXT,
    gateway_payment_intent_id TEXT,
    checkout_url              TEXT,
    success_url               TEXT   NOT NULL,
    cancel_url                TEXT   NOT NULL,
    merchant_id               TEXT,
    buyer_id                  TEXT,
    escrow_enabled            BIGINT NOT NULL DEFAULT 0 CHECK (escrow_enabled IN (0, 1)),
    escrow_hold_period_days   BIGINT NOT NULL DEFAULT 0,
    refunded_amount           BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    idempotency_key           TEXT,
    metadata                  TEXT   NOT NULL DEFAULT '{}',
    failure_reason            TEXT,
    paid_at                   BIGINT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE UNIQUE INDEX payments_gateway_session ON payments (gateway_name, gateway_session_id);
CREATE INDEX payments_user_newest ON payments (user_id, created_at DESC, id DESC);

-- Written in the same transaction as the effect it guards (SPEC §6 Idempotency).
CREATE TABLE idempotency_keys (
    scope           TEXT   NOT NULL,
    idempotency_key TEXT   NOT NULL,
    method          TEXT   NOT NULL,
    request_hash    TEXT   NOT NULL,
    resource_id     TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);

-- Verified gateway events; the unique (gateway, event id) makes redelivery a no-op.
CREATE TABLE webhook_logs (
    id              TEXT PRIMARY KEY,
    gateway_name    TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    event_type      TEXT   NOT NULL,
    payload         TEXT   NOT NULL,
    signature_valid BIGINT NOT NULL CHECK (signature_valid IN (0, 1)),
    processed       BIGINT NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    error           TEXT,
    payment_id      TEXT,
    received_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_logs_event ON webhook_logs (gateway_name, event_id);

-- The double-entry ledger (DESIGN §2).
CREATE TABLE ledger_accounts (
    id              TEXT PRIMARY KEY,
    kind            TEXT   NOT NULL,
    owner           TEXT,
    currency        TEXT   NOT NULL,
    balance         BIGINT NOT NULL DEFAULT 0,
    may_go_negative BIGINT NOT NULL CHECK (may_go_negative IN (0, 1)),
    created_at      BIGINT NOT NULL,
    CHECK (may_go_negative = 1 OR balance >= 0)
);

CREATE TABLE journal_entries (
    id         TEXT PRIMARY KEY,
    kind       TEXT   NOT NULL,
    object_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
-- One entry of a kind per business object: a second capture of a payment is refused.
CREATE UNIQUE INDEX journal_entries_object ON journal_entries (kind, object_id);

CREATE TABLE postings (
    id         TEXT PRIMARY KEY,
    entry_id   TEXT   NOT NULL REFERENCES journal_entries (id),
    account_id TEXT   NOT NULL REFERENCES ledger_accounts (id),
    amount     BIGINT NOT NULL CHECK (amount <> 0),
    currency   TEXT   NOT NULL
);
CREATE INDEX postings_account ON postings (account_id);
CREATE INDEX postings_entry ON postings (entry_id);
