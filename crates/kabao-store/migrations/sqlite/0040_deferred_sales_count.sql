-- PostgreSQL's 0040 makes the sales-count trigger run at commit, so concurrent payments do not queue on the
-- product row. SQLite has one writer at a time and no row locks: its trigger stays as it is.
SELECT 1;
