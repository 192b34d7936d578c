-- Issue 21 item 4: lists and charts whose cost follows the page or the window, not the whole history.
-- 我的订单 filtered by state, newest first, keyset on id (unfiltered it uses orders_buyer_idx).
CREATE INDEX orders_buyer_state_idx ON orders (buyer_id, state, id);
-- The merchant dashboard: a shop's sales, claims and refunds over the last 7/30/90 days.
CREATE INDEX orders_shop_paid_idx ON orders (shop_id, paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX claims_shop_created_idx ON claims (shop_id, created_at);
CREATE INDEX ledger_txs_kind_created_idx ON ledger_txs (kind, created_at);
