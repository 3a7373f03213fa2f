-- jouleprint schema, version 3: measured runs of users' own jobs and the
-- estimator's error on each (issue 16). See docs/database.md.

-- One row per submitted run (`POST /api/runs`, `jouleprint measure --submit`):
-- a workload and what was measured per step in the marked window. Append-only.
-- Never the command line: `name` is the user's choice.
CREATE TABLE measured_runs (
    id                BIGSERIAL PRIMARY KEY,
    run_id            UUID NOT NULL UNIQUE,
    device_id         TEXT NOT NULL REFERENCES devices (id),
    token_id          BIGINT REFERENCES api_tokens (id),
    name              TEXT NOT NULL,
    nvml_name         TEXT NOT NULL,
    -- The case's software class and phase, for the accuracy table's groups.
    software          TEXT NOT NULL,
    phase             TEXT NOT NULL,
    precision         TEXT NOT NULL,
    joules_per_step   DOUBLE PRECISION NOT NULL CHECK (joules_per_step > 0),
    seconds_per_step  DOUBLE PRECISION NOT NULL CHECK (seconds_per_step > 0),
    steps             BIGINT NOT NULL CHECK (steps > 0),
    window_s          DOUBLE PRECISION NOT NULL CHECK (window_s > 0),
    status            TEXT NOT NULL CHECK (status IN ('accepted', 'flagged')),
    flags             TEXT[] NOT NULL DEFAULT '{}',
    -- The run as submitted (typed, `shared::api::RunSubmission`): the
    -- validation case, steps, window and environment (driver, CUDA, framework
    -- versions: shown to the submitting token only).
    record            JSONB NOT NULL,
    measured_at       TIMESTAMPTZ,
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX measured_runs_device ON measured_runs (device_id, id DESC);
CREATE INDEX measured_runs_token ON measured_runs (token_id);
CREATE TRIGGER measured_runs_append_only BEFORE UPDATE OR DELETE ON measured_runs
    FOR EACH ROW EXECUTE FUNCTION jouleprint_append_only();

-- The estimator's error on a run, one row per estimator version: computed when
-- the run is stored, and again (a new row, never an update) the first time a
-- run is read by a server whose estimator version has none yet. A version that
-- cannot evaluate the run stores why (`problem`) and no errors.
CREATE TABLE measured_run_errors (
    run_pk                  BIGINT NOT NULL REFERENCES measured_runs (id),
    estimator_version       TEXT NOT NULL,
    profile_version         TEXT,
    estimated_joules_low    DOUBLE PRECISION,
    estimated_joules        DOUBLE PRECISION,
    estimated_joules_high   DOUBLE PRECISION,
    estimated_seconds_low   DOUBLE PRECISION,
    estimated_seconds       DOUBLE PRECISION,
    estimated_seconds_high  DOUBLE PRECISION,
    flops_per_step          DOUBLE PRECISION,
    -- estimated / measured - 1
    energy_error            DOUBLE PRECISION,
    time_error              DOUBLE PRECISION,
    energy_inside           BOOLEAN,
    time_inside             BOOLEAN,
    problem                 TEXT,
    computed_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (run_pk, estimator_version),
    CHECK ((problem IS NULL) = (energy_error IS NOT NULL))
);
CREATE TRIGGER measured_run_errors_append_only BEFORE UPDATE OR DELETE ON measured_run_errors
    FOR EACH ROW EXECUTE FUNCTION jouleprint_append_only();

-- `jouleprint admin quarantine --run ID` takes a measured run out of the
-- accuracy table as it takes a calibration run out of the profiles; a
-- quarantined token's measured runs are left out too.
ALTER TABLE quarantine_events
    ADD COLUMN measured_run_id UUID REFERENCES measured_runs (run_id),
    DROP CONSTRAINT quarantine_events_check,
    ADD CONSTRAINT quarantine_events_one_target CHECK (
        (run_id IS NOT NULL)::int + (token_id IS NOT NULL)::int + (measured_run_id IS NOT NULL)::int = 1);
CREATE INDEX quarantine_events_measured_run ON quarantine_events (measured_run_id, id DESC)
    WHERE measured_run_id IS NOT NULL;
