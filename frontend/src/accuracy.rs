//! Beside the estimate: how right the estimator was on the runs users
//! measured on the same device and software class (`GET /api/accuracy`), and
//! the warning for a shared link whose measured profile the server could not
//! verify. Pure: what to ask for and what to say; tested natively.

use crate::services::accuracy::Report;
use shared::device::DeviceProfile;
use shared::scenario::{Scenario, SoftwareClass};

/// One accuracy line: a catalog device and a software class the estimate uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Catalog id (`h100-sxm`).
    pub device: String,
    pub software: SoftwareClass,
}

/// The (device, software class) pairs the stages of `s` run on, in stage
/// order, each once. A device the catalog does not know has no line.
pub fn keys(s: &Scenario) -> Vec<Key> {
    let mut out: Vec<Key> = Vec::new();
    for st in &s.stages {
        let device = st
            .hardware
            .as_ref()
            .map_or(s.hardware.device.as_str(), |h| h.device.as_str());
        let Some(spec) = shared::catalog::find(device) else {
            continue;
        };
        let k = Key {
            device: spec.id.to_string(),
            software: st.software.unwrap_or(s.software),
        };
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// What one line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Enough contributors: the server's summary of the figures.
    Figures {
        summary: String,
        runs_url: Option<String>,
        runs: i64,
        /// Median over contributors of |estimated / measured energy - 1|.
        median_energy_error: f64,
    },
    /// Runs, but from fewer contributors than the quorum: the server's words.
    Pending {
        summary: String,
        runs_url: Option<String>,
    },
    /// No scored run: say so (and how many stored runs are not scored).
    NoneYet {
        text: String,
        runs_url: Option<String>,
    },
}

/// The runs list of a report: the server's `runs_url` when it is a path of
/// this server's API (never another scheme in an `href`).
fn runs_url(r: &Report) -> Option<String> {
    r.runs_url
        .starts_with("/api/runs?")
        .then(|| r.runs_url.clone())
}

/// `the NVIDIA H100 SXM5 80GB (pytorch-eager)`, as the server's summary names it.
fn on(r: &Report) -> String {
    match &r.software {
        Some(s) => format!("the {} ({s})", r.device_name),
        None => format!("the {}", r.device_name),
    }
}

pub fn line(r: &Report) -> Line {
    if let Some(m) = r.median_energy_error {
        return Line::Figures {
            summary: r.summary.clone(),
            runs_url: runs_url(r),
            runs: r.runs,
            median_energy_error: m,
        };
    }
    if r.runs > 0 {
        return Line::Pending {
            summary: r.summary.clone(),
            runs_url: runs_url(r),
        };
    }
    if r.not_scored > 0 {
        let n = r.not_scored;
        return Line::NoneYet {
            text: format!(
                "No scored runs on {} yet ({n} stored run{} not scored: flagged, quarantined, or not evaluable by this estimator version)",
                on(r),
                if n == 1 { " is" } else { "s are" },
            ),
            runs_url: runs_url(r),
        };
    }
    Line::NoneYet {
        text: format!("No measured runs on {} yet", on(r)),
        runs_url: None,
    }
}

/// A profile that claims to be measured, as the server decides what to
/// check (`backend/service/src/routes/verify.rs`): datasheet profiles are
/// not measured claims and are never checked.
pub fn is_measured_claim(p: &DeviceProfile) -> bool {
    p.source.kind == "measured" || p.source.version.starts_with("measured")
}

/// The measured profiles a stored link pins (`resolved.device`, then
/// `resolved.stage_devices`), each once: the ones a `profile_verified: false`
/// is about.
pub fn measured_claims(s: &Scenario) -> Vec<DeviceProfile> {
    let Some(r) = &s.resolved else {
        return Vec::new();
    };
    let mut out: Vec<DeviceProfile> = Vec::new();
    for p in std::iter::once(&r.device).chain(&r.stage_devices) {
        if is_measured_claim(p) && !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// The warning for profiles the server could not verify (none: the link
/// named no measured profile the page can point at).
pub fn unverified_text(profiles: &[&DeviceProfile]) -> String {
    let named: Vec<String> = profiles
        .iter()
        .map(|p| format!("\u{201c}{}\u{201d} ({})", p.source.version, p.name))
        .collect();
    let what = match named.as_slice() {
        [] => "The measured device profile this link pins".to_string(),
        [one] => format!("The measured device profile {one} this link pins"),
        many => format!(
            "The measured device profiles {} this link pins",
            many.join(", ")
        ),
    };
    format!(
        "{what} could not be verified against the calibrations stored on this server \
         (it made no such profile under that label, or could not check). The numbers below use \
         the values the link carries: they are only as good as whoever made the link.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(runs: i64, not_scored: i64, median: Option<f64>) -> Report {
        Report {
            device: "h100-sxm".into(),
            device_name: "NVIDIA H100 SXM5 80GB".into(),
            software: Some("pytorch-eager".into()),
            runs,
            median_energy_error: median,
            not_scored,
            summary: "the server's words".into(),
            runs_url: "/api/runs?device=h100-sxm&software=pytorch-eager".into(),
        }
    }

    #[test]
    fn figures_pending_and_none_yet() {
        assert_eq!(
            line(&report(4, 0, Some(0.12))),
            Line::Figures {
                summary: "the server's words".into(),
                runs_url: Some("/api/runs?device=h100-sxm&software=pytorch-eager".into()),
                runs: 4,
                median_energy_error: 0.12,
            }
        );
        assert_eq!(
            line(&report(1, 0, None)),
            Line::Pending {
                summary: "the server's words".into(),
                runs_url: Some("/api/runs?device=h100-sxm&software=pytorch-eager".into()),
            }
        );
        assert_eq!(
            line(&report(0, 0, None)),
            Line::NoneYet {
                text: "No measured runs on the NVIDIA H100 SXM5 80GB (pytorch-eager) yet".into(),
                runs_url: None,
            }
        );
        assert_eq!(
            line(&report(0, 1, None)),
            Line::NoneYet {
                text: "No scored runs on the NVIDIA H100 SXM5 80GB (pytorch-eager) yet (1 stored run is not scored: flagged, quarantined, or not evaluable by this estimator version)".into(),
                runs_url: Some("/api/runs?device=h100-sxm&software=pytorch-eager".into()),
            }
        );
    }

    #[test]
    fn a_runs_url_that_is_not_the_apis_is_not_linked() {
        let mut r = report(4, 0, Some(0.1));
        r.runs_url = "javascript:alert(1)".into();
        match line(&r) {
            Line::Figures { runs_url, .. } => assert_eq!(runs_url, None),
            other => panic!("expected figures, got {other:?}"),
        }
    }

    #[test]
    fn one_key_per_device_and_software_of_the_stages() {
        let mut s = crate::defaults::example_scenario();
        s.hardware.device = "NVIDIA H100 80GB HBM3".into(); // an NVML name: the catalog id
        let k = |d: &str, sw| Key {
            device: d.into(),
            software: sw,
        };
        assert_eq!(keys(&s), vec![k("h100-sxm", SoftwareClass::PytorchEager)]);
        s.stages[2].software = Some(SoftwareClass::Serving);
        s.stages[1].hardware = Some(shared::scenario::Hardware {
            device: "a100-sxm-80gb".into(),
            count: 4,
        });
        assert_eq!(
            keys(&s),
            vec![
                k("h100-sxm", SoftwareClass::PytorchEager),
                k("a100-sxm-80gb", SoftwareClass::PytorchEager),
                k("h100-sxm", SoftwareClass::Serving),
            ]
        );
        s.hardware.device = "no such gpu".into();
        assert_eq!(
            keys(&s),
            vec![k("a100-sxm-80gb", SoftwareClass::PytorchEager)]
        );
    }

    #[test]
    fn measured_claims_and_the_warning() {
        let spec = shared::catalog::find("a100-sxm-80gb").expect("a catalog device");
        let datasheet = shared::calibration::builtin_profile(spec);
        assert!(!is_measured_claim(&datasheet));
        let mut forged = datasheet.clone();
        forged.source.version = "measured:00000000-0000-4000-8000-000000000000".into();
        assert!(is_measured_claim(&forged));
        let mut kind = datasheet.clone();
        kind.source.kind = "measured".into();
        assert!(is_measured_claim(&kind));

        let mut s = crate::defaults::example_scenario();
        assert!(measured_claims(&s).is_empty());
        let e = shared::estimate::estimate_core(&s, &[]).expect("the example estimates");
        let mut r = e.resolved;
        r.device = forged.clone();
        r.stage_devices = vec![datasheet.clone(), forged.clone()];
        s.resolved = Some(r);
        assert_eq!(measured_claims(&s), vec![forged.clone()]);

        let t = unverified_text(&[&forged]);
        assert!(t.starts_with(&format!(
            "The measured device profile \u{201c}measured:00000000-0000-4000-8000-000000000000\u{201d} ({}) this link pins could not be verified",
            spec.name
        )), "{t}");
        assert!(unverified_text(&[])
            .starts_with("The measured device profile this link pins could not be verified"));
    }
}
