-- Foundation: accounts, sessions, API tokens, shops, products and card-key inventory.
-- Same file name and same tables/columns as migrations/sqlite (a test compares them).
-- Timestamps are Unix milliseconds. Constraint names are what the store maps to `StoreError::Conflict`.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL,
    email         TEXT,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE sessions (
    token_hash BYTEA  NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    name       TEXT   NOT NULL,
    prefix     TEXT   NOT NULL,
    token_hash BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, id);

CREATE TABLE shops (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id         BIGINT  NOT NULL REFERENCES users (id),
    name             TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    opened_at        BIGINT  NOT NULL,
    certification    TEXT    NOT NULL DEFAULT 'none',
    suspended        BOOLEAN NOT NULL DEFAULT FALSE,
    suspended_reason TEXT,
    CONSTRAINT shops_owner_key UNIQUE (owner_id),
    CONSTRAINT shops_name_key UNIQUE (name)
);

CREATE TABLE products (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id         BIGINT  NOT NULL REFERENCES shops (id),
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    price_fen       BIGINT  NOT NULL,
    max_per_order   BIGINT  NOT NULL,
    trial           BOOLEAN NOT NULL,
    listed          BOOLEAN NOT NULL,
    -- Kept equal to the number of `available` keys by every statement that changes a key's state.
    stock_available BIGINT  NOT NULL DEFAULT 0 CHECK (stock_available >= 0),
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX products_listed_idx ON products (listed, id);
CREATE INDEX products_shop_id_idx ON products (shop_id, id);

CREATE TABLE key_batches (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id    BIGINT NOT NULL REFERENCES shops (id),
    product_id BIGINT NOT NULL REFERENCES products (id),
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    source     TEXT   NOT NULL,
    voided_at  BIGINT
);
CREATE INDEX key_batches_product_id_idx ON key_batches (product_id, id);

CREATE TABLE card_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id     BIGINT  NOT NULL REFERENCES shops (id),
    product_id  BIGINT  NOT NULL REFERENCES products (id),
    batch_id    BIGINT  NOT NULL REFERENCES key_batches (id),
    fingerprint BYTEA   NOT NULL,
    ciphertext  BYTEA   NOT NULL,
    key_version INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('available', 'sold', 'voided')),
    created_at  BIGINT  NOT NULL,
    -- The backstop against importing one key twice into a shop, whatever the key's state.
    CONSTRAINT card_keys_fingerprint_key UNIQUE (shop_id, fingerprint)
);
CREATE INDEX card_keys_product_state_idx ON card_keys (product_id, state, id);
CREATE INDEX card_keys_batch_state_idx ON card_keys (batch_id, state);

CREATE TABLE data_keys (
    purpose    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    wrapped    BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    CONSTRAINT data_keys_pkey PRIMARY KEY (purpose, version)
);
