-- The commerce spine: orders and their keys, reveals, the double-entry ledger, the per-order event chain,
-- idempotency keys, payments and gateway notifications. Times are Unix milliseconds.

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    order_no          TEXT    NOT NULL,
    buyer_id          INTEGER REFERENCES users (id),
    guest_email       TEXT,
    guest_query_hash  BLOB,
    shop_id           INTEGER NOT NULL REFERENCES shops (id),
    product_id        INTEGER NOT NULL REFERENCES products (id),
    quantity          BIGINT  NOT NULL CHECK (quantity > 0),
    unit_price_fen    BIGINT  NOT NULL,
    amount_fen        BIGINT  NOT NULL CHECK (amount_fen > 0),
    state             TEXT    NOT NULL CHECK (state IN ('pending_payment', 'paid', 'delivered', 'settled', 'expired', 'refunded')),
    warranty_snapshot TEXT    NOT NULL,
    warranty_sha256   BLOB    NOT NULL,
    warranty_ack      BOOLEAN NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    paid_at           BIGINT,
    delivered_at      BIGINT,
    settle_after      BIGINT,
    settled_at        BIGINT,
    CONSTRAINT orders_order_no_key UNIQUE (order_no)
);
CREATE INDEX orders_state_settle_idx ON orders (state, settle_after);
CREATE INDEX orders_state_expires_idx ON orders (state, expires_at);
CREATE INDEX orders_buyer_idx ON orders (buyer_id, id);
CREATE INDEX orders_shop_idx ON orders (shop_id, id);

CREATE TABLE order_keys (
    order_id          INTEGER NOT NULL REFERENCES orders (id),
    seq               INTEGER NOT NULL,
    card_key_id       INTEGER NOT NULL REFERENCES card_keys (id),
    first_revealed_at BIGINT,
    PRIMARY KEY (order_id, seq),
    -- The schema's own guarantee that a key is delivered at most once, whatever the code does.
    CONSTRAINT order_keys_card_key_key UNIQUE (card_key_id)
);

CREATE TABLE key_reveals (
    id       INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    user_id  INTEGER REFERENCES users (id),
    at       BIGINT  NOT NULL
);
CREATE INDEX key_reveals_order_idx ON key_reveals (order_id, id);

CREATE TABLE ledger_txs (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    order_id   INTEGER REFERENCES orders (id),
    created_at BIGINT  NOT NULL
);
CREATE INDEX ledger_txs_order_idx ON ledger_txs (order_id);

CREATE TABLE ledger_entries (
    id         INTEGER PRIMARY KEY,
    tx_id      INTEGER NOT NULL REFERENCES ledger_txs (id),
    account    TEXT    NOT NULL,
    amount_fen BIGINT  NOT NULL
);
CREATE INDEX ledger_entries_tx_idx ON ledger_entries (tx_id);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account, id);

CREATE TABLE account_balances (
    account     TEXT   NOT NULL PRIMARY KEY,
    balance_fen BIGINT NOT NULL
);

CREATE TABLE order_events (
    order_id  INTEGER NOT NULL REFERENCES orders (id),
    seq       BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    at_ms     BIGINT  NOT NULL,
    body      TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL,
    CONSTRAINT order_events_pkey PRIMARY KEY (order_id, seq)
);

CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    created_at   BIGINT  NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key)
);

CREATE TABLE payments (
    id               INTEGER PRIMARY KEY,
    gateway          TEXT    NOT NULL,
    trade_no         TEXT    NOT NULL,
    purpose_kind     TEXT    NOT NULL CHECK (purpose_kind IN ('order', 'top_up')),
    order_id         INTEGER REFERENCES orders (id),
    user_id          INTEGER REFERENCES users (id),
    amount_fen       BIGINT  NOT NULL CHECK (amount_fen > 0),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'paid')),
    gateway_trade_no TEXT,
    created_at       BIGINT  NOT NULL,
    paid_at          BIGINT,
    CONSTRAINT payments_trade_no_key UNIQUE (trade_no)
);

CREATE TABLE gateway_notifications (
    gateway         TEXT   NOT NULL,
    notification_id TEXT   NOT NULL,
    at              BIGINT NOT NULL,
    CONSTRAINT gateway_notifications_pkey PRIMARY KEY (gateway, notification_id)
);
