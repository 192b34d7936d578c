-- Low-stock mails owed to merchants: a row is written in the transaction of the sale or re-issue that took a
-- product's stock below its threshold (the same crossing as the stock.low webhook), so a rolled-back sale owes
-- no mail; the webhook job takes each row once (sent_at) and mails the shop's owner if the address is verified.
CREATE TABLE stock_alert_mails (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id    BIGINT NOT NULL REFERENCES shops (id),
    product_id BIGINT NOT NULL REFERENCES products (id),
    stock      BIGINT NOT NULL,
    threshold  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- When the job took it (mailed, or dropped for want of a verified address).
    sent_at    BIGINT
);
CREATE INDEX stock_alert_mails_pending_idx ON stock_alert_mails (id) WHERE sent_at IS NULL;
