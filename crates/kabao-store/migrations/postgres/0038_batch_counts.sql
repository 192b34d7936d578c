-- Each batch's keys by state, stored on the batch (issue 22): the merchant's key page read them with three
-- COUNT(*) subqueries over card_keys per batch, a cost that grew with the batch. Kept equal to the real counts
-- by every statement that inserts keys or changes a key's state, in the same transaction, as stock_available is
-- (no trigger: the store's statements do it, see postgres/keys.rs). The CHECKs make a counting bug loud.
ALTER TABLE key_batches ADD COLUMN keys_available BIGINT NOT NULL DEFAULT 0 CHECK (keys_available >= 0);
ALTER TABLE key_batches ADD COLUMN keys_sold BIGINT NOT NULL DEFAULT 0 CHECK (keys_sold >= 0);
ALTER TABLE key_batches ADD COLUMN keys_voided BIGINT NOT NULL DEFAULT 0 CHECK (keys_voided >= 0);
-- One pass over card_keys for every batch.
UPDATE key_batches b SET keys_available = c.available, keys_sold = c.sold, keys_voided = c.voided
FROM (
    SELECT batch_id,
           COUNT(*) FILTER (WHERE state = 'available') AS available,
           COUNT(*) FILTER (WHERE state = 'sold') AS sold,
           COUNT(*) FILTER (WHERE state = 'voided') AS voided
    FROM card_keys GROUP BY batch_id
) c
WHERE b.id = c.batch_id;
