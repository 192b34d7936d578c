-- The merchant's claim queue pages by keyset (issue 22): waiting claims by deadline, paused ones (no deadline)
-- last, then by id. The key is an expression so one index range serves every page in that order, and the index
-- holds only waiting claims, so its size follows the queue, not the shop's history of claims.
CREATE INDEX claims_queue_idx ON claims (shop_id, (COALESCE(due_at, 9223372036854775807)), id)
    WHERE state IN ('open', 'awaiting_evidence');
