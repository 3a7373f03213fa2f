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

    #[test]
    fn presets_sorted_and_known() {
        let p = presets();
        assert!(p.iter().any(|p| p.id == "llama-2-7b"));
        assert!(p.iter().any(|p| p.id == "llama-2-70b"));
        assert!(p.windows(2).all(|w| w[0].params <= w[1].params));
    }
}
