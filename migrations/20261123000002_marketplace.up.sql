-- Connected accounts, split rules, transfers, reversals, balance snapshots, payouts.
-- Same conventions as the first migration: BIGINT minor units, BIGINT microsecond
-- timestamps, BIGINT 0/1 flags, TEXT ids.

CREATE TABLE connected_accounts (
    id                 TEXT PRIMARY KEY,
    gateway_account_id TEXT   NOT NULL UNIQUE,
    account_type       TEXT   NOT NULL CHECK (account_type IN ('express', 'standard', 'custom')),
    email              TEXT   NOT NULL,
    business_type      TEXT   NOT NULL CHECK (business_type IN ('individual', 'company')),
    country            TEXT   NOT NULL,
    status             TEXT   NOT NULL CHECK (status IN ('pending', 'active', 'restricted', 'disabled')),
    charges_enabled    BIGINT NOT NULL CHECK (charges_enabled IN (0, 1)),
    payouts_enabled    BIGINT NOT NULL CHECK (payouts_enabled IN (0, 1)),
    details_submitted  BIGINT NOT NULL CHECK (details_submitted IN (0, 1)),
    metadata           TEXT   NOT NULL DEFAULT '{}',
    -- metadata.user_id, kept in a column so a merchant's accounts can be listed.
    owner_user_id      TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX connected_accounts_owner ON connected_accounts (owner_user_id);
CREATE INDEX connected_accounts_newest ON connected_accounts (created_at DESC, id DESC);

CREATE TABLE account_links (
    id          TEXT PRIMARY KEY,
    account_id  TEXT   NOT NULL REFERENCES connected_accounts (id),
    return_url  TEXT   NOT NULL,
    refresh_url TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE split_rules (
    id                   TEXT PRIMARY KEY,
    name                 TEXT   NOT NULL,
    connected_account_id TEXT REFERENCES connected_accounts (id),
    rule_type            TEXT   NOT NULL CHECK (rule_type IN ('percentage', 'fixed')),
    -- Decimal text: a percentage ("10.5") or a fixed amount in the standard unit.
    value                TEXT   NOT NULL,
    priority             BIGINT NOT NULL,
    is_active            BIGINT NOT NULL CHECK (is_active IN (0, 1)),
    currency             TEXT,
    min_amount           TEXT,
    max_amount           TEXT,
    deleted_at           BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CHECK (rule_type = 'percentage' OR currency IS NOT NULL)
);
CREATE INDEX split_rules_account ON split_rules (connected_account_id);

-- The fee taken on a payment; one per payment.
CREATE TABLE payment_splits (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT   NOT NULL UNIQUE REFERENCES payments (id),
    rule_id         TEXT,
    fee_amount      BIGINT NOT NULL CHECK (fee_amount >= 0),
    transfer_amount BIGINT NOT NULL CHECK (transfer_amount >= 0),
    currency        TEXT   NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE transfers (
    id                   TEXT PRIMARY KEY,
    connected_account_id TEXT   NOT NULL REFERENCES connected_accounts (id),
    gateway_account_id   TEXT   NOT NULL,
    payment_id           TEXT REFERENCES payments (id),
    amount               BIGINT NOT NULL CHECK (amount > 0),
    currency             TEXT   NOT NULL,
    reversed_amount      BIGINT NOT NULL DEFAULT 0 CHECK (reversed_amount >= 0 AND reversed_amount <= amount),
    status               TEXT   NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'partially_reversed', 'reversed')),
    description          TEXT   NOT NULL DEFAULT '',
    source_transaction   TEXT,
    gateway_transfer_id  TEXT,
    idempotency_key      TEXT,
    metadata             TEXT   NOT NULL DEFAULT '{}',
    available_on         BIGINT NOT NULL,
    matured_at           BIGINT,
    paid_at              BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX transfers_account_newest ON transfers (connected_account_id, created_at DESC, id DESC);
CREATE INDEX transfers_payment ON transfers (payment_id);
CREATE INDEX transfers_maturing ON transfers (available_on) WHERE matured_at IS NULL;

CREATE TABLE transfer_reversals (
    id              TEXT PRIMARY KEY,
    transfer_id     TEXT   NOT NULL REFERENCES transfers (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT   NOT NULL,
    description     TEXT   NOT NULL DEFAULT '',
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX transfer_reversals_transfer ON transfer_reversals (transfer_id);

CREATE TABLE balance_snapshots (
    id                       TEXT PRIMARY KEY,
    connected_account_id     TEXT   NOT NULL REFERENCES connected_accounts (id),
    currency                 TEXT   NOT NULL,
    available_amount         BIGINT NOT NULL,
    pending_amount           BIGINT NOT NULL,
    instant_available_amount BIGINT NOT NULL,
    source_types             TEXT   NOT NULL DEFAULT '[]',
    snapshot_type            TEXT   NOT NULL CHECK (snapshot_type IN ('scheduled', 'on_demand', 'webhook')),
    created_at               BIGINT NOT NULL
);
CREATE INDEX balance_snapshots_account_time ON balance_snapshots (connected_account_id, created_at);

CREATE TABLE payouts (
    id                   TEXT PRIMARY KEY,
    connected_account_id TEXT   NOT NULL REFERENCES connected_accounts (id),
    amount               BIGINT NOT NULL CHECK (amount > 0),
    fee_amount           BIGINT NOT NULL CHECK (fee_amount >= 0),
    currency             TEXT   NOT NULL,
    method               TEXT   NOT NULL CHECK (method IN ('standard', 'instant')),
    status               TEXT   NOT NULL CHECK (status IN ('pending', 'in_transit', 'paid', 'failed', 'canceled')),
    destination_type     TEXT   NOT NULL,
    destination_id       TEXT   NOT NULL,
    arrival_date         BIGINT NOT NULL,
    failure_code         TEXT,
    failure_message      TEXT,
    description          TEXT   NOT NULL DEFAULT '',
    statement_descriptor TEXT   NOT NULL DEFAULT '',
    gateway_payout_id    TEXT,
    idempotency_key      TEXT,
    metadata             TEXT   NOT NULL DEFAULT '{}',
    paid_at              BIGINT,
    failed_at            BIGINT,
    canceled_at          BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX payouts_account_newest ON payouts (connected_account_id, created_at DESC, id DESC);
CREATE INDEX payouts_open ON payouts (status, updated_at) WHERE status IN ('pending', 'in_transit');
