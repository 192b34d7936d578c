-- The buyer-abuse signals of a claim compare the buyer's claim rate with its category's over 90 days (issue 22:
-- computed live for every claim a merchant's queue lists, those platform-wide counts made the queue grow with the
-- history). A closed UTC day never changes its counts (a claim's created_at and an order's delivered_at are set
-- once), so the trust-facts job stores each closed day's per-category figures once, and a 90-day figure is the
-- sum of the stored days plus live counts over what is not stored (the window's partial first day, today, and any
-- day not filled yet). A day is in category_days_filled once its rows are in category_days (same transaction);
-- a category with nothing that day has no row.
CREATE TABLE category_days (
    category TEXT   NOT NULL,
    day      BIGINT NOT NULL,
    claims   BIGINT NOT NULL,
    items    BIGINT NOT NULL,
    PRIMARY KEY (category, day)
);
CREATE TABLE category_days_filled (
    day       BIGINT NOT NULL PRIMARY KEY,
    filled_at BIGINT NOT NULL
);
-- Filling a day and the live counts read one day's orders delivered (claims by created_at have an index).
CREATE INDEX orders_delivered_idx ON orders (delivered_at) WHERE delivered_at IS NOT NULL;
-- The buyer's claims and items: a guest is matched by email (an account by buyer_id, indexed already).
CREATE INDEX orders_guest_email_idx ON orders (guest_email, id) WHERE buyer_id IS NULL;
-- The payer accounts behind a buyer's payments: its order's and its top-ups.
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE INDEX payments_user_idx ON payments (user_id) WHERE user_id IS NOT NULL;
