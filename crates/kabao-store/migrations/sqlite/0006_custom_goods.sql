-- Custom goods (人工交付): the product's buyer fields (a JSON array of labels) and delivery deadline in hours;
-- the order's answers, its delivery deadline once paid, and the text the merchant delivered (sealed like a key).
ALTER TABLE products ADD COLUMN custom_fields TEXT;
ALTER TABLE products ADD COLUMN delivery_hours BIGINT;
ALTER TABLE orders ADD COLUMN custom_answers TEXT;
ALTER TABLE orders ADD COLUMN delivery_deadline BIGINT;
ALTER TABLE orders ADD COLUMN delivery_ciphertext BLOB;
ALTER TABLE orders ADD COLUMN delivery_key_version INTEGER;
CREATE INDEX orders_state_delivery_idx ON orders (state, delivery_deadline);
INSERT INTO job_leases (name, owner, lease_until) VALUES ('delivery_deadline', NULL, 0);
