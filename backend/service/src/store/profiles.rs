//! `device_profiles`: a device's measured profile is the median of each
//! coefficient over one vote per token (the newest eligible run of each token,
//! the newest [`MAX_RUNS`] tokens), after an outlier screen; a new version is
//! written whenever the runs change (a run accepted, quarantined or released).
//! A version is *in use* only when the device has enough eligible runs from
//! enough tokens ([`Quorum`], from the configuration).

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::device::{DeviceProfile, ProfileSource};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::BTreeMap;

/// Votes (tokens) a profile is the median of.
pub const MAX_RUNS: i64 = 20;

/// The channel every process listens on to drop its cached device list.
pub const CHANGED_CHANNEL: &str = "jouleprint_profiles_changed";

/// Consistency constant of the median absolute deviation for normally
/// distributed values (1 / the 0.75 quantile of the standard normal):
/// 1.4826 x MAD estimates the standard deviation.
pub const MAD_SCALE: f64 = 1.4826;
/// Values further than this many scaled MADs from the median are outliers
/// (Iglewicz and Hoaglin, "How to Detect and Handle Outliers", 1993: modified
/// z-scores above 3.5).
pub const MAD_CUTOFF: f64 = 3.5;

/// What the configuration asks of a measured profile before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub min_runs: i64,
    pub min_tokens: i64,
}

/// How the outlier screen went for one coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Screen {
    /// Scaled MAD over |median|, before the screen.
    pub mad: f64,
    /// Votes left out of this coefficient's median.
    pub outliers: u32,
}

/// A row of `device_profiles`.
#[derive(Debug, Clone)]
pub struct MeasuredProfile {
    pub device_id: String,
    pub version: i32,
    /// None when no run was left to vote (everything quarantined).
    pub profile: Option<DeviceProfile>,
    /// Votes the median is over.
    pub run_count: i32,
    /// Distinct tokens among the votes.
    pub token_count: i32,
    /// Accepted runs not quarantined, and quarantined.
    pub eligible_runs: i32,
    pub quarantined_runs: i32,
    /// Relative spread ((max - min) / median) of each coefficient over the
    /// values kept by the screen, by path (`idle_w`, `gemm_tflops.bf16`).
    pub spread: BTreeMap<String, f64>,
    pub screen: BTreeMap<String, Screen>,
    pub run_ids: Vec<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
}

impl MeasuredProfile {
    /// The profile, when this version meets the quorum.
    pub fn in_use(&self, q: Quorum) -> Option<&DeviceProfile> {
        self.profile.as_ref().filter(|_| {
            i64::from(self.eligible_runs) >= q.min_runs
                && i64::from(self.token_count) >= q.min_tokens
        })
    }
}

/// The version string a scenario pins (`resolved.device.source.version`).
pub fn version_label(device_id: &str, version: i32) -> String {
    format!("measured:{device_id}:v{version}")
}

/// `measured:h100-sxm:v3` as (`h100-sxm`, 3).
pub fn parse_label(label: &str) -> Option<(&str, i32)> {
    let rest = label.strip_prefix("measured:")?;
    let (device, v) = rest.rsplit_once(":v")?;
    Some((device, v.parse().ok().filter(|n| *n > 0)?))
}

/// Numeric coefficients of a profile by path (`idle_w`, `gemm_tflops.bf16`,
/// `kernels.sm_count`); non-finite values are kept as they are (JSON would
/// turn them into null).
pub fn coefficients(p: &DeviceProfile) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Ok(Value::Object(m)) = serde_json::to_value(p) {
        for (k, v) in m {
            match v {
                Value::Number(n) => {
                    if let Some(x) = n.as_f64() {
                        out.insert(k, x);
                    }
                }
                Value::Object(inner) => {
                    for (k2, v2) in inner {
                        if let Some(x) = v2.as_f64() {
                            out.insert(format!("{k}.{k2}"), x);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (k, x) in [
        ("memory_gb", p.memory_gb),
        ("power_limit_w", p.power_limit_w),
        ("idle_w", p.idle_w),
        ("active_floor_w", p.active_floor_w),
        ("gemm_latency_us", p.gemm_latency_us),
        ("mem_gbs", p.mem_gbs),
        ("pj_per_byte", p.pj_per_byte),
        ("kernel_latency_us", p.kernel_latency_us),
        ("uncertainty", p.uncertainty),
    ] {
        out.insert(k.to_string(), x);
    }
    for (m, x) in &p.gemm_tflops {
        out.insert(format!("gemm_tflops.{}", m.as_str()), *x);
    }
    for (m, x) in &p.pj_per_flop {
        out.insert(format!("pj_per_flop.{}", m.as_str()), *x);
    }
    out
}

/// The median of `vs` after the outlier screen, the spread of the values
/// kept, and how the screen went. `None` for no values.
pub fn robust_median(vs: &[f64]) -> Option<(f64, f64, Screen)> {
    let m = shared::stats::median(vs)?;
    let deviations: Vec<f64> = vs.iter().map(|x| (x - m).abs()).collect();
    let mad = shared::stats::median(&deviations).unwrap_or(0.0) * MAD_SCALE;
    // With a MAD of 0 (most votes equal) the median is already theirs: no screen.
    let kept: Vec<f64> = if mad > 0.0 {
        vs.iter()
            .copied()
            .filter(|x| (x - m).abs() <= MAD_CUTOFF * mad)
            .collect()
    } else {
        vs.to_vec()
    };
    let value = shared::stats::median(&kept).unwrap_or(m);
    let (min, max) = kept
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let rel = |x: f64| {
        if value.abs() > 0.0 {
            x / value.abs()
        } else {
            0.0
        }
    };
    Some((
        value,
        rel(max - min),
        Screen {
            mad: rel(mad),
            outliers: (vs.len() - kept.len()) as u32,
        },
    ))
}

/// What [`combine`] makes of the votes.
pub struct Combined {
    pub profile: DeviceProfile,
    pub spread: BTreeMap<String, f64>,
    pub screen: BTreeMap<String, Screen>,
}

/// The robust median profile of `runs` (one per token, newest first).
/// Coefficients some runs lack take the median of the runs that have them.
pub fn combine(device_id: &str, version: i32, runs: &[DeviceProfile]) -> Option<Combined> {
    let newest = runs.first()?;
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in runs {
        for (k, v) in coefficients(p) {
            if v.is_finite() {
                values.entry(k).or_default().push(v);
            }
        }
    }
    let mut doc = serde_json::to_value(newest).ok()?;
    let mut spread = BTreeMap::new();
    let mut screen = BTreeMap::new();
    for (k, vs) in values {
        let Some((m, sp, sc)) = robust_median(&vs) else {
            continue;
        };
        spread.insert(k.clone(), sp);
        screen.insert(k.clone(), sc);
        let slot = match k.split_once('.') {
            Some((a, b)) => doc.get_mut(a).and_then(|o| o.get_mut(b)),
            None => doc.get_mut(&k),
        };
        match slot {
            // counts (SMs, devices per domain) stay whole numbers
            Some(slot) if slot.is_u64() => *slot = Value::from(m.round().max(0.0) as u64),
            Some(slot) => {
                if let Some(n) = serde_json::Number::from_f64(m) {
                    *slot = Value::Number(n);
                }
            }
            None => {}
        }
    }
    let mut p: DeviceProfile = serde_json::from_value(doc).ok()?;
    p.source = ProfileSource {
        kind: "measured".into(),
        detail: format!(
            "median of {} calibration run{} from {} token{}, one vote per token, outliers past {MAD_CUTOFF} scaled MADs left out (jouleprint server)",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
        ),
        version: version_label(device_id, version),
    };
    Some(Combined {
        profile: p,
        spread,
        screen,
    })
}

const COLUMNS: &str = "device_id, version, profile, run_count, token_count, eligible_runs, \
    quarantined_runs, spread, screen, run_ids, created_at";

fn from_row(r: &sqlx::postgres::PgRow) -> Result<MeasuredProfile, StoreError> {
    let profile: Option<sqlx::types::Json<DeviceProfile>> = r.try_get("profile")?;
    let spread: sqlx::types::Json<BTreeMap<String, f64>> = r.try_get("spread")?;
    let screen: sqlx::types::Json<BTreeMap<String, Screen>> = r.try_get("screen")?;
    Ok(MeasuredProfile {
        device_id: r.try_get("device_id")?,
        version: r.try_get("version")?,
        profile: profile.map(|p| p.0),
        run_count: r.try_get("run_count")?,
        token_count: r.try_get("token_count")?,
        eligible_runs: r.try_get("eligible_runs")?,
        quarantined_runs: r.try_get("quarantined_runs")?,
        spread: spread.0,
        screen: screen.0,
        run_ids: r.try_get("run_ids")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The newest version of every device that has one.
pub async fn current_all(pool: &PgPool) -> Result<Vec<MeasuredProfile>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT ON (device_id) {COLUMNS} FROM device_profiles ORDER BY device_id, version DESC"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// One version of a device's profile.
pub async fn get_version(
    pool: &PgPool,
    device_id: &str,
    version: i32,
) -> Result<Option<MeasuredProfile>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM device_profiles WHERE device_id = $1 AND version = $2"
    )))
    .bind(device_id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Accepted runs of a device not taken out by a quarantine event (the newest
/// event of the run, or of its token, says `quarantine`).
const ELIGIBLE: &str = "calibration_runs r WHERE r.device_id = $1 AND r.status = 'accepted' \
    AND NOT EXISTS (SELECT 1 FROM (SELECT action FROM quarantine_events q WHERE q.run_id = r.run_id \
        ORDER BY q.id DESC LIMIT 1) last WHERE last.action = 'quarantine') \
    AND NOT EXISTS (SELECT 1 FROM (SELECT action FROM quarantine_events q WHERE q.token_id = r.token_id \
        ORDER BY q.id DESC LIMIT 1) last WHERE last.action = 'quarantine')";

/// Recompute a device's profile from its runs, as a new version, inside the
/// transaction that changed them (the caller holds the device's row lock).
/// Returns the new version.
pub async fn recompute(
    tx: &mut Transaction<'_, Postgres>,
    device_id: &str,
) -> Result<i32, StoreError> {
    let counts = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT count(*) FROM {ELIGIBLE}) AS eligible, \
         (SELECT count(*) FROM calibration_runs WHERE device_id = $1 AND status = 'accepted') AS accepted"
    )))
    .bind(device_id)
    .fetch_one(&mut **tx)
    .await?;
    let eligible: i64 = counts.try_get("eligible")?;
    let accepted: i64 = counts.try_get("accepted")?;
    // One vote per token: its newest eligible run; the newest MAX_RUNS tokens.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT run_id, token_id, profile FROM ( \
           SELECT DISTINCT ON (r.token_id) r.id, r.run_id, r.token_id, r.profile FROM {ELIGIBLE} \
           ORDER BY r.token_id, r.id DESC) votes \
         ORDER BY id DESC LIMIT $2"
    )))
    .bind(device_id)
    .bind(MAX_RUNS)
    .fetch_all(&mut **tx)
    .await?;
    let mut profiles = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut tokens = std::collections::BTreeSet::new();
    for r in &rows {
        // A run stored by an older version with a broken profile has no vote.
        let Ok(p) = r.try_get::<sqlx::types::Json<DeviceProfile>, _>("profile") else {
            continue;
        };
        profiles.push(p.0);
        ids.push(r.try_get::<uuid::Uuid, _>("run_id")?);
        tokens.insert(r.try_get::<Option<i64>, _>("token_id")?);
    }
    let version: i32 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM device_profiles WHERE device_id = $1",
    )
    .bind(device_id)
    .fetch_one(&mut **tx)
    .await?;
    let combined = combine(device_id, version, &profiles);
    let (profile, spread, screen) = match combined {
        Some(c) => (Some(c.profile), c.spread, c.screen),
        None => (None, BTreeMap::new(), BTreeMap::new()),
    };
    sqlx::query(
        "INSERT INTO device_profiles (device_id, version, profile, run_count, token_count, \
         eligible_runs, quarantined_runs, spread, screen, run_ids) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(device_id)
    .bind(version)
    .bind(profile.as_ref().map(sqlx::types::Json))
    .bind(profiles.len() as i32)
    .bind(tokens.len() as i32)
    .bind(eligible as i32)
    .bind((accepted - eligible) as i32)
    .bind(sqlx::types::Json(&spread))
    .bind(sqlx::types::Json(&screen))
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGED_CHANNEL)
        .bind(device_id)
        .execute(&mut **tx)
        .await?;
    Ok(version)
}

/// Recompute a device's profile in its own transaction, holding its row lock
/// (after a quarantine event). None when the device has no runs.
pub async fn recompute_device(pool: &PgPool, device_id: &str) -> Result<Option<i32>, StoreError> {
    let mut tx = pool.begin().await?;
    // NO KEY UPDATE: see `calibrations::insert`.
    let found = sqlx::query("SELECT id FROM devices WHERE id = $1 FOR NO KEY UPDATE")
        .bind(device_id)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        tx.rollback().await?;
        return Ok(None);
    }
    let v = recompute(&mut tx, device_id).await?;
    tx.commit().await?;
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> DeviceProfile {
        shared::catalog::CATALOG[0].datasheet_profile()
    }

    #[test]
    fn median_of_each_coefficient() {
        let mut a = base();
        let mut b = base();
        let mut c = base();
        a.idle_w = 100.0;
        b.idle_w = 120.0;
        c.idle_w = 110.0;
        c.gemm_tflops.clear();
        let got = combine("h100-sxm", 3, &[a.clone(), b, c]).expect("combine");
        assert_eq!(got.profile.idle_w, 110.0);
        assert_eq!(got.profile.source.kind, "measured");
        assert_eq!(got.profile.source.version, "measured:h100-sxm:v3");
        assert!((got.spread["idle_w"] - 20.0 / 110.0).abs() < 1e-12);
        // Present in two runs only: still their median.
        assert_eq!(got.profile.gemm_tflops, a.gemm_tflops);
        assert_eq!(got.spread["memory_gb"], 0.0);
    }

    #[test]
    fn even_count_takes_the_mean_of_the_middle_two() {
        let mut a = base();
        let mut b = base();
        a.idle_w = 100.0;
        b.idle_w = 130.0;
        let got = combine("h100-sxm", 1, &[a, b]).expect("combine");
        assert_eq!(got.profile.idle_w, 115.0);
        assert!(combine("x", 1, &[]).is_none());
    }

    #[test]
    fn outliers_past_three_and_a_half_scaled_mads_are_left_out() {
        // 10, 11, 12, 13, 40: median 12, |deviations| 2, 1, 0, 1, 28, MAD 1,
        // scaled 1.4826; 40 is 28 / 1.4826 = 18.9 scaled MADs away.
        let (m, spread, sc) = robust_median(&[10.0, 11.0, 12.0, 13.0, 40.0]).expect("m");
        assert_eq!(sc.outliers, 1);
        assert_eq!(m, 11.5);
        assert!((spread - 3.0 / 11.5).abs() < 1e-12);
        assert!((sc.mad - 1.4826 / 11.5).abs() < 1e-12);
        // 14 is 2 / 1.4826 = 1.35 scaled MADs away: kept.
        let (m, _, sc) = robust_median(&[10.0, 11.0, 12.0, 13.0, 14.0]).expect("m");
        assert_eq!((m, sc.outliers), (12.0, 0));
        // A MAD of 0: nothing screened, the median is the common value.
        let (m, _, sc) = robust_median(&[5.0, 5.0, 5.0, 9.0]).expect("m");
        assert_eq!((m, sc.outliers), (5.0, 0));
        assert!(robust_median(&[]).is_none());
    }

    #[test]
    fn labels_parse() {
        assert_eq!(parse_label("measured:h100-sxm:v3"), Some(("h100-sxm", 3)));
        assert_eq!(
            parse_label(&version_label("a100-sxm", 12)),
            Some(("a100-sxm", 12))
        );
        assert_eq!(parse_label("measured:reference-2026-11-27"), None);
        assert_eq!(parse_label("measured:x:v0"), None);
        assert_eq!(parse_label("datasheet-1"), None);
    }

    #[test]
    fn coefficients_keep_non_finite_values() {
        let mut p = base();
        p.mem_gbs = f64::INFINITY;
        let c = coefficients(&p);
        assert!(c["mem_gbs"].is_infinite());
        assert_eq!(c["idle_w"], p.idle_w);
    }
}
