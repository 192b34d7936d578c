-- Start-up work that must happen once however many instances start together on a fresh database (the first
-- admin account, the demo marketplace) runs under this lease; the others wait for it, then find it done.
INSERT INTO job_leases (name, owner, lease_until) VALUES ('bootstrap', NULL, 0);
