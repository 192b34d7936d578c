-- Reconciliation polling of 易支付 (gateways lose notifications): a leased job of its own, and an index
-- so finding the still-pending payments of a gateway never scans the paid ones.
INSERT INTO job_leases (name, owner, lease_until) VALUES ('epay_poll', NULL, 0);
CREATE INDEX payments_state_gateway_idx ON payments (state, gateway, id);
