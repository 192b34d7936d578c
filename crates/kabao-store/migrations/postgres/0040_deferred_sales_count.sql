-- A product's sales count moves at commit (issue 22). The trigger of 0026 updated the product row when an order
-- was first paid, in the middle of the payment's transaction, and a row lock is held until the transaction ends:
-- every payment of a product then queued behind the whole rest of the payment before it on that one row. As a
-- deferred constraint trigger it runs when the paying transaction commits (same condition, same count; a
-- rolled-back payment counts nothing, as before), so the row is held for the commit alone. The stock counter
-- moves at commit too (the store's `count_sold`), just before it.
DROP TRIGGER orders_count_sales ON orders;
CREATE CONSTRAINT TRIGGER orders_count_sales AFTER UPDATE OF paid_at ON orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.paid_at IS NULL AND NEW.paid_at IS NOT NULL AND NEW.state IN ('paid', 'delivered'))
    EXECUTE FUNCTION orders_count_sales();
