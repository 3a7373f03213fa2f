-- jouleprint schema, version 2: what running the service in public needs
-- (issue 15). See docs/database.md.

-- Quarantine: an operator takes one run, or every run of a token, out of the
-- measured profiles without deleting anything. Append-only: the newest event
-- of a run or a token is its state.
CREATE TABLE quarantine_events (
    id          BIGSERIAL PRIMARY KEY,
    action      TEXT NOT NULL CHECK (action IN ('quarantine', 'unquarantine')),
    run_id      UUID REFERENCES calibration_runs (run_id),
    token_id    BIGINT REFERENCES api_tokens (id),
    reason      TEXT CHECK (length(reason) <= 2000),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((run_id IS NULL) <> (token_id IS NULL))
);
CREATE INDEX quarantine_events_run ON quarantine_events (run_id, id DESC) WHERE run_id IS NOT NULL;
CREATE INDEX quarantine_events_token ON quarantine_events (token_id, id DESC) WHERE token_id IS NOT NULL;
CREATE TRIGGER quarantine_events_append_only BEFORE UPDATE OR DELETE ON quarantine_events
    FOR EACH ROW EXECUTE FUNCTION jouleprint_append_only();

CREATE INDEX calibration_runs_token ON calibration_runs (token_id);

-- A profile version is now the median over one vote per token (the newest
-- eligible run of each), with an outlier screen; it is in use only when the
-- device has enough eligible runs from enough tokens (read with the server's
-- configuration). A version made when nothing is left to vote (everything
-- quarantined) has no profile.
ALTER TABLE device_profiles
    ALTER COLUMN profile DROP NOT NULL,
    -- distinct tokens among the votes
    ADD COLUMN token_count INTEGER NOT NULL DEFAULT 0,
    -- accepted runs not quarantined, and quarantined ones
    ADD COLUMN eligible_runs INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN quarantined_runs INTEGER NOT NULL DEFAULT 0,
    -- per coefficient: scaled MAD over the median and the runs screened out
    ADD COLUMN screen JSONB NOT NULL DEFAULT '{}';
-- Versions made before: counted as they were (several runs of one token count once).
UPDATE device_profiles dp SET
    token_count = (SELECT count(DISTINCT r.token_id) FROM calibration_runs r WHERE r.run_id = ANY (dp.run_ids)),
    eligible_runs = dp.run_count;

-- Shared links: de-duplicated by the hash of the canonical scenario, with the
-- estimate computed when stored, and an optional expiry (from the last time
-- the scenario was stored).
ALTER TABLE shared_estimates
    ADD COLUMN scenario_hash BYTEA,
    ADD COLUMN estimate JSONB,
    ADD COLUMN estimator_version TEXT,
    ADD COLUMN profile_verified BOOLEAN,
    ADD COLUMN refreshed_at TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE shared_estimates SET refreshed_at = created_at;
CREATE UNIQUE INDEX shared_estimates_hash ON shared_estimates (scenario_hash);
CREATE INDEX shared_estimates_refreshed ON shared_estimates (refreshed_at);
