//! Pipeline stage 2, resolve: the model source becomes an architecture, the
//! device a profile (pinned, else measured, else built in), the region a grid
//! intensity. Runs on a checked scenario; all problems at once.

use crate::catalog;
use crate::device::{DeviceProfile, DeviceSpec};
use crate::error::{InputError, InputErrors};
use crate::grid;
use crate::model::{hf, presets, Architecture, FlopsOnly};
use crate::scenario::{GridValue, Scenario};

/// What a scenario's names and sources stand for.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub arch: Architecture,
    pub device: DeviceProfile,
    /// The catalog entry of the device, for host power and embodied emissions.
    pub spec: Option<&'static DeviceSpec>,
    pub grid: GridValue,
}

pub fn resolve(s: &Scenario, measured: &[DeviceProfile]) -> Result<Resolution, InputErrors> {
    let arch = architecture(s);
    let device = resolve_device(s, measured);
    let grid = resolve_grid(s);
    match (arch, device, grid) {
        (Ok(arch), Ok(device), Ok(grid)) => {
            let spec = catalog::find(&device.id).or_else(|| catalog::find(&s.hardware.device));
            Ok(Resolution {
                arch,
                device,
                spec,
                grid,
            })
        }
        (a, d, g) => Err(InputErrors(
            [a.err(), d.err(), g.err()].into_iter().flatten().collect(),
        )),
    }
}

/// The one rule for "which profile does this device use today": a measured
/// profile (from a calibration file or the service) of that catalog id, else
/// the built-in one. Ids and NVML names match without regard to case.
pub fn device_profile(id_or_name: &str, measured: &[DeviceProfile]) -> Option<DeviceProfile> {
    let spec = catalog::find(id_or_name);
    let key = spec.map_or(id_or_name.trim(), |s| s.id);
    measured
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(key))
        .cloned()
        .or_else(|| spec.map(crate::calibration::builtin_profile))
}

/// The model source of a checked scenario as an architecture.
pub fn architecture(s: &Scenario) -> Result<Architecture, InputError> {
    let m = &s.model;
    if let Some(id) = &m.preset {
        return presets::architecture(id).ok_or_else(|| {
            let ids: Vec<&str> = presets::PRESETS.iter().map(|p| p.id).collect();
            InputError::new(
                "model.preset",
                format!("unknown preset `{id}`; known: {}", ids.join(", ")),
            )
        });
    }
    if let Some(cfg) = &m.hf_config {
        return hf::spec_from_config(cfg).map(Architecture::Transformer);
    }
    if let Some(g) = &m.graph {
        return Ok(Architecture::Graph(g.clone()));
    }
    match (m.params, m.flops_per_step.or(m.flops_per_sample)) {
        (Some(params), Some(_)) => Ok(Architecture::Flops(FlopsOnly {
            flops_per_sample: m.flops_per_sample,
            flops_per_step: m.flops_per_step,
            params,
        })),
        _ => Err(InputError::new(
            "model",
            "give exactly one of: preset, hf_config, flops_per_step or flops_per_sample (with params), graph",
        )),
    }
}

/// The device profile a scenario uses: pinned in `resolved`, else [`device_profile`].
pub fn resolve_device(
    s: &Scenario,
    measured: &[DeviceProfile],
) -> Result<DeviceProfile, InputError> {
    if let Some(r) = &s.resolved {
        return Ok(r.device.clone());
    }
    device_profile(&s.hardware.device, measured).ok_or_else(|| {
        InputError::new(
            "hardware.device",
            format!(
                "unknown device `{}`; `jouleprint devices` lists the catalog ids and NVML names",
                s.hardware.device
            ),
        )
    })
}

/// The grid intensity a scenario uses: pinned, else given, else its region's.
pub fn resolve_grid(s: &Scenario) -> Result<GridValue, InputError> {
    if let Some(r) = &s.resolved {
        return Ok(r.grid.clone());
    }
    let inf = &s.infrastructure;
    if let Some(g) = inf.grid_gco2e_per_kwh {
        return Ok(GridValue {
            gco2e_per_kwh: g,
            region: "custom".into(),
            source: "given in the scenario".into(),
            year: None,
        });
    }
    let code = inf.region.as_deref().unwrap_or("WORLD");
    grid::find(code).map(|e| e.value()).ok_or_else(|| {
        InputError::new(
            "infrastructure.region",
            format!("unknown region `{code}`; use an ISO country code (FR), a cloud region (aws:us-east-1) or grid_gco2e_per_kwh"),
        )
    })
}
