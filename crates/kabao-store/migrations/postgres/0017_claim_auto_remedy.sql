-- A claim remedied by the platform's automatic re-issue, not by the merchant: the trust score leaves it out of the
-- shop's response time (one automatic re-issue once read as "median response 0 minutes").
ALTER TABLE claims ADD COLUMN auto_remedied BOOLEAN NOT NULL DEFAULT FALSE;
-- The category average of the response time scans every shop's claims decided in the window.
CREATE INDEX claims_decided_idx ON claims (decided_at);
