-- Catalog search, sorting and pictures (issue 21 item 3).
--
-- product_search holds each product's searchable document (its title's and its shop's words, lower-cased) and
-- its grams (every character and adjacent pair of each word, space-separated; kabao_core::search). The store
-- writes it in the same transaction as a product's create or edit and a shop's rename. Here the grams are indexed
-- by an FTS5 table (external content, kept in step by the triggers below): a 1- or 2-character query is one token
-- lookup, which the trigram tokenizer cannot do (it needs 3 characters).
CREATE TABLE product_search (
    product_id INTEGER PRIMARY KEY REFERENCES products (id),
    doc        TEXT    NOT NULL,
    grams      TEXT    NOT NULL
);
CREATE VIRTUAL TABLE product_search_fts USING fts5(
    grams, content = 'product_search', content_rowid = 'product_id', tokenize = 'unicode61', detail = 'none'
);
CREATE TRIGGER product_search_ai AFTER INSERT ON product_search BEGIN
    INSERT INTO product_search_fts (rowid, grams) VALUES (new.product_id, new.grams);
END;
CREATE TRIGGER product_search_ad AFTER DELETE ON product_search BEGIN
    INSERT INTO product_search_fts (product_search_fts, rowid, grams) VALUES ('delete', old.product_id, old.grams);
END;
CREATE TRIGGER product_search_au AFTER UPDATE ON product_search BEGIN
    INSERT INTO product_search_fts (product_search_fts, rowid, grams) VALUES ('delete', old.product_id, old.grams);
    INSERT INTO product_search_fts (rowid, grams) VALUES (new.product_id, new.grams);
END;

-- Units sold in paid orders, counted when an order is first paid (paid_at set), whatever path paid it.
ALTER TABLE products ADD COLUMN sales_count BIGINT NOT NULL DEFAULT 0;
UPDATE products SET sales_count = (SELECT COALESCE(SUM(o.quantity), 0) FROM orders o
    WHERE o.product_id = products.id AND o.paid_at IS NOT NULL AND o.state <> 'refunded');
CREATE TRIGGER orders_count_sales AFTER UPDATE OF paid_at ON orders
    WHEN old.paid_at IS NULL AND new.paid_at IS NOT NULL AND new.state IN ('paid', 'delivered')
BEGIN
    UPDATE products SET sales_count = sales_count + new.quantity WHERE id = new.product_id;
END;

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
    bytes      BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
-- A product's pictures in order (position 0 is the cover), at most 5 (checked by the use case).
CREATE TABLE product_pictures (
    product_id INTEGER NOT NULL REFERENCES products (id),
    position   INTEGER NOT NULL,
    media_hash TEXT    NOT NULL REFERENCES media (hash),
    PRIMARY KEY (product_id, position)
);
