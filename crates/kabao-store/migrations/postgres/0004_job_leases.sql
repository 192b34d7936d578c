-- Background jobs as rows with leases: the instance holding a job's lease runs it; a lease that is not
-- renewed expires, so a crashed instance's job is taken over.
CREATE TABLE job_leases (
    name        TEXT   NOT NULL PRIMARY KEY,
    owner       TEXT,
    lease_until BIGINT NOT NULL,
    last_run_at BIGINT
);
INSERT INTO job_leases (name, owner, lease_until) VALUES ('settle', NULL, 0), ('expire', NULL, 0);
