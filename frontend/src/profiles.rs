//! What the form chooses from: presets and devices (catalog and measured).
//! Thin wrappers over `shared`; which profile a device uses is
//! `shared::resolve::device_profile`.

use shared::device::DeviceProfile;

/// A device the form offers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceChoice {
    pub id: String,
    pub label: String,
    pub memory_gb: f64,
    /// Where the profile it uses comes from (`ProfileSource::origin`).
    pub origin: String,
    /// The server's measured profile, when it has one.
    pub measured: Option<MeasuredInfo>,
}

/// A measured profile as the backend lists it (`GET /api/devices`).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredDevice {
    pub profile: DeviceProfile,
    pub info: MeasuredInfo,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeasuredInfo {
    pub runs: Option<u64>,
    pub measured_at: Option<String>,
}

thread_local! {
    /// The origin of each catalog device's built-in profile (made once).
    static BUILTIN: Vec<(&'static str, String)> = shared::catalog::CATALOG
        .iter()
        .map(|d| (d.id, shared::calibration::builtin_profile(d).source.origin()))
        .collect();
}

/// The origin of a catalog device's built-in profile.
pub fn builtin_origin(id: &str) -> String {
    BUILTIN.with(|b| {
        b.iter()
            .find(|(i, _)| *i == id)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    })
}

/// Names of the catalog devices whose built-in profile was measured.
pub fn builtin_measured() -> Vec<&'static str> {
    BUILTIN.with(|b| {
        b.iter()
            .filter(|(_, o)| o.starts_with("measured"))
            .filter_map(|(id, _)| shared::catalog::find(id).map(|d| d.name))
            .collect()
    })
}

/// Devices: the catalog, each with the profile it uses today (the server's
/// measured one, else the built-in one), then measured profiles of devices
/// the catalog lacks.
pub fn devices(measured: &[MeasuredDevice]) -> Vec<DeviceChoice> {
    let mut out: Vec<DeviceChoice> = shared::catalog::CATALOG
        .iter()
        .map(|d| {
            let m = measured
                .iter()
                .find(|m| m.profile.id.eq_ignore_ascii_case(d.id));
            let origin = match m {
                Some(m) => m.profile.source.origin(),
                None => builtin_origin(d.id),
            };
            DeviceChoice {
                id: d.id.to_string(),
                label: d.name.to_string(),
                memory_gb: d.memory_gb,
                origin,
                measured: m.map(|m| m.info.clone()),
            }
        })
        .collect();
    for m in measured {
        if !out.iter().any(|d| d.id.eq_ignore_ascii_case(&m.profile.id)) {
            out.push(DeviceChoice {
                id: m.profile.id.clone(),
                label: m.profile.name.clone(),
                memory_gb: m.profile.memory_gb,
                origin: m.profile.source.origin(),
                measured: Some(m.info.clone()),
            });
        }
    }
    out
}

impl DeviceChoice {
    /// `NVIDIA H100 SXM5 80GB, measured (reference-2026-11-27)`; a
    /// server's profile adds its runs and date.
    pub fn option_label(&self) -> String {
        // most names hold their memory already (`80GB`)
        let mut s = if self.label.contains("GB") {
            format!("{}, {}", self.label, self.origin)
        } else {
            format!("{}, {} GB, {}", self.label, self.memory_gb, self.origin)
        };
        if let Some(m) = &self.measured {
            let mut extra = vec!["this server".to_string()];
            if let Some(n) = m.runs {
                extra.push(format!("{n} run{}", if n == 1 { "" } else { "s" }));
            }
            if let Some(d) = &m.measured_at {
                extra.push(d.get(..10).unwrap_or(d).to_string());
            }
            s.push_str(&format!(" [{}]", extra.join(", ")));
        }
        s
    }
}

/// A preset the model search offers.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetChoice {
    pub id: String,
    pub label: String,
    pub params: Option<f64>,
}

/// The presets, smallest first.
pub fn presets() -> Vec<PresetChoice> {
    let mut v: Vec<PresetChoice> = shared::model::presets::PRESETS
        .iter()
        .map(|p| PresetChoice {
            id: p.id.to_string(),
            label: format!("{} ({} parameters)", p.description, p.published_params),
            params: Some(p.params()).filter(|v| *v > 0.0),
        })
        .collect();
    v.sort_by(|a, b| {
        a.params
            .unwrap_or(f64::MAX)
            .total_cmp(&b.params.unwrap_or(f64::MAX))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The H100's built-in profile is the measured reference calibration: the
    /// list says so, as `jouleprint devices` does (issue 17, item 2).
    #[test]
    fn one_label_for_a_profile() {
        let d = devices(&[]);
        let h100 = d.iter().find(|d| d.id == "h100-sxm").expect("h100-sxm");
        let p = shared::calibration::builtin_profile(
            shared::catalog::find("h100-sxm").expect("catalog"),
        );
        assert_eq!(p.source.kind, "measured");
        let short = p.source.version.trim_start_matches("measured:");
        assert_eq!(h100.origin, format!("measured ({short})"));
        assert!(h100.option_label().ends_with(&h100.origin));
        let v100 = d.iter().find(|d| d.id.starts_with("v100")).expect("a V100");
        assert!(v100.origin.starts_with("datasheet"), "{}", v100.origin);
        let mut m = p.clone();
        m.source.version = "h100-sxm-v3".into();
        let d = devices(&[MeasuredDevice {
            profile: m,
            info: MeasuredInfo {
                runs: Some(4),
                measured_at: Some("2026-11-28T10:00:00Z".into()),
            },
        }]);
        let h100 = d.iter().find(|d| d.id == "h100-sxm").expect("h100-sxm");
        assert_eq!(
            h100.option_label(),
            "NVIDIA H100 SXM5 80GB, measured (h100-sxm-v3) [this server, 4 runs, 2026-11-28]"
        );
    }

    #[test]
    fn presets_sorted_and_known() {
        let p = presets();
        assert!(p.iter().any(|p| p.id == "llama-2-7b"));
        assert!(p.iter().any(|p| p.id == "llama-2-70b"));
        assert!(p.windows(2).all(|w| w[0].params <= w[1].params));
    }
}
