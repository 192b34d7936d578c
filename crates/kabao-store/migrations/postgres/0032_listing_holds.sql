-- Listings held for review by the risk scanner (issue 23 item 4): the rule ids (a JSON array) a product or a
-- shop is held under, NULL when it is not held. A held product is unlisted until an admin dismisses its shop's
-- risk events (then it is listed again) or its merchant saves texts the scanner passes; a held shop keeps its
-- products out of the catalog and its page marked under review, its existing orders untouched.
ALTER TABLE products ADD COLUMN held_rules TEXT;
ALTER TABLE shops ADD COLUMN held_rules TEXT;
