//! Pipeline stage 5, the totals: each stage's steps, energy at the wall
//! (accelerators + host, x PUE), CO2e, device- and wall-hours, the memory
//! check and the ranges, summed over the lifecycle. Runs on a checked and
//! resolved scenario.

use crate::check::check;
use crate::device::DeviceProfile;
use crate::error::{InputError, InputErrors};
use crate::plan::{plan, StepPlan};
use crate::report::{Estimate, MemoryCheck, OpShare, StageEstimate};
use crate::resolve::{resolve, Resolution};
use crate::scenario::{Headline, Phase, Resolved, Scenario, SoftwareClass};
use crate::step::{step_cost, StepCost};
use crate::units::Range;
use crate::ESTIMATOR_VERSION;

/// Constants of the totals.
pub mod constants {
    /// Relative uncertainty of the op-level model for eager PyTorch: the measured
    /// error on the reference cases bounds it (README accuracy table).
    pub const MODEL_UNCERTAINTY_EAGER: f64 = 0.15;
    /// For compiled and serving software, which no reference case covers.
    pub const MODEL_UNCERTAINTY_OTHER: f64 = 0.35;
    /// Without an op breakdown (utilisation prior).
    pub const PRIOR_UNCERTAINTY: f64 = 1.5;
    /// Data-parallel overhead: extra step time per doubling of devices (gradient all-reduce not hidden).
    pub const DP_OVERHEAD_PER_DOUBLING: f64 = 0.03;
    /// Host power drawn under load as a fraction of its rated (nameplate) share: expected, low, high.
    pub const HOST_LOAD: (f64, f64, f64) = (0.6, 0.4, 1.0);
    /// Usable fraction of device memory (allocator fragmentation, CUDA context).
    pub const USABLE_MEMORY: f64 = 0.9;
}
use constants::*;

/// Steps of a stage on each device, from its amount fields (checked already),
/// and the requests it serves (deployments).
fn stage_steps(s: &Scenario, i: usize, plan: &StepPlan) -> (f64, Option<f64>) {
    let st = &s.stages[i];
    let devices = s.hardware.count as f64;
    if let Some(n) = st.steps {
        return (n, None);
    }
    let epochs = st.epochs.unwrap_or(1.0);
    if let Some(n) = st.samples {
        return ((n * epochs / (plan.samples * devices)).ceil(), None);
    }
    if let Some(n) = st.tokens {
        let per_step = plan.tokens.max(1.0);
        return ((n * epochs / (per_step * devices)).ceil(), None);
    }
    let requests = st.requests_per_day.unwrap_or(0.0) * st.days.unwrap_or(0.0);
    ((requests / (plan.samples * devices)).ceil(), Some(requests))
}

fn rel_uncertainty(p: &DeviceProfile, plan: &StepPlan, sw: SoftwareClass) -> f64 {
    let model = if !plan.has_breakdown {
        PRIOR_UNCERTAINTY
    } else if sw == SoftwareClass::PytorchEager {
        MODEL_UNCERTAINTY_EAGER
    } else {
        MODEL_UNCERTAINTY_OTHER
    };
    (model * model + p.uncertainty * p.uncertainty).sqrt()
}

/// The pipeline without what-ifs: check, resolve, plan, step model, totals.
pub fn estimate_core(s: &Scenario, measured: &[DeviceProfile]) -> Result<Estimate, InputErrors> {
    check(s)?;
    let r = resolve(s, measured)?;
    totals(s, r)
}

/// The totals of a checked, resolved scenario (no what-ifs: `estimate` adds them).
/// Errors: what only the plan of a stage can tell (all stages' at once).
pub fn totals(s: &Scenario, r: Resolution) -> Result<Estimate, InputErrors> {
    let Resolution {
        arch,
        device,
        spec,
        grid,
    } = r;
    let n_dev = s.hardware.count as f64;
    let pue = s.infrastructure.pue;
    let host_rated = s
        .infrastructure
        .host_watts_per_device
        .or(spec.map(|d| d.host_w_per_device))
        .unwrap_or(0.25 * device.power_limit_w);
    let host_load = if s.infrastructure.host_watts_per_device.is_some() {
        (1.0, 1.0, 1.0)
    } else {
        HOST_LOAD
    };
    let dp = 1.0 + DP_OVERHEAD_PER_DOUBLING * n_dev.log2();
    let mut warnings = vec![];
    if let Some(r) = &s.resolved {
        if r.estimator_version != ESTIMATOR_VERSION {
            warnings.push(format!(
                "this scenario was computed by {}; recomputed by {} with its pinned device and grid values, numbers may differ where the model changed",
                r.estimator_version, ESTIMATOR_VERSION
            ));
        }
    }
    if device.source.kind == "datasheet" {
        warnings.push(format!("{} has no measured calibration: coefficients derived from its datasheet, range widened", device.name));
    }

    let mut stages = vec![];
    let mut first: Option<(StepPlan, StepCost, Range)> = None;
    let mut total_energy = Range::zero();
    let mut total_co2 = Range::zero();
    let mut device_hours = 0.0;
    let mut wall_hours = 0.0;
    let mut worst_mem: Option<MemoryCheck> = None;
    let mut plans = Vec::with_capacity(s.stages.len());
    let mut errors = vec![];
    for (i, st) in s.stages.iter().enumerate() {
        match plan(
            &arch,
            &st.workload,
            s.software,
            &format!("stages[{i}].workload"),
        ) {
            Ok(p) => plans.push(p),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(InputErrors(errors));
    }
    for ((i, st), mut pl) in s.stages.iter().enumerate().zip(plans) {
        // State that does not fit one device is sharded, the optimizer step with it.
        if st.workload.phase == Phase::Train
            && s.hardware.count > 1
            && !memory_check(&pl, &device, 1).fits
        {
            pl.shard_optimizer(n_dev);
        }
        let cost = step_cost(&pl, &device, s.software);
        let (steps, requests) = stage_steps(s, i, &pl);
        let rel = rel_uncertainty(&device, &pl, s.software);
        let sec = cost.seconds
            * if st.workload.phase == Phase::Train {
                dp
            } else {
                1.0
            };
        let joules_dev = cost.joules * sec / cost.seconds.max(1e-30);
        let seconds_per_step = Range::around(sec, rel);
        let joules_per_step = Range::around(joules_dev * n_dev, rel);
        let runs = st.runs;
        let wall_s = sec * steps * runs;
        let dev_kwh = joules_per_step.scale(steps * runs / 3.6e6);
        let host_kwh = Range {
            low: host_load.1,
            expected: host_load.0,
            high: host_load.2,
        }
        .scale(host_rated * n_dev * wall_s / 3.6e6);
        let energy = dev_kwh.plus(host_kwh).scale(pue);
        let mut co2 = energy.scale(grid.gco2e_per_kwh / 1000.0);
        let dh = n_dev * wall_s / 3600.0;
        if s.infrastructure.embodied {
            if let Some(sp) = spec {
                co2 = co2.plus(Range::exact(
                    sp.embodied_kgco2e * dh / (sp.service_years * 8760.0),
                ));
            }
        }
        let tokens_per_request = pl.tokens / pl.samples.max(1.0);
        let (wh_req, wh_tok) = match requests {
            Some(r) if r > 0.0 => (
                Some(energy.scale(1000.0 / r)),
                Some(energy.scale(1000.0 / (r * tokens_per_request))),
            ),
            _ => (None, None),
        };
        total_energy = total_energy.plus(energy);
        total_co2 = total_co2.plus(co2);
        device_hours += dh;
        wall_hours += wall_s / 3600.0;
        let mem = memory_check(&pl, &device, s.hardware.count);
        if !mem.fits {
            let stage = st
                .name
                .clone()
                .unwrap_or_else(|| st.kind.as_str().to_string());
            warnings.push(if mem.devices_needed == 0 {
                format!(
                    "stage {stage}: activations alone need more than one {} ({:.0} GB): lower the batch or sequence, or use activation checkpointing or sequence parallelism",
                    device.name, device.memory_gb
                )
            } else {
                format!(
                    "stage {stage} needs {:.1} GB per device on {} devices but {} has {:.0} GB: at least {} devices with sharded weights, gradients and optimizer state",
                    mem.required_gb, s.hardware.count, device.name, device.memory_gb, mem.devices_needed
                )
            });
        }
        if worst_mem
            .as_ref()
            .is_none_or(|w| mem.required_gb > w.required_gb)
        {
            worst_mem = Some(mem);
        }
        stages.push(StageEstimate {
            name: st
                .name
                .clone()
                .unwrap_or_else(|| st.kind.as_str().replace('_', " ")),
            kind: st.kind.as_str().into(),
            steps: steps * runs,
            flops_per_step: pl.counted_flops(),
            seconds_per_step,
            joules_per_step,
            device_kwh: dev_kwh,
            energy_kwh: energy,
            co2e_kg: co2,
            device_hours: dh,
            wall_hours: wall_s / 3600.0,
            wh_per_request: wh_req,
            wh_per_token: wh_tok,
        });
        if first.is_none() {
            first = Some((pl, cost, joules_per_step));
        }
    }
    let Some((pl, cost, jps)) = first else {
        return Err(InputError::new("stages", "must hold at least one stage").into());
    };
    let total_j: f64 = cost.ops.iter().map(|o| o.3).sum::<f64>().max(1e-30);
    let top_ops = cost
        .ops
        .iter()
        .take(12)
        .map(|(name, kind, bound, j)| OpShare {
            name: name.clone(),
            kind: kind.as_str().into(),
            bound: (*bound).into(),
            joules: *j,
            fraction: j / total_j,
        })
        .collect();
    warnings.extend(
        pl.notes
            .iter()
            .filter(|n| n.starts_with("unsupported"))
            .cloned(),
    );
    Ok(Estimate {
        estimator_version: ESTIMATOR_VERSION.into(),
        params: pl.params,
        active_params: pl.active_params,
        flops_per_step: pl.counted_flops(),
        other_flops_per_step: pl.other_flops(),
        seconds_per_step: stages[0].seconds_per_step,
        joules_per_step: jps,
        energy_kwh: total_energy,
        co2e_kg: total_co2,
        device_hours,
        wall_hours,
        stages,
        memory: worst_mem.unwrap_or(MemoryCheck {
            required_gb: 0.0,
            available_gb: device.memory_gb,
            fits: true,
            devices_needed: 1,
        }),
        top_ops,
        method: if pl.has_breakdown {
            "op-level roofline with measured or datasheet coefficients".into()
        } else {
            "FLOPs only: utilisation prior".into()
        },
        resolved: Resolved {
            estimator_version: ESTIMATOR_VERSION.into(),
            device,
            grid,
            headline: Some(Headline {
                energy_kwh: total_energy.expected,
                co2e_kg: total_co2.expected,
                device_hours,
                wall_hours,
            }),
        },
        warnings,
        what_ifs: vec![],
    })
}

/// Memory per device, with weights, gradients and optimizer state sharded over
/// the devices (ZeRO-3 / FSDP, or tensor parallelism for serving); activations
/// and the KV cache are per device. `devices_needed` is the smallest count that
/// fits, 0 when activations alone exceed one device (smaller batch, activation
/// checkpointing or sequence parallelism needed).
pub fn memory_check(pl: &StepPlan, p: &DeviceProfile, devices: u64) -> MemoryCheck {
    let need = pl.memory;
    let avail = p.memory_gb * 1e9 * USABLE_MEMORY;
    let per_device = need.shardable() / devices.max(1) as f64 + need.activations + need.kv_cache;
    let room = avail - need.activations - need.kv_cache;
    let devices_needed = if room <= 0.0 {
        0
    } else {
        (need.shardable() / room).ceil().max(1.0) as u64
    };
    MemoryCheck {
        required_gb: per_device / 1e9,
        available_gb: p.memory_gb,
        fits: per_device <= avail,
        devices_needed,
    }
}
