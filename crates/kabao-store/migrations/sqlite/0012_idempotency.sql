-- One idempotency rule for every POST that takes an `Idempotency-Key`: a record per caller scope and key holds
-- the request's fingerprint (method, path and canonical body) and, once the request's effect commits, its
-- response (status and body, sealed under a data key because a body may carry a card key), written in the
-- same transaction as the effect. A record without a response is a request in flight: `runner` names the
-- request running it, and past `lease_until` (its runner crashed before committing anything) another request
-- with the same key may take it over. Records are kept for 48 hours (purged by the expiry job).
CREATE TABLE idempotency_records (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  BLOB    NOT NULL,
    runner       BLOB    NOT NULL,
    lease_until  BIGINT  NOT NULL,
    status       INTEGER,
    body         BLOB,
    key_version  INTEGER,
    created_at   BIGINT  NOT NULL,
    completed_at BIGINT,
    CONSTRAINT idempotency_records_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_records_created_idx ON idempotency_records (created_at);

-- Checkout's own key table and the claims' key column are replaced by the records above. The column stays
-- (kept alike in both backends: SQLite cannot drop a column under a UNIQUE constraint without a rebuild) and is no longer written.
DROP TABLE idempotency_keys;
