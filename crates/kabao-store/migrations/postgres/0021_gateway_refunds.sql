-- Refunds back through the gateway the buyer paid with (issue 20). A remedy that refunds a gateway payment posts
-- the money to the 'gateway_refunds_in_flight' account and writes a row here in the same transaction; the refund
-- job asks the gateway with the row's refund_no (stable across retries, so the gateway pays it once) and moves the
-- money on: 'done' (to the gateway edge), 'to_wallet' (the gateway refused or cannot refund: the buyer's wallet,
-- with the reason), or 'manual' (a guest, who has no wallet, whose gateway refused: the platform team refunds by
-- hand and records it). While 'pending' or 'processing' the job retries with backoff, recording the last error.
CREATE TABLE gateway_refunds (
    id               BIGSERIAL PRIMARY KEY,
    refund_no        TEXT    NOT NULL,
    order_id         BIGINT  NOT NULL REFERENCES orders (id),
    payment_id       BIGINT  NOT NULL REFERENCES payments (id),
    gateway          TEXT    NOT NULL,
    amount_fen       BIGINT  NOT NULL CHECK (amount_fen > 0),
    reason           TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'processing', 'done', 'to_wallet', 'manual')),
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_error       TEXT,
    gateway_refund_no TEXT,
    outcome_note     TEXT,
    created_at       BIGINT  NOT NULL,
    decided_at       BIGINT,
    CONSTRAINT gateway_refunds_no_key UNIQUE (refund_no)
);
-- The job's due list walks only open refunds.
CREATE INDEX gateway_refunds_due_idx ON gateway_refunds (next_attempt_at, id) WHERE state IN ('pending', 'processing');
CREATE INDEX gateway_refunds_order_idx ON gateway_refunds (order_id);
CREATE INDEX gateway_refunds_open_idx ON gateway_refunds (state) WHERE state IN ('pending', 'processing', 'manual');
-- The order's paid payment, found by the refund rule.
CREATE INDEX payments_order_paid_idx ON payments (order_id) WHERE state = 'paid';

INSERT INTO job_leases (name, owner, lease_until) VALUES ('gateway_refunds', NULL, 0);

-- A buyer who prefers refunds in the wallet (退款至余额) over back through the gateway they paid with.
CREATE TABLE refund_preferences (
    user_id    BIGINT  NOT NULL PRIMARY KEY REFERENCES users (id),
    to_wallet  BOOLEAN NOT NULL,
    updated_at BIGINT  NOT NULL
);
