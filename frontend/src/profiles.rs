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
        .or_else(|| shared::catalog::find(id).map(shared::catalog::builtin_profile))
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

/// The presets, smallest first where the size is known.
pub fn presets() -> Vec<PresetChoice> {
    Vec::new()
}

/// A preset's Hugging Face config, where the preset is defined by one (for pruning).
pub fn preset_config(_id: &str) -> Option<serde_json::Value> {
    None
}

pub fn is_preset(id: &str) -> bool {
    let all = presets();
    all.is_empty() || all.iter().any(|p| p.id == id)
}
