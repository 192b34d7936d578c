-- Warranty insurance (质保险): the premium is priced from the category's claims and paid orders over the last
-- 90 days. These indexes let both counts walk only that window. Unpaid orders have no paid_at and stay out of
-- the partial index, so creating an order (the checkout benchmark's hot write) adds no entry to it.
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX claims_created_at_idx ON claims (created_at);
