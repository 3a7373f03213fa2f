//! What the form chooses from: presets, devices (catalog and measured), grid
//! regions; and the values a share link pins. Thin wrappers over `shared`.

use shared::device::DeviceProfile;
use shared::scenario::GridValue;

/// A device the form offers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceChoice {
    pub id: String,
    pub label: String,
    pub memory_gb: f64,
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

/// A preset the model search offers.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetChoice {
    pub id: String,
    pub label: String,
    pub params: Option<f64>,
}

/// The profile the estimator would use today for a device: a measured one from
/// the backend if any, else the built-in one.
pub fn current_profile(id: &str, measured: &[DeviceProfile]) -> Option<DeviceProfile> {
    measured
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id))
        .cloned()
        .or_else(|| shared::catalog::find(id).map(shared::calibration::builtin_profile))
}

pub fn grid_value(code: &str) -> Option<GridValue> {
    shared::grid::find(code).map(|g| g.value())
}

/// Devices: the catalog, marked where a measured profile replaces the datasheet,
/// then measured profiles of devices the catalog lacks.
pub fn devices(measured: &[MeasuredDevice]) -> Vec<DeviceChoice> {
    let mut out: Vec<DeviceChoice> = shared::catalog::CATALOG
        .iter()
        .map(|d| {
            let m = measured
                .iter()
                .find(|m| m.profile.id.eq_ignore_ascii_case(d.id));
            DeviceChoice {
                id: d.id.to_string(),
                label: d.name.to_string(),
                memory_gb: d.memory_gb,
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
                measured: Some(m.info.clone()),
            });
        }
    }
    out
}

impl DeviceChoice {
    pub fn option_label(&self) -> String {
        match &self.measured {
            None => format!("{} ({} GB, datasheet)", self.label, self.memory_gb),
            Some(m) => {
                let mut s = format!("{} ({} GB, measured", self.label, self.memory_gb);
                if let Some(n) = m.runs {
                    s.push_str(&format!(", {n} run{}", if n == 1 { "" } else { "s" }));
                }
                if let Some(d) = &m.measured_at {
                    s.push_str(&format!(", {}", d.get(..10).unwrap_or(d)));
                }
                s.push(')');
                s
            }
        }
    }
}

/// `6.74 B` -> 6.74e9.
fn parse_count(s: &str) -> Option<f64> {
    let mut it = s.split_whitespace();
    let v: f64 = it.next()?.parse().ok()?;
    let k = match it.next() {
        Some("K") | Some("k") => 1e3,
        Some("M") => 1e6,
        Some("B") | Some("G") => 1e9,
        Some("T") => 1e12,
        None => 1.0,
        _ => return None,
    };
    Some(v * k)
}

/// The presets, smallest first.
pub fn presets() -> Vec<PresetChoice> {
    let mut v: Vec<PresetChoice> = shared::model::presets::PRESETS
        .iter()
        .map(|p| PresetChoice {
            id: p.id.to_string(),
            label: format!("{} ({} parameters)", p.description, p.published_params),
            params: parse_count(p.published_params),
        })
        .collect();
    v.sort_by(|a, b| {
        a.params
            .unwrap_or(f64::MAX)
            .total_cmp(&b.params.unwrap_or(f64::MAX))
    });
    v
}

/// A preset's Hugging Face config, where the preset is defined by one (for pruning).
pub fn preset_config(id: &str) -> Option<serde_json::Value> {
    shared::model::presets::hf_config(id)
}

pub fn is_preset(id: &str) -> bool {
    let all = presets();
    all.is_empty() || all.iter().any(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_sorted_and_known() {
        assert_eq!(parse_count("6.74 B"), Some(6.74e9));
        assert_eq!(parse_count("25.6 M"), Some(25.6e6));
        let p = presets();
        assert!(p.iter().any(|p| p.id == "llama-2-7b"));
        assert!(p.iter().any(|p| p.id == "llama-2-70b"));
        assert!(p.windows(2).all(|w| w[0].params <= w[1].params));
        assert!(is_preset("llama-2-7b"));
        assert!(!is_preset("no-such-model"));
    }
}
