-- Warranty insurance (质保险): the premium is priced from the category's claims and paid orders over the last
-- 90 days. These indexes let both counts walk only that window. Unpaid orders have no paid_at and stay out of
-- the partial index, so creating an order (the checkout benchmark's hot write) adds no entry to it.
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX claims_created_at_idx ON claims (created_at);

-- One cover per insured order, written with the order at checkout: the premium the buyer accepted (paid into
-- the insurance pool with the order), and for an extended warranty (延保) the end of the platform's window.
CREATE TABLE insurance_covers (
    order_id          BIGINT  PRIMARY KEY REFERENCES orders (id),
    kind              TEXT    NOT NULL CHECK (kind IN ('cover', 'extension')),
    premium_fen       BIGINT  NOT NULL CHECK (premium_fen > 0),
    extended_until    BIGINT,
    created_at        BIGINT  NOT NULL
);
