-- Security events the admin sees: things that changed nothing but show someone probing the platform, e.g. a
-- signed gateway notification reusing a trade number already applied to another payment. Kept, never edited.
CREATE TABLE security_events (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    order_id    BIGINT REFERENCES orders (id),
    detail      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX security_events_created_idx ON security_events (created_at, id);
