-- Variants (面值), wholesale tiers (批发价) and coupons (优惠券), issue 21.
-- A variant is a product row with `variant_of` naming its parent (the listing: title, description, pictures) and a
-- `variant_label` (10元, 月卡 ...); keys, stock, price, warranty policy, orders and claims stay per product row, so
-- every order/key/claim path works on a variant unchanged. Catalog listings show parents only (variant_of IS NULL).
ALTER TABLE products ADD COLUMN variant_of BIGINT  REFERENCES products (id);
ALTER TABLE products ADD COLUMN variant_label TEXT;
CREATE INDEX products_variant_of_idx ON products (variant_of) WHERE variant_of IS NOT NULL;

-- Price per unit from a quantity threshold on (≥ min_quantity). Thresholds increase while prices decrease
-- (checked by kabao-core before they are written); the product's own price applies below the first threshold.
CREATE TABLE product_tiers (
    product_id      BIGINT  NOT NULL REFERENCES products (id),
    min_quantity    BIGINT  NOT NULL CHECK (min_quantity > 1),
    unit_price_fen  BIGINT  NOT NULL CHECK (unit_price_fen > 0),
    PRIMARY KEY (product_id, min_quantity)
);

-- A merchant's coupon. `code_key` is the code folded to lower case: unique per shop, case-insensitive.
-- `used` counts live uses (orders not expired or cancelled); the conditional update `used < usage_limit` is the
-- one place a use is taken, so a coupon is used up exactly at its limit under any concurrency.
CREATE TABLE coupons (
    id               BIGSERIAL PRIMARY KEY,
    shop_id          BIGINT  NOT NULL REFERENCES shops (id),
    code             TEXT    NOT NULL,
    code_key         TEXT    NOT NULL,
    amount_off_fen   BIGINT  CHECK (amount_off_fen > 0),
    percent_off      BIGINT  CHECK (percent_off BETWEEN 1 AND 100),
    product_id       BIGINT  REFERENCES products (id),
    min_order_fen    BIGINT  CHECK (min_order_fen > 0),
    usage_limit      BIGINT  NOT NULL CHECK (usage_limit > 0),
    per_buyer_limit  BIGINT  CHECK (per_buyer_limit > 0),
    expires_at       BIGINT  NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    used             BIGINT  NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= usage_limit),
    created_at       BIGINT  NOT NULL,
    CHECK ((amount_off_fen IS NULL) <> (percent_off IS NULL)),
    CONSTRAINT coupons_code_key UNIQUE (shop_id, code_key)
);

-- One row per order that took a coupon use; `released_at` when the order expired unpaid or was cancelled and the
-- use went back. `buyer_key` names the buyer for the per-buyer limit ("user:<id>" or "guest:<email>").
CREATE TABLE coupon_uses (
    order_id     BIGINT  NOT NULL PRIMARY KEY REFERENCES orders (id),
    coupon_id    BIGINT  NOT NULL REFERENCES coupons (id),
    buyer_key    TEXT    NOT NULL,
    used_at      BIGINT  NOT NULL,
    released_at  BIGINT
);
CREATE INDEX coupon_uses_buyer_idx ON coupon_uses (coupon_id, buyer_key);

-- How an order's price was made (NULL on orders from before): the list price, the (wholesale) unit price applied,
-- the amount before the coupon, and the coupon with its discount. orders.amount_fen stays what the buyer pays (after
-- the discount) and orders.unit_price_fen what one item refunds (amount / quantity rounded down, so item refunds
-- never add up to more than was paid).
ALTER TABLE orders ADD COLUMN list_unit_price_fen BIGINT;
ALTER TABLE orders ADD COLUMN tier_unit_price_fen BIGINT;
ALTER TABLE orders ADD COLUMN amount_before_fen BIGINT;
ALTER TABLE orders ADD COLUMN coupon_id BIGINT REFERENCES coupons (id);
ALTER TABLE orders ADD COLUMN coupon_code TEXT;
ALTER TABLE orders ADD COLUMN discount_fen BIGINT;
