-- Reconciliation with the payment gateways (issue 20 item 6). A finding is something a gateway's own record
-- says that ours does not: a paid amount that differs, a payment we hold as paid that the gateway does not
-- know (or says unpaid or closed), or a payment the gateway took that only a query found (applied late,
-- kept as information for the day's report). One finding per (gateway, trade, kind): asking again, by the job
-- or by `kabao reconcile` for the same day, records nothing twice.
CREATE TABLE reconciliation_findings (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    gateway          TEXT    NOT NULL,
    trade_no         TEXT    NOT NULL,
    gateway_trade_no TEXT,
    kind             TEXT    NOT NULL CHECK (kind IN ('amount_mismatch', 'unknown_trade', 'applied_late')),
    expected_fen     BIGINT  NOT NULL,
    got_fen          BIGINT,
    -- The payment's business day in China time (UTC+8), YYYY-MM-DD.
    business_date    TEXT    NOT NULL,
    detail           TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    resolved_at      BIGINT,
    resolved_by      BIGINT REFERENCES users (id),
    note             TEXT,
    CONSTRAINT reconciliation_findings_key UNIQUE (gateway, trade_no, kind)
);
-- The admin page lists open findings newest first, by keyset on id: the open ones only, whatever the history.
CREATE INDEX reconciliation_findings_open_idx ON reconciliation_findings (id) WHERE resolved_at IS NULL;
CREATE INDEX reconciliation_findings_date_idx ON reconciliation_findings (business_date, id);

-- One job asks every gateway about its pending payments (it replaces the 易支付-only poll, whose row stays).
INSERT INTO job_leases (name, owner, lease_until) VALUES ('gateway_reconcile', NULL, 0);

-- A day's payments of one gateway, paged by (created_at, id), for `kabao reconcile --date`; and the job's
-- pending payments of the last day by gateway and time, never the paid history.
CREATE INDEX payments_gateway_created_idx ON payments (gateway, created_at, id);
CREATE INDEX payments_pending_created_idx ON payments (gateway, created_at, id) WHERE state = 'pending';
