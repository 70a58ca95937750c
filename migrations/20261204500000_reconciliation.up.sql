-- A reconciliation run of one gateway over a time window, with the number of lines
-- of each outcome, and its lines: one per object found on either side.
CREATE TABLE reconciliation_runs (
    id                 TEXT PRIMARY KEY,
    gateway_name       TEXT   NOT NULL,
    window_start       BIGINT NOT NULL,
    window_end         BIGINT NOT NULL,
    finished_at        BIGINT NOT NULL,
    matched            BIGINT NOT NULL,
    missing_at_gateway BIGINT NOT NULL,
    missing_in_ledger  BIGINT NOT NULL,
    amount_mismatch    BIGINT NOT NULL,
    currency_mismatch  BIGINT NOT NULL,
    status_mismatch    BIGINT NOT NULL
);
CREATE INDEX reconciliation_runs_newest ON reconciliation_runs (finished_at DESC, id DESC);

CREATE TABLE reconciliation_lines (
    run_id           TEXT   NOT NULL REFERENCES reconciliation_runs (id),
    position         BIGINT NOT NULL,
    kind             TEXT   NOT NULL CHECK (kind IN ('payment', 'refund', 'transfer', 'reversal', 'payout')),
    outcome          TEXT   NOT NULL CHECK (outcome IN ('matched', 'missing_at_gateway', 'missing_in_ledger',
                                                        'amount_mismatch', 'currency_mismatch', 'status_mismatch')),
    our_id           TEXT,
    gateway_id       TEXT,
    our_amount       BIGINT,
    our_currency     TEXT,
    our_status       TEXT,
    gateway_amount   BIGINT,
    gateway_currency TEXT,
    gateway_status   TEXT,
    PRIMARY KEY (run_id, position)
);
