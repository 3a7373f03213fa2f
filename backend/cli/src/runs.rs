//! `jouleprint validate --from URL [--device ID] [--save FILE]`: the runs
//! users measured and sent to a jouleprint service (`GET /api/runs`), pulled
//! as validation cases and evaluated like a cases file (`docs/measuring.md`,
//! "Refitting from the shared runs").

use anyhow::{anyhow, Context};
use shared::api::{MeasuredRunList, MeasuredRunView, RunStatus};
use std::path::PathBuf;
use std::time::Duration;

/// Runs one request lists at most (`GET /api/runs?limit=`).
pub const PAGE: usize = 500;

#[derive(clap::Args, Debug, Default, Clone)]
pub struct FromArgs {
    /// Pull the measured runs of a jouleprint service (base URL) instead of reading a file.
    #[arg(long = "from", value_name = "URL")]
    pub from: Option<String>,
    /// With --from: one device's runs (catalog id or NVML name); default: every catalog device.
    #[arg(long, requires = "from")]
    pub device: Option<String>,
    /// With --from: also write the pulled cases (JSONL) here, e.g. for the fitter
    /// (`cargo run -p jouleprint-shared --example fit -- FILE`).
    #[arg(long, requires = "from", value_name = "FILE")]
    pub save: Option<PathBuf>,
}

/// The runs the accuracy table scores (accepted, not quarantined), as lines
/// of the validation case format; each case's name gets its run id's first
/// eight characters, so that equal names stay apart.
pub fn case_lines(runs: &[MeasuredRunView]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.status == RunStatus::Accepted && !r.quarantined)
        .filter_map(|r| {
            let mut c = r.case.clone();
            c.name = format!("{} [{}]", c.name, r.run_id.get(..8).unwrap_or(&r.run_id));
            serde_json::to_string(&c).ok()
        })
        .collect()
}

/// The scored runs of the service at `--from` as JSONL (every catalog device,
/// or `--device`), written to `--save` when given.
pub fn pull(args: &FromArgs) -> anyhow::Result<String> {
    let base = args
        .from
        .as_deref()
        .ok_or_else(|| anyhow!("give a cases file or --from URL"))?
        .trim_end_matches('/');
    let devices: Vec<String> = match &args.device {
        Some(d) => vec![d.clone()],
        None => shared::catalog::CATALOG
            .iter()
            .map(|s| s.id.to_string())
            .collect(),
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("jouleprint/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut lines = vec![];
    for d in &devices {
        let url = format!("{base}/api/runs");
        let resp = client
            .get(&url)
            .query(&[("device", d.as_str()), ("limit", &PAGE.to_string())])
            .send()
            .with_context(|| format!("could not reach {url}"))?;
        let status = resp.status();
        let body = resp.text().unwrap_or_default();
        if !status.is_success() {
            return Err(anyhow!("{url}?device={d}: {status}: {body}"));
        }
        let list: MeasuredRunList = serde_json::from_str(&body)
            .with_context(|| format!("{url}?device={d}: not a list of runs"))?;
        if list.runs.len() >= PAGE {
            eprintln!(
                "jouleprint validate: {}: only the newest {PAGE} runs were pulled",
                list.device
            );
        }
        lines.extend(case_lines(&list.runs));
    }
    eprintln!(
        "jouleprint validate: {} measured run{} from {base} (accepted, not quarantined)",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" }
    );
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if let Some(path) = &args.save {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("jouleprint validate: cases written to {}", path.display());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: &str, status: RunStatus, quarantined: bool) -> MeasuredRunView {
        MeasuredRunView {
            run_id: id.into(),
            status,
            flags: vec![],
            quarantined,
            case: serde_json::from_value(serde_json::json!({
                "name": "job", "device": "NVIDIA H100 80GB HBM3", "model": {"preset": "gpt2"},
                "phase": "train", "precision": "bf16", "batch": 8, "seq": 1024,
                "measured": {"joules_per_step": 40.0, "seconds_per_step": 0.1}
            }))
            .expect("case"),
            steps: 20,
            window_s: 2.0,
            environment: None,
            redacted: true,
            measured_at: None,
            received_at: "2026-12-01T00:00:00Z".into(),
            errors: None,
            problem: None,
        }
    }

    #[test]
    fn only_scored_runs_become_cases() {
        let runs = [
            view("0123456789ab", RunStatus::Accepted, false),
            view("ffffffffffff", RunStatus::Flagged, false),
            view("eeeeeeeeeeee", RunStatus::Accepted, true),
        ];
        let lines = case_lines(&runs);
        assert_eq!(lines.len(), 1);
        let parsed = shared::validate::parse_cases(&lines[0]);
        let c = parsed[0].as_ref().expect("a case");
        assert_eq!(c.name, "job [01234567]");
        assert_eq!(c.measured.joules_per_step, 40.0);
    }
}
