-- Withdrawals to an Alipay payee are paid by the gateway's transfer API when one is configured (issue 20 item 7):
-- approving queues the transfer, and a job asks the gateway with a stable out_biz_no (W<id>) until it is done or
-- refused. The withdrawal stays 'pending' (its money held) while queued; the job's compare-and-set moves it to
-- 'approved' with the gateway's order id as payout_ref, or to 'rejected' with the gateway's reason.
ALTER TABLE withdrawals ADD COLUMN transfer_state TEXT CHECK (transfer_state IN ('queued', 'done', 'refused'));
ALTER TABLE withdrawals ADD COLUMN transfer_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE withdrawals ADD COLUMN transfer_next_at BIGINT;
ALTER TABLE withdrawals ADD COLUMN transfer_error TEXT;
CREATE INDEX withdrawals_transfer_due_idx ON withdrawals (transfer_next_at, id) WHERE transfer_state = 'queued';
INSERT INTO job_leases (name, owner, lease_until) VALUES ('withdrawal_transfers', NULL, 0);
