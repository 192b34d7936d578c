-- Warranty policies (补单规则): every edit of a product's rules is a new immutable version; the product points
-- at its current one (NULL: 无质保). Orders keep the snapshot they were sold under, with its SHA-256.
CREATE TABLE warranty_policies (
    id         INTEGER PRIMARY KEY,
    product_id BIGINT  NOT NULL REFERENCES products (id),
    version    INTEGER NOT NULL,
    policy     TEXT    NOT NULL,
    sha256     BLOB   NOT NULL,
    created_at BIGINT  NOT NULL,
    CONSTRAINT warranty_policies_version_key UNIQUE (product_id, version)
);
ALTER TABLE products ADD COLUMN warranty_policy_id BIGINT REFERENCES warranty_policies (id);
