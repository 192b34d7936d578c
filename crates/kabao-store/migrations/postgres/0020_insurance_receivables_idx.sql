-- The insurance pool's cash is its balance less what shops owe it. Summing the shops' receivables reads this
-- partial index (one row per shop that owes the pool), not every account of the ledger (one per order).
CREATE INDEX account_balances_insurance_receivable_idx ON account_balances (account)
    WHERE account LIKE 'insurance_receivable:%';
