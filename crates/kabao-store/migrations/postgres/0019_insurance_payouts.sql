-- Warranty insurance payouts (质保险赔付): one per claim (so a claim is paid exactly once), written when the cover
-- takes the claim over. A payout the pool cannot cover yet waits here as 'pending' (the buyer sees it queued);
-- the payment moves it pending → paid by compare-and-set inside the payment's own transaction. 'cancelled': the
-- claim was remedied by other means while the payout waited.
CREATE TABLE insurance_payouts (
    id          BIGSERIAL PRIMARY KEY,
    claim_id    BIGINT  NOT NULL REFERENCES claims (id),
    order_id    BIGINT  NOT NULL REFERENCES orders (id),
    shop_id     BIGINT  NOT NULL REFERENCES shops (id),
    amount_fen  BIGINT  NOT NULL CHECK (amount_fen > 0),
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'paid', 'cancelled')),
    created_at  BIGINT  NOT NULL,
    decided_at  BIGINT,
    CONSTRAINT insurance_payouts_claim_key UNIQUE (claim_id)
);
CREATE INDEX insurance_payouts_state_idx ON insurance_payouts (state, id);
CREATE INDEX insurance_payouts_order_idx ON insurance_payouts (order_id);

-- The payout job's lease (one instance pays at a time).
INSERT INTO job_leases (name, owner, lease_until) VALUES ('insurance_payouts', NULL, 0);
