-- Trust and risk: reviews, certification applications, order chat, risk events, and the identities behind
-- buyer-abuse signals (device cookie, payer account).

-- Reviews (评价): one per delivered order, from its registered buyer. category is the product's category when
-- reviewed, so category averages (行业均值) need no join. reissue is the review's verdict on re-issue (补单):
-- +1 a positive re-issue tag, -1 a negative tag or a complaint found in the text, 0 nothing said.
CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    order_id   BIGINT  NOT NULL REFERENCES orders (id),
    shop_id    BIGINT  NOT NULL REFERENCES shops (id),
    product_id BIGINT  NOT NULL REFERENCES products (id),
    buyer_id   BIGINT  NOT NULL REFERENCES users (id),
    category   TEXT    NOT NULL,
    described  INTEGER NOT NULL CHECK (described BETWEEN 1 AND 5),
    service    INTEGER NOT NULL CHECK (service BETWEEN 1 AND 5),
    delivery   INTEGER NOT NULL CHECK (delivery BETWEEN 1 AND 5),
    tags       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    reissue    INTEGER NOT NULL CHECK (reissue BETWEEN -1 AND 1),
    reply      TEXT,
    replied_at BIGINT,
    created_at BIGINT  NOT NULL,
    CONSTRAINT reviews_order_key UNIQUE (order_id)
);
CREATE INDEX reviews_shop_idx ON reviews (shop_id, created_at);
CREATE INDEX reviews_product_idx ON reviews (product_id, created_at);
CREATE INDEX reviews_category_idx ON reviews (category, created_at);

-- A merchant's application for a certification level; an admin approves or rejects it with a reason.
-- details is JSON (names, contact). The id number (身份证号 or 统一社会信用代码) is never stored in the clear: only
-- masked, and as a keyed fingerprint, so an admin sees when one person or company stands behind several shops.
CREATE TABLE certification_applications (
    id             INTEGER PRIMARY KEY,
    shop_id        BIGINT  NOT NULL REFERENCES shops (id),
    level          TEXT    NOT NULL CHECK (level IN ('verified', 'enterprise')),
    details        TEXT    NOT NULL,
    id_masked      TEXT    NOT NULL,
    id_fingerprint BLOB    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    reason      TEXT,
    decided_by  BIGINT REFERENCES users (id),
    decided_at  BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX certification_applications_pending_key ON certification_applications (shop_id) WHERE state = 'pending';
CREATE INDEX certification_applications_state_idx ON certification_applications (state, id);
CREATE INDEX certification_applications_fingerprint_idx ON certification_applications (id_fingerprint);

-- Order chat (订单沟通) between buyer, merchant and, in disputes, the arbiter. hits is the risk scanner's verdict
-- (JSON array of {rule, category, span}), kept with the message so what a buyer was warned about is evidence.
CREATE TABLE order_messages (
    id          INTEGER PRIMARY KEY,
    order_id    BIGINT  NOT NULL REFERENCES orders (id),
    sender      TEXT    NOT NULL CHECK (sender IN ('buyer', 'merchant', 'arbiter')),
    sender_id   BIGINT REFERENCES users (id),
    body        TEXT    NOT NULL,
    hits        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX order_messages_order_idx ON order_messages (order_id, id);

-- Risk events: a risky chat message (and later other signals) charged to its sender. shop_id is set when the
-- sender spoke for a shop. An admin reviews open events (confirm or dismiss).
CREATE TABLE risk_events (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    shop_id     BIGINT REFERENCES shops (id),
    user_id     BIGINT REFERENCES users (id),
    order_id    BIGINT REFERENCES orders (id),
    message_id  BIGINT REFERENCES order_messages (id),
    rules       TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('open', 'confirmed', 'dismissed')),
    review_note TEXT,
    reviewed_by BIGINT REFERENCES users (id),
    reviewed_at BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX risk_events_shop_idx ON risk_events (shop_id, state, created_at);
CREATE INDEX risk_events_state_idx ON risk_events (state, id);

-- Identities behind buyer-abuse signals: the browser's device cookie when the order was placed, and the payer
-- account a gateway reported (when it reports one). The indexes hold only rows that have one, so the checkout
-- path (API orders without a device id) pays nothing for them.
ALTER TABLE orders ADD COLUMN device_id TEXT;
CREATE INDEX orders_device_idx ON orders (device_id) WHERE device_id IS NOT NULL;
ALTER TABLE payments ADD COLUMN payer_ref TEXT;
CREATE INDEX payments_payer_idx ON payments (payer_ref) WHERE payer_ref IS NOT NULL;

-- The job that grants and withdraws 金牌卖家 from the record.
INSERT INTO job_leases (name, owner, lease_until) VALUES ('certification_gold', NULL, 0);

-- A trial item (体验卡) is bought once per buyer per shop: a live trial order carries "shop:buyer" here, and the
-- partial UNIQUE index makes a second live one impossible however requests race (an expired or refunded order
-- no longer counts).
ALTER TABLE orders ADD COLUMN trial_key TEXT;
CREATE UNIQUE INDEX orders_trial_key ON orders (trial_key)
    WHERE trial_key IS NOT NULL AND state IN ('pending_payment', 'paid', 'delivered', 'settled');
