-- Catalog search, sorting and pictures (issue 21 item 3).
--
-- product_search holds each product's searchable document (its title's and its shop's words, lower-cased) and
-- its grams (every character and adjacent pair of each word; kabao_core::search). The store writes it in the
-- same transaction as a product's create or edit and a shop's rename.
-- Queries of 3 or more characters use pg_trgm (doc LIKE '%…%' through a trigram GIN index; under the database's
-- C.UTF-8 ctype pg_trgm keeps CJK characters as word characters). pg_trgm extracts no trigram from a 1- or
-- 2-character pattern, so such a LIKE would read the whole index: those queries use the grams array instead
-- (grams @> ARRAY['点卡'], an exact GIN lookup). The conformance suite checks both plans use their index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE product_search (
    product_id BIGINT NOT NULL PRIMARY KEY REFERENCES products (id),
    doc        TEXT   NOT NULL,
    grams      TEXT[] NOT NULL
);
CREATE INDEX product_search_doc_trgm_idx ON product_search USING GIN (doc gin_trgm_ops);
CREATE INDEX product_search_grams_idx ON product_search USING GIN (grams);

-- Units sold in paid orders, counted when an order is first paid (paid_at set), whatever path paid it.
ALTER TABLE products ADD COLUMN sales_count BIGINT NOT NULL DEFAULT 0;
UPDATE products SET sales_count = (SELECT COALESCE(SUM(o.quantity), 0) FROM orders o
    WHERE o.product_id = products.id AND o.paid_at IS NOT NULL AND o.state <> 'refunded');
CREATE FUNCTION orders_count_sales() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE products SET sales_count = sales_count + NEW.quantity WHERE id = NEW.product_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER orders_count_sales AFTER UPDATE OF paid_at ON orders FOR EACH ROW
    WHEN (OLD.paid_at IS NULL AND NEW.paid_at IS NOT NULL AND NEW.state IN ('paid', 'delivered'))
    EXECUTE FUNCTION orders_count_sales();

-- The shop's trust score (0–100) as last computed by the trust job, so a listing sorts by it without computing
-- trust per row. Pages still show the score computed now.
ALTER TABLE shops ADD COLUMN trust_score INTEGER NOT NULL DEFAULT 0;

-- Keyset pagination: one index per sort over the listed products (the shop's standing is checked by join).
CREATE INDEX products_listed_price_idx ON products (listed, price_fen, id);
CREATE INDEX products_listed_sales_idx ON products (listed, sales_count, id);
CREATE INDEX products_listed_category_idx ON products (listed, category, id);

-- Pictures, stored by the SHA-256 of their re-encoded bytes, in the database so every instance serves them.
CREATE TABLE media (
    hash       TEXT    NOT NULL PRIMARY KEY,
    mime       TEXT    NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    bytes      BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);
-- A product's pictures in order (position 0 is the cover), at most 5 (checked by the use case).
CREATE TABLE product_pictures (
    product_id BIGINT  NOT NULL REFERENCES products (id),
    position   INTEGER NOT NULL,
    media_hash TEXT    NOT NULL REFERENCES media (hash),
    PRIMARY KEY (product_id, position)
);
