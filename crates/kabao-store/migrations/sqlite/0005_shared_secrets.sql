-- Shared secrets (循环卡密): one encrypted secret per product, delivered to every buyer; the product's stock
-- counter is set by the merchant and lowered per sale.
ALTER TABLE products ADD COLUMN shared_secret BLOB;
ALTER TABLE products ADD COLUMN shared_key_version INTEGER;
