-- Each batch's keys by state, stored on the batch (issue 22): the merchant's key page read them with three
-- COUNT(*) subqueries over card_keys per batch, a cost that grew with the batch. Kept equal to the real counts
-- by every statement that inserts keys or changes a key's state, in the same transaction, as stock_available is
-- (no trigger: the store's statements do it, see sqlite/keys.rs). The CHECKs make a counting bug loud.
ALTER TABLE key_batches ADD COLUMN keys_available BIGINT NOT NULL DEFAULT 0 CHECK (keys_available >= 0);
ALTER TABLE key_batches ADD COLUMN keys_sold BIGINT NOT NULL DEFAULT 0 CHECK (keys_sold >= 0);
ALTER TABLE key_batches ADD COLUMN keys_voided BIGINT NOT NULL DEFAULT 0 CHECK (keys_voided >= 0);
-- Each count is a range of the (batch_id, state) index.
UPDATE key_batches SET
    keys_available = (SELECT COUNT(*) FROM card_keys k WHERE k.batch_id = key_batches.id AND k.state = 'available'),
    keys_sold = (SELECT COUNT(*) FROM card_keys k WHERE k.batch_id = key_batches.id AND k.state = 'sold'),
    keys_voided = (SELECT COUNT(*) FROM card_keys k WHERE k.batch_id = key_batches.id AND k.state = 'voided');
