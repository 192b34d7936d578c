-- Listing sort keys that a page can walk in an index instead of sorting every match (issue 21 item 3, issue 22).
--
-- listing_price_fen: what a listing costs from, the price sort's key. For a listing with variants it is the lowest
-- price among its listed variants (the parent's own price is never paid: checkout takes a variant); otherwise the
-- product's own price. Kept in step by the triggers below whenever a price, a listed flag or a variant link
-- changes, whatever path changed it.
ALTER TABLE products ADD COLUMN listing_price_fen BIGINT NOT NULL DEFAULT 0;
UPDATE products SET listing_price_fen = COALESCE(
    (SELECT MIN(v.price_fen) FROM products v WHERE v.variant_of = products.id AND v.listed), price_fen);
CREATE TRIGGER products_listing_price_ai AFTER INSERT ON products BEGIN
    UPDATE products SET listing_price_fen = COALESCE(
        (SELECT MIN(v.price_fen) FROM products v WHERE v.variant_of = products.id AND v.listed), price_fen)
    WHERE id IN (new.id, new.variant_of);
END;
CREATE TRIGGER products_listing_price_au AFTER UPDATE OF price_fen, listed, variant_of ON products BEGIN
    UPDATE products SET listing_price_fen = COALESCE(
        (SELECT MIN(v.price_fen) FROM products v WHERE v.variant_of = products.id AND v.listed), price_fen)
    WHERE id IN (new.id, new.variant_of, old.variant_of);
END;

-- shop_trust_score: the shop's stored trust score (shops.trust_score) copied onto each of its products, the trust
-- sort's key, so that sort walks one index instead of joining and sorting every shop's products.
ALTER TABLE products ADD COLUMN shop_trust_score INTEGER NOT NULL DEFAULT 0;
UPDATE products SET shop_trust_score = (SELECT sh.trust_score FROM shops sh WHERE sh.id = products.shop_id);
CREATE TRIGGER products_shop_trust_ai AFTER INSERT ON products BEGIN
    UPDATE products SET shop_trust_score = (SELECT sh.trust_score FROM shops sh WHERE sh.id = new.shop_id)
    WHERE id = new.id;
END;
CREATE TRIGGER shops_trust_score_au AFTER UPDATE OF trust_score ON shops
    WHEN old.trust_score <> new.trust_score
BEGIN
    UPDATE products SET shop_trust_score = new.trust_score WHERE shop_id = new.id;
END;

-- Keyset pagination over listings only (variants are never listed on their own): one index per sort.
DROP INDEX products_listed_price_idx;
DROP INDEX products_listed_sales_idx;
CREATE INDEX products_listing_price_idx ON products (listed, listing_price_fen, id) WHERE variant_of IS NULL;
CREATE INDEX products_listing_sales_idx ON products (listed, sales_count, id) WHERE variant_of IS NULL;
CREATE INDEX products_listing_trust_idx ON products (listed, shop_trust_score, id) WHERE variant_of IS NULL;
