-- Indexes for lists and checks whose cost grew with a shop's history (issue 22): each now reads the rows it
-- returns, not the shop's whole record.
-- "Has this buyer ordered from this shop" (the first-order check at checkout, the product page's trial hints):
-- was a walk over the shop's orders filtering the buyer.
CREATE INDEX orders_buyer_shop_idx ON orders (buyer_id, shop_id, id);
-- The merchant's claim queue, newest first: was a sort of every claim of the shop.
CREATE INDEX claims_shop_id_idx ON claims (shop_id, id);
-- A product's keys in key order without a state filter: was a sort of every key of the product.
CREATE INDEX card_keys_product_id_idx ON card_keys (product_id, id);
-- The trust facts job: a shop's decided claims and disputes and delivered orders in the 90-day window.
CREATE INDEX claims_shop_decided_idx ON claims (shop_id, decided_at);
CREATE INDEX disputes_shop_decided_idx ON disputes (shop_id, decided_at);
CREATE INDEX orders_shop_delivered_idx ON orders (shop_id, delivered_at) WHERE delivered_at IS NOT NULL;
