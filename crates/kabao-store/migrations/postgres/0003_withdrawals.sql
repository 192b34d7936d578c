-- Merchants' withdrawal requests; money leaves the ledger only when an admin approves one.
CREATE TABLE withdrawals (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id      BIGINT  NOT NULL REFERENCES shops (id),
    amount_fen   BIGINT  NOT NULL CHECK (amount_fen > 0),
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    requested_at BIGINT  NOT NULL,
    decided_at   BIGINT,
    decided_by   BIGINT  REFERENCES users (id),
    note         TEXT
);
CREATE INDEX withdrawals_state_idx ON withdrawals (state, id);
CREATE INDEX withdrawals_shop_idx ON withdrawals (shop_id, id);
