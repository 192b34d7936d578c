-- Merchant webhooks: a shop's endpoints (each with its own secret, sealed by the keyring) and the deliveries
-- owed to them. A delivery is a row from the moment its event happens (written in the event's transaction) until
-- it is delivered or has failed every attempt, so nothing is kept in memory and a restart loses nothing.
CREATE TABLE webhook_endpoints (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id        BIGINT  NOT NULL REFERENCES shops (id),
    url            TEXT    NOT NULL,
    -- The event kinds subscribed to, comma-separated (e.g. 'claim.opened,order.paid').
    events         TEXT    NOT NULL,
    -- The signing secret, sealed with the keyring (associated data: the shop and the URL).
    secret_sealed  BYTEA   NOT NULL,
    secret_version INTEGER NOT NULL,
    created_at     BIGINT  NOT NULL,
    disabled_at    BIGINT
);
CREATE INDEX webhook_endpoints_shop_idx ON webhook_endpoints (shop_id, id);

CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     BIGINT  NOT NULL REFERENCES webhook_endpoints (id),
    shop_id         BIGINT  NOT NULL REFERENCES shops (id),
    -- The event's id (Kabao-Event-Id); one delivery per endpoint and event.
    event_id        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    -- What the event is about when it must be re-checked at send time (the claim of claim.deadline_soon).
    subject         TEXT,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    -- The instance sending it now; another instance does not take it before lease_until.
    lease_owner     TEXT,
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_status     INTEGER,
    last_response   TEXT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    CONSTRAINT webhook_deliveries_event_key UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);

-- A product's stock.low threshold when the merchant set one (else the platform default).
CREATE TABLE stock_alert_thresholds (
    product_id BIGINT NOT NULL PRIMARY KEY REFERENCES products (id),
    threshold  BIGINT NOT NULL CHECK (threshold >= 0)
);

-- claim.deadline_soon was considered for this claim and deadline (a deadline restarted later is a new one).
CREATE TABLE webhook_deadline_notices (
    claim_id BIGINT NOT NULL REFERENCES claims (id),
    due_at   BIGINT NOT NULL,
    PRIMARY KEY (claim_id, due_at)
);

INSERT INTO job_leases (name, owner, lease_until) VALUES ('webhooks', NULL, 0);
