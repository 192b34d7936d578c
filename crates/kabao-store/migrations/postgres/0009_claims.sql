-- Claims (售后 / 补单申请) on one delivered item, their evidence, and re-issues.
-- An order's items keep their number across re-issues: order_keys.item names the item a key was delivered for
-- (its first key has seq = item), and a key replaced by a re-issue keeps its row, stamped voided_at.
ALTER TABLE order_keys ADD COLUMN item INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_keys ADD COLUMN voided_at BIGINT;
UPDATE order_keys SET item = seq;
CREATE INDEX order_keys_item_idx ON order_keys (order_id, item, seq);

CREATE TABLE claims (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_no            TEXT    NOT NULL,
    order_id            BIGINT  NOT NULL REFERENCES orders (id),
    item                INTEGER NOT NULL,
    shop_id             BIGINT  NOT NULL REFERENCES shops (id),
    defect              TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    activated           BOOLEAN NOT NULL,
    eligible            BOOLEAN NOT NULL,
    -- The ineligibility reasons as computed at filing (JSON array of {code, zh, en}); empty when eligible.
    reasons             TEXT    NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('open', 'awaiting_evidence', 'reissued', 'refunded', 'rejected', 'remedy_failed', 'escalated')),
    due_at              BIGINT,
    paused_remaining_ms BIGINT,
    evidence_requested  BOOLEAN NOT NULL,
    request_note        TEXT,
    decision_reason     TEXT,
    decided_by          BIGINT REFERENCES users (id),
    decided_at          BIGINT,
    created_at          BIGINT  NOT NULL,
    -- The filer's Idempotency-Key (API) or form token: a repeated submission finds its claim instead of filing
    -- a second one (which could re-issue twice).
    idempotency_key     TEXT,
    CONSTRAINT claims_claim_no_key UNIQUE (claim_no),
    CONSTRAINT claims_idempotency_key UNIQUE (order_id, idempotency_key)
);
CREATE INDEX claims_order_idx ON claims (order_id, id);
CREATE INDEX claims_shop_idx ON claims (shop_id, state, due_at);
CREATE INDEX claims_state_due_idx ON claims (state, due_at);

-- Evidence files, content-addressed: stored once per SHA-256 however many claims cite them.
CREATE TABLE evidence_files (
    sha256     BYTEA   NOT NULL PRIMARY KEY,
    mime       TEXT    NOT NULL,
    size_bytes BIGINT  NOT NULL,
    content    BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);

-- One piece of evidence in a claim. binding is the canonical JSON that ties the file to the product as sold,
-- the claimed defect and the server's time (商品信息 + 问题状态 + 时间戳); binding_sha256 is its hash.
CREATE TABLE claim_evidence (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_id       BIGINT  NOT NULL REFERENCES claims (id),
    sha256         BYTEA   NOT NULL REFERENCES evidence_files (sha256),
    kind           TEXT    NOT NULL,
    file_name      TEXT    NOT NULL,
    added_by       TEXT    NOT NULL CHECK (added_by IN ('buyer', 'merchant', 'arbiter')),
    binding        TEXT    NOT NULL,
    binding_sha256 BYTEA   NOT NULL,
    created_at     BIGINT  NOT NULL
);
CREATE INDEX claim_evidence_claim_idx ON claim_evidence (claim_id, id);

-- The job that remedies claims whose merchant deadline passed.
INSERT INTO job_leases (name, owner, lease_until) VALUES ('claim_deadlines', NULL, 0);

-- Disputes (平台介入): one per escalated claim; the arbiter's ruling is written once (state open → decided).
CREATE TABLE disputes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_id   BIGINT  NOT NULL REFERENCES claims (id),
    order_id   BIGINT  NOT NULL REFERENCES orders (id),
    shop_id    BIGINT  NOT NULL REFERENCES shops (id),
    state      TEXT    NOT NULL CHECK (state IN ('open', 'decided')),
    opened_at  BIGINT  NOT NULL,
    ruling     TEXT    CHECK (ruling IN ('force_reissue', 'refund', 'reject')),
    refund_fen BIGINT,
    reason     TEXT,
    decided_by BIGINT REFERENCES users (id),
    decided_at BIGINT,
    CONSTRAINT disputes_claim_key UNIQUE (claim_id)
);
CREATE INDEX disputes_state_idx ON disputes (state, id);

-- What each side (and the arbiter) says in a dispute.
CREATE TABLE dispute_statements (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispute_id BIGINT  NOT NULL REFERENCES disputes (id),
    party      TEXT    NOT NULL CHECK (party IN ('buyer', 'merchant', 'arbiter')),
    body       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX dispute_statements_dispute_idx ON dispute_statements (dispute_id, id);

-- Shops in the compensation fund (纠纷赔付基金): their products show 赔付保障.
CREATE TABLE fund_members (
    shop_id   BIGINT NOT NULL PRIMARY KEY REFERENCES shops (id),
    joined_at BIGINT NOT NULL
);

-- The buyer is reminded once before the window to escalate a rejected claim closes.
ALTER TABLE claims ADD COLUMN escalation_reminded_at BIGINT;
INSERT INTO job_leases (name, owner, lease_until) VALUES ('dispute_reminders', NULL, 0);
