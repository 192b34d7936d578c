-- TOTP second factor (issue 21 item 1). The secret is sealed by the keyring (XChaCha20-Poly1305 under the
-- card-key data key of `key_version`, the row's user as associated data): never stored in clear. last_step is the
-- last time step accepted, so a code is taken once and never an earlier one. A pending secret waits for its
-- first code before it becomes the credential.
CREATE TABLE totp_credentials (
    user_id       INTEGER NOT NULL PRIMARY KEY REFERENCES users (id),
    key_version   INTEGER NOT NULL,
    secret_sealed BLOB    NOT NULL,
    last_step     BIGINT  NOT NULL,
    enabled_at    BIGINT  NOT NULL
);
CREATE TABLE totp_pending (
    user_id       INTEGER NOT NULL PRIMARY KEY REFERENCES users (id),
    key_version   INTEGER NOT NULL,
    secret_sealed BLOB    NOT NULL,
    created_at    BIGINT  NOT NULL
);
-- Recovery codes: 80 random bits each, stored as SHA-256 only, each taken once (used_at).
CREATE TABLE recovery_codes (
    code_hash  BLOB    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);
-- The second step of a login: a right password for an account with TOTP on gives this token (SHA-256 stored),
-- bound to the user, valid for minutes, taken once, dead after too many wrong codes.
CREATE TABLE login_challenges (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    used_at    BIGINT
);
CREATE INDEX login_challenges_user_idx ON login_challenges (user_id);
