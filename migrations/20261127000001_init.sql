-- jouleprint schema, version 1. See docs/database.md.

-- Devices that have calibration runs, by catalog id (shared::catalog).
CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- API tokens: only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);

-- Calibration runs: append-only. `status` is `accepted` (used in the profile)
-- or `flagged` (stored, not used).
CREATE TABLE calibration_runs (
    id                    BIGSERIAL PRIMARY KEY,
    run_id                UUID NOT NULL UNIQUE,
    device_id             TEXT NOT NULL REFERENCES devices (id),
    token_id              BIGINT REFERENCES api_tokens (id),
    host                  TEXT,
    nvml_name             TEXT NOT NULL,
    device_uuid           TEXT,
    driver                TEXT,
    power_limit_mw        BIGINT NOT NULL,
    max_sm_clock_mhz      INTEGER,
    max_mem_clock_mhz     INTEGER,
    temperature_before_c  DOUBLE PRECISION,
    temperature_after_c   DOUBLE PRECISION,
    tool_version          TEXT,
    started_at            TIMESTAMPTZ,
    finished_at           TIMESTAMPTZ,
    status                TEXT NOT NULL CHECK (status IN ('accepted', 'flagged')),
    flags                 TEXT[] NOT NULL DEFAULT '{}',
    -- The record as submitted, and the profile derived from it alone.
    record                JSONB NOT NULL,
    profile               JSONB NOT NULL,
    received_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX calibration_runs_device_status ON calibration_runs (device_id, status, id DESC);

-- One row per timed kernel loop of a run.
CREATE TABLE calibration_measurements (
    run_pk          BIGINT NOT NULL REFERENCES calibration_runs (id),
    idx             INTEGER NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    precision       TEXT NOT NULL,
    shape           TEXT,
    steps           BIGINT NOT NULL,
    seconds         DOUBLE PRECISION NOT NULL,
    joules          DOUBLE PRECISION NOT NULL,
    flops_per_step  DOUBLE PRECISION,
    bytes_per_step  DOUBLE PRECISION,
    PRIMARY KEY (run_pk, idx)
);

-- Runs and their measurements are never changed nor removed.
CREATE FUNCTION jouleprint_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER calibration_runs_append_only BEFORE UPDATE OR DELETE ON calibration_runs
    FOR EACH ROW EXECUTE FUNCTION jouleprint_append_only();
CREATE TRIGGER calibration_measurements_append_only BEFORE UPDATE OR DELETE ON calibration_measurements
    FOR EACH ROW EXECUTE FUNCTION jouleprint_append_only();

-- A device's measured profile: the median of each coefficient over its latest
-- accepted runs (at most 20). A new version on every accepted run.
CREATE TABLE device_profiles (
    device_id   TEXT NOT NULL REFERENCES devices (id),
    version     INTEGER NOT NULL CHECK (version > 0),
    profile     JSONB NOT NULL,
    run_count   INTEGER NOT NULL,
    -- Relative spread ((max - min) / median) of each coefficient over those runs.
    spread      JSONB NOT NULL,
    run_ids     UUID[] NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, version)
);

-- Shared estimates: a short id for a scenario (with its resolved values pinned).
CREATE TABLE shared_estimates (
    id          TEXT PRIMARY KEY,
    scenario    JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
