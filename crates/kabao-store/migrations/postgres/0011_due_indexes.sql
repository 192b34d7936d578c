-- The background jobs each look for orders in one state (pending_payment → expiry, paid → delivery deadline,
-- delivered → settlement). Partial indexes hold only those orders, so an order sits in at most one of them:
-- creating an order writes one of these index entries instead of three, and a state change moves at most two
-- instead of six (the checkout benchmark's single writer spends its time on exactly such page writes).
DROP INDEX orders_state_settle_idx;
DROP INDEX orders_state_expires_idx;
DROP INDEX orders_state_delivery_idx;
CREATE INDEX orders_settle_due_idx ON orders (settle_after, id) WHERE state = 'delivered';
CREATE INDEX orders_expiry_due_idx ON orders (expires_at, id) WHERE state = 'pending_payment';
CREATE INDEX orders_delivery_due_idx ON orders (delivery_deadline, id) WHERE state = 'paid';
