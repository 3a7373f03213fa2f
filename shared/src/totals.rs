//! Pipeline stage 5, the totals: each stage's steps on its devices under its
//! strategy (`schedule`), energy at the wall (accelerators + host + network,
//! x PUE), CO2e, device- and wall-hours, the memory check and the ranges,
//! summed over the lifecycle. Runs on a checked and resolved scenario.

use crate::catalog;
use crate::check::check;
use crate::device::{DeviceProfile, DeviceSpec};
use crate::error::{InputError, InputErrors};
use crate::plan::StepPlan;
use crate::ranges;
use crate::report::{Estimate, MemoryCheck, OpShare, ServingReport, StageEstimate};
use crate::resolve::{device_profile, resolve, Resolution};
use crate::scenario::{Headline, Phase, Resolved, Scenario, SoftwareClass, Stage};
use crate::schedule::{self, StageStep, Strategy, USABLE_MEMORY};
use crate::step::StepCost;
use crate::units::Range;
use crate::ESTIMATOR_VERSION;

/// Constants of the totals.
pub mod constants {
    /// Without an op breakdown (utilisation prior): no case measures it.
    pub const PRIOR_UNCERTAINTY: f64 = 1.5;
    /// Host power drawn under load as a fraction of its rated (nameplate) share: expected, low, high.
    pub const HOST_LOAD: (f64, f64, f64) = (0.6, 0.4, 1.0);
    /// Usable fraction of device memory (allocator fragmentation, CUDA context).
    pub const USABLE_MEMORY: f64 = super::USABLE_MEMORY;
    /// Network switch power per device of a stage spanning several nodes, W
    /// (assumption: a 64-port 400 Gb/s InfiniBand switch draws about 1.7 kW at
    /// most, ~27 W per port, and a two-level fat tree puts about one leaf and
    /// one spine port behind each GPU's NIC; the NICs are in the host's power).
    pub const SWITCH_W_PER_DEVICE: f64 = 2.0 * 1720.0 / 64.0;
}
use constants::*;

/// Steps of a stage (on every replica at once), from its amount fields
/// (checked already), and the requests it serves (deployments).
fn stage_steps(st: &Stage, samples_per_step: f64, tokens_per_step: f64) -> (f64, Option<f64>) {
    if let Some(n) = st.steps {
        return (n, None);
    }
    let epochs = st.epochs.unwrap_or(1.0);
    if let Some(n) = st.samples {
        return ((n * epochs / samples_per_step.max(1e-30)).ceil(), None);
    }
    if let Some(n) = st.tokens {
        return ((n * epochs / tokens_per_step.max(1.0)).ceil(), None);
    }
    let requests = st.requests_per_day.unwrap_or(0.0) * st.days.unwrap_or(0.0);
    (
        (requests / samples_per_step.max(1e-30)).ceil(),
        Some(requests),
    )
}

/// The (energy, time) log widths of a stage's ranges: the fitted widths of
/// its cell (`ranges`), which include the devices' coefficient uncertainty;
/// without an op breakdown, the utilisation prior's.
fn widths(
    plan: &StepPlan,
    sw: SoftwareClass,
    devices: u64,
    dev: &DeviceProfile,
    engine: bool,
) -> (f64, f64) {
    if !plan.has_breakdown {
        let u = PRIOR_UNCERTAINTY.ln_1p();
        return (u, u);
    }
    ranges::width(ranges::Cell::of(
        sw == SoftwareClass::PytorchEager,
        devices,
        dev.source.kind == "measured",
        engine,
    ))
}

/// The pipeline without what-ifs: check, resolve, plan, step model, totals.
pub fn estimate_core(s: &Scenario, measured: &[DeviceProfile]) -> Result<Estimate, InputErrors> {
    check(s)?;
    let r = resolve(s, measured)?;
    totals(s, r, measured)
}

/// A stage's device: the scenario's (pinned when resolved), or its own.
fn stage_device(
    s: &Scenario,
    st: &Stage,
    main: &DeviceProfile,
    measured: &[DeviceProfile],
    field: &str,
) -> Result<(DeviceProfile, Option<&'static DeviceSpec>), InputError> {
    let hw = st.hardware(s);
    if hw.device == s.hardware.device {
        let spec = catalog::find(&main.id).or_else(|| catalog::find(&s.hardware.device));
        return Ok((main.clone(), spec));
    }
    if let Some(p) = s.resolved.as_ref().and_then(|r| {
        r.stage_devices
            .iter()
            .find(|p| catalog::find(&hw.device).is_some_and(|d| d.id == p.id))
    }) {
        return Ok((p.clone(), catalog::find(&p.id)));
    }
    let p = device_profile(&hw.device, measured).ok_or_else(|| {
        InputError::new(
            format!("{field}.hardware.device"),
            format!(
                "unknown device `{}`; `jouleprint devices` lists the catalog ids and NVML names",
                hw.device
            ),
        )
    })?;
    let spec = catalog::find(&p.id);
    Ok((p, spec))
}

/// The totals of a checked, resolved scenario (no what-ifs: `estimate` adds them).
/// Errors: what only a stage's plan can tell (all stages' at once).
pub fn totals(
    s: &Scenario,
    r: Resolution,
    measured: &[DeviceProfile],
) -> Result<Estimate, InputErrors> {
    let Resolution {
        arch,
        device,
        spec: _,
        grid,
    } = r;
    let pue = s.infrastructure.pue;
    let host_load = if s.infrastructure.host_watts_per_device.is_some() {
        (1.0, 1.0, 1.0)
    } else {
        HOST_LOAD
    };
    let mut warnings: Vec<String> = s
        .stages
        .iter()
        .enumerate()
        .flat_map(|(i, st)| crate::check::ignored_knobs(i, st))
        .collect();
    if let Some(r) = &s.resolved {
        if r.estimator_version != ESTIMATOR_VERSION {
            warnings.push(format!(
                "this scenario was computed by {}; recomputed by {} with its pinned device and grid values, numbers may differ where the model changed",
                r.estimator_version, ESTIMATOR_VERSION
            ));
        }
    }

    // every stage's step on its devices, all errors at once
    let mut steps = Vec::with_capacity(s.stages.len());
    let mut errors = vec![];
    for (i, st) in s.stages.iter().enumerate() {
        let field = format!("stages[{i}]");
        let r = stage_device(s, st, &device, measured, &field).and_then(|(dev, spec)| {
            let hw = st.hardware(s);
            let sw = st.software(s);
            let host = s.host.unwrap_or_default();
            let w = &st.workload;
            if let Some(cfg) = &st.serving {
                let served =
                    crate::serving::serve(&arch, st, cfg, sw, &field, hw.count, &dev, &host)?;
                return Ok((dev, spec, StagePlan::Served(Box::new(served))));
            }
            let step = match &st.parallelism {
                Some(p) => {
                    let strategy =
                        Strategy::given(p, hw.count, w.batch, &format!("{field}.parallelism"))?;
                    schedule::stage_step(&arch, w, sw, &field, &strategy, &dev, &host)?
                }
                None => schedule::choose(&arch, w, sw, &field, hw.count, &dev, &host)?,
            };
            Ok((dev, spec, StagePlan::Batch(Box::new(step))))
        });
        match r {
            Ok(x) => steps.push(x),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(InputErrors(errors));
    }

    let mut stages = vec![];
    let mut first: Option<(StepPlan, StepCost, Range, (f64, f64))> = None;
    let mut total_energy = Range::zero();
    let mut total_co2 = Range::zero();
    let mut total_device = Range::zero();
    let mut device_hours = Range::zero();
    let mut wall_hours = Range::zero();
    let mut worst_mem: Option<MemoryCheck> = None;
    let mut stage_devices: Vec<DeviceProfile> = vec![];
    let mut datasheet_named: Vec<String> = vec![];
    let mut notes: Vec<String> = vec![];
    for (st, (dev, spec, stage_plan)) in s.stages.iter().zip(steps) {
        let step = match stage_plan {
            StagePlan::Batch(step) => *step,
            StagePlan::Served(served) => {
                let (stage, parts) =
                    served_stage(s, st, &dev, spec, &served, &grid, pue, host_load);
                total_energy = total_energy.plus(stage.energy_kwh);
                total_co2 = total_co2.plus(stage.co2e_kg);
                total_device = total_device.plus(stage.device_kwh);
                device_hours = device_hours.plus(stage.device_hours);
                wall_hours = wall_hours.plus(stage.wall_hours);
                if dev.id != device.id && !stage_devices.iter().any(|p| p.id == dev.id) {
                    stage_devices.push(dev.clone());
                }
                warnings.extend(parts.warnings);
                datasheet_warning(&mut warnings, &mut datasheet_named, &dev);
                precision_warning(&mut warnings, &stage.name, st, &dev);
                // per device of a replica: its weights shard, activations and
                // the KV cache of the concurrency the engine runs
                let mem = memory_check(&served.step.memory, &dev, served.tensor);
                if worst_mem
                    .as_ref()
                    .is_none_or(|w| mem.required_gb > w.required_gb)
                {
                    worst_mem = Some(mem);
                }
                notes.extend(parts.notes);
                if first.is_none() {
                    first = Some((
                        served.step.plan.clone(),
                        served.step.cost.clone(),
                        stage.joules_per_step,
                        (served.step.model_params, served.step.model_active_params),
                    ));
                }
                stages.push(stage);
                continue;
            }
        };
        let StageStep {
            seconds: sec,
            joules: joules_dev,
            plan: pl,
            cost,
            memory,
            strategy,
            model_flops,
            notes: _,
            model_params,
            model_active_params,
            replica_batch,
            ..
        } = step;
        let hw = st.hardware(s);
        let sw = st.software(s);
        let n_dev = hw.count as f64;
        if dev.id != device.id && !stage_devices.iter().any(|p| p.id == dev.id) {
            stage_devices.push(dev.clone());
        }
        datasheet_warning(&mut warnings, &mut datasheet_named, &dev);
        let host_rated = s
            .infrastructure
            .host_watts_per_device
            .or(spec.map(|d| d.host_w_per_device))
            .unwrap_or(0.25 * dev.power_limit_w);
        let stage_label = st
            .name
            .clone()
            .unwrap_or_else(|| st.kind.as_str().replace('_', " "));
        precision_warning(&mut warnings, &stage_label, st, &dev);
        if strategy.chosen {
            notes.push(format!(
                "stage {stage_label}: the model does not fit one device's memory with plain data parallelism; estimated with {} (give stages[].parallelism to choose)",
                strategy.describe()
            ));
        }
        let replicas = strategy.data as f64;
        let samples_per_step = replica_batch as f64 * replicas;
        let tokens_per_replica =
            pl.tokens * strategy.context as f64 * strategy.micro_batches as f64;
        let tokens_per_step = tokens_per_replica * replicas;
        let (steps_n, requests) = stage_steps(st, samples_per_step, tokens_per_step);
        let (u_energy, u_time) = widths(&pl, sw, hw.count, &dev, false);
        let seconds_per_step = Range::log_around(sec, u_time);
        let joules_per_step = Range::log_around(joules_dev * n_dev, u_energy);
        let runs = st.runs;
        let domain = dev.domain() as f64;
        // A multi-node training campaign spends part of its device time
        // outside productive steps (docs/energy-model.md, "Campaign goodput").
        let goodput = (st.workload.phase == Phase::Train && n_dev > domain)
            .then(|| st.goodput.unwrap_or(crate::tuning::CAMPAIGN_GOODPUT));
        let stretch = 1.0 / goodput.unwrap_or(1.0);
        let wall_s = sec * steps_n * runs * stretch;
        let lost_kwh = seconds_per_step.scale(
            (stretch - 1.0) * steps_n * runs * n_dev * (dev.idle_w + dev.active_floor_w) / 3.6e6,
        );
        let mut dev_kwh = joules_per_step.scale(steps_n * runs / 3.6e6).plus(lost_kwh);
        let mut wall_h = seconds_per_step.scale(steps_n * runs * stretch / 3600.0);
        if goodput.is_some() {
            // a campaign's totals spread as the published campaigns do, wider
            // than its steps (docs/energy-model.md, "Ranges")
            // (and sit where they fall: published runs take longer than
            // their steps need)
            let (u_e, u_t, s) = if pl.has_breakdown {
                let (u_e, u_t) = ranges::width(ranges::Cell::Campaign);
                (u_e, u_t, ranges::shift(ranges::Cell::Campaign))
            } else {
                (u_energy, u_time, 0.0)
            };
            dev_kwh = Range::log_shifted(dev_kwh.expected, s, u_e);
            wall_h = Range::log_shifted(wall_h.expected, s, u_t);
            if s != 0.0 {
                notes.push(format!(
                    "stage {stage_label}: its hours and energy range around {:.2}x the expected value, where published pre-training campaigns fell against their steps (docs/energy-model.md, \"Ranges\")",
                    (-s).exp()
                ));
            }
        }
        let switch_w = if n_dev > domain {
            SWITCH_W_PER_DEVICE
        } else {
            0.0
        };
        let host_kwh = Range {
            low: host_load.1,
            expected: host_load.0,
            high: host_load.2,
        }
        .scale(host_rated * n_dev * wall_s / 3.6e6)
        .plus(Range::exact(switch_w * n_dev * wall_s / 3.6e6));
        let energy = dev_kwh.plus(host_kwh).scale(pue);
        let mut co2 = energy.scale(grid.gco2e_per_kwh / 1000.0);
        let dh = n_dev * wall_s / 3600.0;
        let device_h = wall_h.scale(n_dev);
        let joules_per_request =
            requests.map(|_| joules_per_step.scale(1.0 / samples_per_step.max(1.0)));
        if s.infrastructure.embodied {
            if let Some(sp) = spec {
                co2 = co2.plus(Range::exact(
                    sp.embodied_kgco2e * dh / (sp.service_years * 8760.0),
                ));
            }
        }
        let tokens_per_request = tokens_per_replica / (replica_batch as f64).max(1.0);
        let (wh_req, wh_tok) = match requests {
            Some(r) if r > 0.0 => (
                Some(energy.scale(1000.0 / r)),
                Some(energy.scale(1000.0 / (r * tokens_per_request))),
            ),
            _ => (None, None),
        };
        total_energy = total_energy.plus(energy);
        total_co2 = total_co2.plus(co2);
        total_device = total_device.plus(dev_kwh);
        device_hours = device_hours.plus(device_h);
        wall_hours = wall_hours.plus(wall_h);
        let mem = memory_check(&memory, &dev, hw.count);
        if !mem.fits {
            warnings.push(if mem.devices_needed == 0 {
                format!(
                    "stage {stage_label}: activations alone need more than one {} ({:.0} GB): lower the batch or sequence, or use activation checkpointing or sequence parallelism",
                    dev.name, dev.memory_gb
                )
            } else {
                format!(
                    "stage {stage_label} needs {:.1} GB per device on {} but {} has {:.0} GB: shard the state (ZeRO/FSDP) over at least {} devices, or use tensor or pipeline parallelism (stages[].parallelism)",
                    mem.required_gb, devices_word(hw.count), dev.name, dev.memory_gb, mem.devices_needed
                )
            });
        }
        if worst_mem
            .as_ref()
            .is_none_or(|w| mem.required_gb > w.required_gb)
        {
            worst_mem = Some(mem);
        }
        let mfu = mfu(&dev, &pl, model_flops, sec, st.workload.phase);
        if let Some(u) = mfu {
            if st.workload.phase == Phase::Train && n_dev >= 64.0 && !(0.15..=0.65).contains(&u) {
                warnings.push(format!(
                    "stage {stage_label}: {:.0}% of the device's dense peak in model FLOPs (MFU), outside the 15-65% large training runs report (docs/energy-model.md, \"Training at scale\"): check the strategy",
                    u * 100.0
                ));
            }
        }
        // ZeRO-3 gathers crossing nodes are modelled as ideal: FSDP's flat
        // buffers came close, DeepSpeed's 2021 per-parameter gathers were far
        // slower (shared/data/validation/training-{fsdp,at-scale}.md)
        let stride = strategy.tensor * strategy.pipeline * strategy.context;
        if st.workload.phase == Phase::Train
            && strategy.zero >= 3
            && schedule::crosses_domains(strategy.data, stride, domain as u64)
        {
            warnings.push(format!(
                "stage {stage_label}: ZeRO-3/FSDP across nodes: its parameter gathers are taken as ideal (one buffer per pass at the nodes' full network bandwidth, hidden behind compute). Measured PyTorch FSDP steps (2023) on 16-512 GPUs took 0.95-1.45x the estimate (median 1.08x), DeepSpeed ZeRO-3 steps (2021) on 384-2240 GPUs 1.6-4.5x (docs/energy-model.md, \"Training at scale\"): with per-parameter gathers this time and energy may be low"
            ));
        }
        stages.push(StageEstimate {
            name: stage_label,
            kind: st.kind.as_str().into(),
            steps: steps_n * runs,
            flops_per_step: pl.counted_flops(),
            seconds_per_step,
            joules_per_step,
            device_kwh: dev_kwh,
            energy_kwh: energy,
            co2e_kg: co2,
            device_hours: device_h,
            wall_hours: wall_h,
            bound: cost.bound.into(),
            tokens_per_second: seconds_per_step.inverse(tokens_per_step),
            joules_per_token: joules_per_step.scale(1.0 / tokens_per_step.max(1.0)),
            joules_per_request,
            wh_per_request: wh_req,
            wh_per_token: wh_tok,
            strategy: (hw.count > 1 || st.parallelism.is_some()).then(|| strategy.describe()),
            mfu,
            serving: None,
            goodput,
        });
        if first.is_none() {
            first = Some((
                pl,
                cost,
                joules_per_step,
                (model_params, model_active_params),
            ));
        }
    }
    let Some((pl, cost, jps, (params, active_params))) = first else {
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
            .filter(|n| n.starts_with("unsupported") || n.starts_with("approximated"))
            .cloned(),
    );
    let headline_device = device.clone();
    Ok(Estimate {
        estimator_version: ESTIMATOR_VERSION.into(),
        params,
        active_params,
        flops_per_step: stages[0].flops_per_step,
        other_flops_per_step: pl.other_flops(),
        seconds_per_step: stages[0].seconds_per_step,
        joules_per_step: jps,
        energy_kwh: total_energy,
        co2e_kg: total_co2,
        device_kwh: total_device,
        device_hours,
        wall_hours,
        stages,
        memory: worst_mem.unwrap_or(MemoryCheck {
            required_gb: 0.0,
            available_gb: headline_device.memory_gb,
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
            device: headline_device,
            grid,
            stage_devices,
            headline: Some(Headline {
                energy_kwh: total_energy.expected,
                co2e_kg: total_co2.expected,
                device_hours: device_hours.expected,
                wall_hours: wall_hours.expected,
            }),
        },
        warnings,
        notes,
        what_ifs: vec![],
    })
}

/// "1 device", "8 devices".
fn devices_word(n: u64) -> String {
    if n == 1 {
        "1 device".into()
    } else {
        format!("{n} devices")
    }
}

/// Once per datasheet-derived device: its numbers are not measured.
fn datasheet_warning(warnings: &mut Vec<String>, named: &mut Vec<String>, dev: &DeviceProfile) {
    if dev.source.kind == "datasheet" && !named.contains(&dev.name) {
        named.push(dev.name.clone());
        warnings.push(format!(
            "{} has no measured calibration: coefficients derived from its datasheet, range widened",
            dev.name
        ));
    }
}

/// Model FLOPs per second of a training step over the device's dense peak in
/// the math its matrix products run in (model FLOPs utilisation as training
/// reports quote it): 16-bit and mixed precision against the 16-bit peak, FP8
/// against the FP8 peak where the device has one, as Databricks' FP8 MFU and
/// torchtitan (issue #560) count it, fp32 convolutions against the TF32 peak
/// cuDNN runs them at; the fastest mode any of its products uses, so that the
/// figure cannot pass 100% (against the 16-bit peak an FP8 run can).
fn mfu(
    dev: &DeviceProfile,
    plan: &StepPlan,
    flops: f64,
    seconds: f64,
    phase: Phase,
) -> Option<f64> {
    use crate::model::graph::OpKind;
    let spec = catalog::find(&dev.id)?;
    let mut peak: f64 = 0.0;
    plan.for_each_op(&mut |op, _| {
        if matches!(op.kind, OpKind::Matmul | OpKind::Conv | OpKind::Attention) && op.flops > 0.0 {
            let math = op.math.and_then(|m| dev.effective_math(m));
            if let Some(x) = spec.dense_tflops.iter().find(|(m, _)| Some(*m) == math) {
                peak = peak.max(x.1);
            }
        }
    });
    if peak <= 0.0 {
        peak = spec.dense_16bit_tflops();
    }
    (peak > 0.0 && seconds > 0.0 && phase == Phase::Train).then(|| flops / seconds / (peak * 1e12))
}

/// Memory per device against the device's, and the devices needed if the
/// state (weights, gradients, optimizer) were sharded over more of them.
pub fn memory_check(
    need: &crate::plan::MemoryNeed,
    p: &DeviceProfile,
    devices: u64,
) -> MemoryCheck {
    let avail = p.memory_gb * 1e9 * USABLE_MEMORY;
    let per_device = need.total();
    let room = avail - need.activations - need.kv_cache;
    let devices_needed = if room <= 0.0 {
        0
    } else {
        ((need.shardable() * devices.max(1) as f64) / room)
            .ceil()
            .max(1.0) as u64
    };
    MemoryCheck {
        required_gb: per_device / 1e9,
        available_gb: p.memory_gb,
        fits: per_device <= avail,
        devices_needed,
    }
}

/// A precision the device lacks is said, never silently replaced.
fn precision_warning(warnings: &mut Vec<String>, stage: &str, st: &Stage, dev: &DeviceProfile) {
    let want = st.workload.precision.matmul_math();
    match dev.effective_math(want) {
        Some(m) if m == want => {}
        Some(m) => warnings.push(format!(
            "stage {stage}: {} has no {} matrix units; its matmuls are estimated in {}",
            dev.name,
            want.as_str(),
            m.as_str()
        )),
        None => warnings.push(format!(
            "stage {stage}: {} has no {} matrix units (nor a close one); its matmuls are estimated in its fastest mode",
            dev.name,
            want.as_str()
        )),
    }
}

/// A stage's step: static batches, or a continuous-batching engine.
enum StagePlan {
    Batch(Box<StageStep>),
    Served(Box<crate::serving::ServingStep>),
}

struct ServedParts {
    warnings: Vec<String>,
    notes: Vec<String>,
}

/// The totals of a deployment served by a continuous-batching engine:
/// replicas kept up for the period (idle power between requests unless
/// they scale to zero), busy at the mean concurrency.
#[allow(clippy::too_many_arguments)]
fn served_stage(
    s: &Scenario,
    st: &Stage,
    dev: &DeviceProfile,
    spec: Option<&'static DeviceSpec>,
    sv: &crate::serving::ServingStep,
    grid: &crate::scenario::GridValue,
    pue: f64,
    host_load: (f64, f64, f64),
) -> (StageEstimate, ServedParts) {
    let cfg = st.serving.clone().unwrap_or_default();
    let w = &st.workload;
    let n_new = w.new_tokens.unwrap_or(1) as f64;
    let replicas = sv.replicas as f64;
    let devices = replicas * sv.tensor as f64;
    let sw = st.software(s);
    let (u_energy, u_time) = widths(&sv.step.plan, sw, devices as u64, dev, true);
    let always_on = cfg.always_on.unwrap_or(true);
    // seconds of the period, requests served, seconds busy per replica
    let (period, requests, busy_s) = if sv.saturated {
        let per_batch = sv.request_seconds;
        let batches = match (st.steps, st.requests_per_day, st.days) {
            (Some(n), _, _) => n,
            (None, Some(r), Some(d)) => (r * d / (replicas * sv.max_concurrency as f64)).ceil(),
            _ => 1.0,
        };
        let period = batches * per_batch;
        (
            period,
            batches * replicas * sv.max_concurrency as f64,
            period,
        )
    } else {
        let period = st.days.unwrap_or(1.0) * 86_400.0;
        let requests = st.requests_per_day.unwrap_or(0.0) * st.days.unwrap_or(1.0);
        (period, requests, sv.busy_fraction * period)
    };
    let idle_s = if always_on { period - busy_s } else { 0.0 };
    let busy_j = replicas * sv.busy_watts * busy_s;
    let idle_j = replicas * sv.idle_watts * idle_s;
    let up_s = busy_s + idle_s;
    let dev_kwh = Range::log_around((busy_j + idle_j) / 3.6e6, u_energy);
    let host_rated = s
        .infrastructure
        .host_watts_per_device
        .or(spec.map(|d| d.host_w_per_device))
        .unwrap_or(0.25 * dev.power_limit_w);
    let host_kwh = Range {
        low: host_load.1,
        expected: host_load.0,
        high: host_load.2,
    }
    .scale(host_rated * devices * up_s / 3.6e6);
    let energy = dev_kwh.plus(host_kwh).scale(pue);
    let mut co2 = energy.scale(grid.gco2e_per_kwh / 1000.0);
    if s.infrastructure.embodied {
        if let Some(sp) = spec {
            co2 = co2.plus(Range::exact(
                sp.embodied_kgco2e * devices * up_s / 3600.0 / (sp.service_years * 8760.0),
            ));
        }
    }
    let tokens = requests * n_new;
    let joules = busy_j + idle_j;
    let per = |k: f64| if k > 0.0 { 1.0 / k } else { 0.0 };
    let seconds_per_step = Range::log_around(sv.request_seconds, u_time);
    let joules_per_step = Range::log_around(sv.busy_watts * sv.request_seconds, u_energy);
    // a benchmark's period and a scale-to-zero deployment's device time follow
    // the step time; an always-on deployment's are the calendar's
    let timed = |h: f64, uncertain: bool| {
        if uncertain {
            Range::log_around(h, u_time)
        } else {
            Range::exact(h)
        }
    };
    let wall_h = timed(period / 3600.0, sv.saturated);
    let device_h = timed(devices * up_s / 3600.0, sv.saturated || !always_on);
    let label = st
        .name
        .clone()
        .unwrap_or_else(|| st.kind.as_str().replace('_', " "));
    let mut notes = vec![format!(
        "stage {label}: {} replica(s) of {} device(s), {:.1} concurrent sequences on average (at most {}), {:.0}% busy",
        sv.replicas,
        sv.tensor,
        sv.concurrency,
        sv.max_concurrency,
        sv.busy_fraction * 100.0
    )];
    notes.extend(sv.notes.iter().map(|n| format!("stage {label}: {n}")));
    let stage = StageEstimate {
        name: label,
        kind: st.kind.as_str().into(),
        steps: requests,
        flops_per_step: sv.step.plan.counted_flops(),
        seconds_per_step,
        joules_per_step,
        device_kwh: dev_kwh,
        energy_kwh: energy,
        co2e_kg: co2,
        device_hours: device_h,
        wall_hours: wall_h,
        bound: sv.step.cost.bound.into(),
        tokens_per_second: Range::log_around(tokens / period.max(1e-30), u_time),
        joules_per_token: Range::log_around(joules * per(tokens), u_energy),
        joules_per_request: Some(Range::log_around(joules * per(requests), u_energy)),
        wh_per_request: (requests > 0.0).then(|| energy.scale(1000.0 / requests)),
        wh_per_token: (tokens > 0.0).then(|| energy.scale(1000.0 / tokens)),
        strategy: Some(format!("{} replica(s) x tensor {}", sv.replicas, sv.tensor)),
        mfu: None,
        goodput: None,
        serving: Some(ServingReport {
            replicas: sv.replicas,
            tensor: sv.tensor,
            concurrency: sv.concurrency,
            max_concurrency: sv.max_concurrency,
            kv_limit: sv.kv_limit.min(1 << 40),
            ttft_s: sv.ttft_s,
            tpot_s: sv.tpot_s,
            utilisation: sv.busy_fraction,
            busy_kwh: busy_j / 3.6e6,
            idle_kwh: idle_j / 3.6e6,
        }),
    };
    (
        stage,
        ServedParts {
            warnings: vec![],
            notes,
        },
    )
}
