-- Escrow holds, refunds and the user wallet's history.

CREATE TABLE escrow_holds (
    id                  TEXT PRIMARY KEY,
    payment_id          TEXT   NOT NULL UNIQUE REFERENCES payments (id),
    merchant_id         TEXT   NOT NULL,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    currency            TEXT   NOT NULL,
    status              TEXT   NOT NULL CHECK (status IN ('holding', 'released', 'cancelled')),
    hold_until          BIGINT NOT NULL,
    released_at         BIGINT,
    cancelled_at        BIGINT,
    cancellation_reason TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
-- The release jobs' claim: expired holds still holding, oldest first.
CREATE INDEX escrow_holds_expiring ON escrow_holds (hold_until) WHERE status = 'holding';
CREATE INDEX escrow_holds_status_newest ON escrow_holds (status, created_at DESC, id DESC);

CREATE TABLE refunds (
    id                TEXT PRIMARY KEY,
    payment_id        TEXT   NOT NULL REFERENCES payments (id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT   NOT NULL,
    status            TEXT   NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    gateway_refund_id TEXT,
    reason            TEXT   NOT NULL DEFAULT '',
    idempotency_key   TEXT,
    processed_at      BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

CREATE TABLE wallet_transactions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT   NOT NULL,
    kind            TEXT   NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'withdrawal_reversal', 'payment')),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT   NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    description     TEXT   NOT NULL DEFAULT '',
    payment_id      TEXT,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX wallet_transactions_user_newest ON wallet_transactions (user_id, created_at DESC, id DESC);
CREATE INDEX wallet_transactions_open ON wallet_transactions (status, updated_at) WHERE status = 'pending';
