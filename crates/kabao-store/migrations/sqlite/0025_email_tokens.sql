-- Email verification and password reset (issue 21 items 1 and 2). A token is mailed as a link and stored as its
-- SHA-256 only; it names the address it was sent to, so a link for an old address never verifies a new one. A
-- token is taken once (used_at) and only before expires_at. An address counts as verified while the row in
-- email_verified names the account's current address.
CREATE TABLE email_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);
CREATE TABLE email_verified (
    user_id     INTEGER NOT NULL PRIMARY KEY REFERENCES users (id),
    email       TEXT    NOT NULL,
    verified_at BIGINT  NOT NULL
);
CREATE INDEX email_verified_email_idx ON email_verified (email);
