-- Failed guesses (logins, order lookups, mail requests, sign-ups) are counted here rather than in each
-- instance's memory, so a throttle holds however many instances share the database. Rows older than the longest
-- rule are purged by the housekeeping job.
CREATE TABLE throttle_hits (
    id    INTEGER PRIMARY KEY,
    scope TEXT   NOT NULL,
    key   TEXT   NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX throttle_hits_key_idx ON throttle_hits (scope, key, at);
CREATE INDEX throttle_hits_at_idx ON throttle_hits (at);

-- Single-use tokens spent (sign-up proof-of-work answers): a second use on any instance is refused.
CREATE TABLE spent_tokens (
    scope      TEXT   NOT NULL,
    token      TEXT   NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, token)
);
CREATE INDEX spent_tokens_expires_idx ON spent_tokens (expires_at);
