-- Where a shop's withdrawals are paid (支付宝 or 银行卡), and what each withdrawal was agreed as at request time.
-- A payee is never edited; removing one only disables it, and a withdrawal keeps its own copy of the details.
CREATE TABLE payees (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id     BIGINT  NOT NULL REFERENCES shops (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('alipay', 'bank')),
    account     TEXT    NOT NULL,
    holder_name TEXT    NOT NULL,
    bank_name   TEXT,
    created_at  BIGINT  NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX payees_shop_idx ON payees (shop_id, id);

-- The payee as it was when the withdrawal was requested (NULL on requests from before payees existed).
ALTER TABLE withdrawals ADD COLUMN payee_id BIGINT REFERENCES payees (id);
ALTER TABLE withdrawals ADD COLUMN payee_kind TEXT;
ALTER TABLE withdrawals ADD COLUMN payee_account TEXT;
ALTER TABLE withdrawals ADD COLUMN payee_name TEXT;
ALTER TABLE withdrawals ADD COLUMN payee_bank TEXT;
-- The fee agreed at request time; the payee receives amount_fen - fee_fen.
ALTER TABLE withdrawals ADD COLUMN fee_fen BIGINT NOT NULL DEFAULT 0 CHECK (fee_fen >= 0);
-- The ledger transaction that moved the amount into the shop's withdrawal_pending account. NULL on requests from
-- before this migration: those still hold nothing and are decided the old way.
ALTER TABLE withdrawals ADD COLUMN hold_tx_id BIGINT REFERENCES ledger_txs (id);
-- The payment's reference at Alipay or the bank, recorded when the platform pays; one transfer pays one request.
ALTER TABLE withdrawals ADD COLUMN payout_ref TEXT;
CREATE UNIQUE INDEX withdrawals_payout_ref_key ON withdrawals (payout_ref);
