-- Each shop's trust facts (the aggregates its score is computed from: kabao_app::trust::Facts as JSON) as last
-- computed, so a page reads one row per shop instead of aggregating the shop's record on every view. The
-- trust_facts job recomputes rows older than a minute; a page uses a row only while it is fresh (see
-- kabao_app::trust::FRESH_SECONDS) and computes live otherwise. A review, a claim filed or decided, a dispute and a
-- risk event mark their shop's row stale in the same transaction (the triggers below: computed_at -1, version
-- one up), so the score shows them at once; delivered orders, and the category averages over every shop, show
-- within the freshness bound. The job computes from a snapshot and stores only if the version it read is still
-- the row's, so facts read before an event never overwrite the mark the event left.
CREATE TABLE shop_trust_facts (
    shop_id     BIGINT NOT NULL PRIMARY KEY REFERENCES shops (id),
    facts       TEXT   NOT NULL,
    computed_at BIGINT NOT NULL,
    version     BIGINT NOT NULL
);
CREATE INDEX shop_trust_facts_computed_idx ON shop_trust_facts (computed_at);

CREATE FUNCTION stale_trust_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.shop_id IS NOT NULL THEN
        INSERT INTO shop_trust_facts (shop_id, facts, computed_at, version) VALUES (NEW.shop_id, '', -1, 1)
            ON CONFLICT (shop_id) DO UPDATE SET computed_at = -1, version = shop_trust_facts.version + 1;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER reviews_stale_trust_facts AFTER INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION stale_trust_facts();
CREATE TRIGGER claims_stale_trust_facts AFTER INSERT OR UPDATE ON claims
    FOR EACH ROW EXECUTE FUNCTION stale_trust_facts();
CREATE TRIGGER disputes_stale_trust_facts AFTER INSERT OR UPDATE ON disputes
    FOR EACH ROW EXECUTE FUNCTION stale_trust_facts();
CREATE TRIGGER risk_events_stale_trust_facts AFTER INSERT OR UPDATE ON risk_events
    FOR EACH ROW EXECUTE FUNCTION stale_trust_facts();

INSERT INTO job_leases (name, owner, lease_until) VALUES ('trust_facts', NULL, 0);
