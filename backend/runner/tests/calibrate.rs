//! The calibration pipeline on the simulated device (no GPU needed).

use runner::fake::{SimConfig, SimDevice};
use runner::suite::{self, Progress};
use runner::{
    plan, planned_duration, DeviceShape, Kernel, KernelRunner, MeterError, PowerMeter, SuiteError,
    SuiteOptions,
};
use shared::calibration::{profile_from_record, CalibrationRecord, MeasurementKind};
use shared::units::{MathMode, Seconds};
use std::sync::atomic::AtomicBool;

fn run_fake(dev: &SimDevice, opts: &SuiteOptions) -> Result<CalibrationRecord, SuiteError> {
    let mut meter = dev.meter();
    let mut runner = dev.runner();
    let cancel = AtomicBool::new(false);
    suite::run(&mut meter, &mut runner, opts, &cancel, &mut |_| {})
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    let rel = (got - want).abs() / want.abs();
    assert!(
        rel <= tol,
        "{what}: got {got}, simulated {want} ({:.3}% off, tolerance {:.1}%)",
        rel * 100.0,
        tol * 100.0
    );
}

#[test]
fn full_pipeline_recovers_the_simulated_coefficients_within_1_percent() {
    let dev = SimDevice::h100();
    let truth = dev.profile();
    let rec = run_fake(&dev, &SuiteOptions::full()).expect("suite runs on the fake device");
    rec.validate().expect("record validates");
    // Round trip through JSON, as written to --out and sent to the API.
    let json = serde_json::to_string_pretty(&rec).unwrap();
    let back: CalibrationRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back.run_id, rec.run_id);
    assert_eq!(back.micro.len(), rec.micro.len());
    back.validate().expect("parsed record validates");

    let derived = profile_from_record(&back).unwrap();
    close("idle_w", derived.idle_w, truth.idle_w, 0.01);
    close(
        "active_floor_w",
        derived.active_floor_w,
        truth.active_floor_w,
        0.01,
    );
    close("pj_per_byte", derived.pj_per_byte, truth.pj_per_byte, 0.01);
    close("mem_gbs", derived.mem_gbs, truth.mem_gbs, 0.01);
    for &mode in MathMode::ALL {
        let (Some(pj), Some(tf)) = (truth.pj_per_flop.get(&mode), truth.gemm_tflops.get(&mode))
        else {
            continue;
        };
        close(
            &format!("pj_per_flop[{}]", mode.as_str()),
            derived.pj_per_flop[&mode],
            *pj,
            0.01,
        );
        close(
            &format!("gemm_tflops[{}]", mode.as_str()),
            derived.gemm_tflops[&mode],
            *tf,
            0.01,
        );
    }
    close(
        "kernel_latency_us",
        derived.kernel_latency_us,
        truth.kernel_latency_us,
        0.01,
    );
    close(
        "gemm_latency_us",
        derived.gemm_latency_us,
        truth.gemm_latency_us,
        0.01,
    );
    // The record carries the derived coefficients too.
    let d = rec
        .derived
        .as_ref()
        .expect("derived coefficients in the record");
    for (mode, pj) in &derived.pj_per_flop {
        close(
            "record's derived pJ/FLOP",
            d.profile.pj_per_flop[mode],
            *pj,
            1e-9,
        );
    }
    assert!(d.launch_energy_uj.unwrap() > 0.0);
    assert!(d
        .gemm_efficiency
        .iter()
        .any(|g| g.name == "gemm_bf16_512" && g.efficiency < 0.5));

    // Core loops: three repeats, spread reported, >= 2 s each on the device;
    // sweep loops: once, >= 1 s.
    let run = rec.run.as_ref().unwrap();
    assert_eq!(run.repeats, 3);
    assert_eq!(run.suite, "full");
    assert_eq!(run.runner, "simulated");
    assert_eq!(back.schema_version, 2);
    let core: Vec<String> = plan(false, DeviceShape::GH100)
        .iter()
        .filter(|p| !p.sweep)
        .map(|p| p.kernel.name())
        .collect();
    for m in &rec.micro {
        assert!(m.device_timed);
        if core.contains(&m.name) {
            assert!(m.spread.is_some(), "{} has no spread", m.name);
            assert!(m.seconds >= 3.0 * 2.0, "{}: {} s", m.name, m.seconds);
        } else {
            assert!(m.spread.is_none(), "{} is a sweep loop", m.name);
            assert!(m.seconds >= 1.0, "{}: {} s", m.name, m.seconds);
        }
        let c = m.conditions.as_ref().expect("sampled conditions");
        assert!(c.samples >= 40, "{}: {} samples", m.name, c.samples);
        assert_eq!(m.settled, Some(true), "{}", m.name);
    }
    assert!(rec.flags.is_empty(), "{:?}", rec.flags);
    let text = suite::summary(&rec);
    assert!(text.contains("gemm_bf16_8192"), "{text}");
    assert!(text.contains("derived:"), "{text}");
}

#[test]
fn reference_file_still_parses_and_validates() {
    let json = include_str!("../../../shared/data/h100-sxm-calibration.json");
    let rec: CalibrationRecord = serde_json::from_str(json).unwrap();
    rec.validate().unwrap();
    assert!(rec.run.is_none() && rec.derived.is_none());
    assert_eq!(rec.schema_version, 1);
}

#[test]
fn quick_suite_is_a_dozen_kernels_under_60_s_by_construction() {
    let quick = plan(true, DeviceShape::GH100);
    assert!((11..=13).contains(&quick.len()), "{} kernels", quick.len());
    let opts = SuiteOptions::quick();
    assert_eq!(opts.repeats, 1);
    // Plan with a generous counter period (100 ms); real counters update faster.
    let planned = planned_duration(&quick, &opts, Seconds(0.1));
    assert!(planned.0 < 60.0, "quick plan takes {} s", planned.0);
    let full = planned_duration(
        &plan(false, DeviceShape::GH100),
        &SuiteOptions::full(),
        Seconds(0.1),
    );
    assert!(full.0 < 7.5 * 60.0, "full plan takes {} s", full.0);

    // And a simulated run stays within its plan.
    let dev = SimDevice::h100();
    let t0 = dev.now();
    let mut planned_seen = 0.0;
    let mut meter = dev.meter();
    let mut runner = dev.runner();
    let rec = suite::run(
        &mut meter,
        &mut runner,
        &opts,
        &AtomicBool::new(false),
        &mut |p| {
            if let Progress::Start { planned_s, .. } = p {
                planned_seen = planned_s;
            }
        },
    )
    .unwrap();
    let took = dev.now() - t0;
    assert!(
        took < planned_seen,
        "took {took} s, planned {planned_seen} s"
    );
    assert!(planned_seen < 60.0);
    assert_eq!(rec.run.as_ref().unwrap().suite, "quick");
    assert!(rec.micro.iter().all(|m| m.spread.is_none()));
    assert!(rec.micro.iter().any(|m| m.kind == MeasurementKind::Launch));
}

#[test]
fn windows_align_to_counter_edges_and_short_ones_are_refused() {
    let mut cfg = SimConfig::h100();
    cfg.update_period_s = 0.050; // coarse counter
    let dev = SimDevice::new(cfg);
    let mut meter = dev.meter();
    let mut runner = dev.runner();
    // The meter measured the counter's update period.
    let p = meter.update_period().0;
    assert!((p - 0.050).abs() < 0.002, "period {p}");
    assert!((meter.min_window().0 - 0.5).abs() < 0.03);

    // Too short: refused, not silently wrong.
    let w = meter.begin().unwrap();
    runner.idle(Seconds(0.1)).unwrap();
    match meter.end(w) {
        Err(MeterError::WindowTooShort { got, min, .. }) => assert!(got < min),
        other => panic!("expected WindowTooShort, got {other:?}"),
    }

    // Long enough: idle power exact despite 50 ms updates and mJ steps,
    // because both ends sit on update edges.
    let idle = dev.profile().idle_w;
    for secs in [0.61, 1.03, 2.0] {
        let w = meter.begin().unwrap();
        runner.idle(Seconds(secs)).unwrap();
        let m = meter.end(w).unwrap();
        assert!(m.window.0 >= secs && m.window.0 < secs + 0.051);
        close("idle power", m.energy.0 / m.window.0, idle, 1e-4);
    }

    // A loop's energy, with the idle tail taken off, matches the simulation.
    let k = Kernel::square(MathMode::Bf16, 8192);
    runner.prepare(&k).unwrap();
    let w = meter.begin().unwrap();
    let busy = runner.run(&k, 400).unwrap();
    let m = meter.end(w).unwrap();
    let prof = dev.profile();
    let f = k.flops().unwrap();
    let want = (prof.idle_w + prof.active_floor_w) * busy.0
        + prof.pj_per_flop[&MathMode::Bf16] * 1e-12 * f * 400.0;
    close("loop energy", m.energy_of(busy, idle).0, want, 1e-4);
}

#[test]
fn the_full_suite_on_a_coarse_counter_still_recovers_within_1_percent() {
    let mut cfg = SimConfig::h100();
    cfg.update_period_s = 0.100;
    let dev = SimDevice::new(cfg);
    let truth = dev.profile();
    let rec = run_fake(&dev, &SuiteOptions::quick()).unwrap();
    let d = profile_from_record(&rec).unwrap();
    close("idle_w", d.idle_w, truth.idle_w, 0.01);
    close("floor", d.active_floor_w, truth.active_floor_w, 0.01);
    close(
        "bf16 pJ/FLOP",
        d.pj_per_flop[&MathMode::Bf16],
        truth.pj_per_flop[&MathMode::Bf16],
        0.01,
    );
}

#[test]
fn other_processes_on_the_gpu_are_refused_unless_allowed() {
    let mut cfg = SimConfig::h100();
    cfg.other_processes = vec![4242];
    let dev = SimDevice::new(cfg);
    match run_fake(&dev, &SuiteOptions::quick()) {
        Err(SuiteError::OtherProcesses { pids, .. }) => assert_eq!(pids, vec![4242]),
        other => panic!("expected a refusal, got {:?}", other.map(|r| r.flags)),
    }
    let mut opts = SuiteOptions::quick();
    opts.allow_other_processes = true;
    let rec = run_fake(&dev, &opts).unwrap();
    assert!(rec.flags.iter().any(|f| f.starts_with("other_processes")));
}

#[test]
fn thermal_throttle_flags_the_run_but_power_capping_does_not() {
    let mut cfg = SimConfig::h100();
    cfg.throttle_reasons = vec!["sw_power_cap".into(), "hw_thermal_slowdown".into()];
    let dev = SimDevice::new(cfg);
    let rec = run_fake(&dev, &SuiteOptions::quick()).unwrap();
    let m = &rec.micro[0];
    assert_eq!(m.flags, vec!["throttle:hw_thermal_slowdown".to_string()]);
    assert!(rec
        .flags
        .iter()
        .any(|f| f.ends_with("throttle:hw_thermal_slowdown")));
    // Running at the power limit is normal for large GEMMs: not a flag, not a condition.
    assert!(!rec.flags.iter().any(|f| f.contains("power")));
    let c = rec.conditions.as_ref().unwrap();
    assert_eq!(
        c.throttle_reasons_after,
        vec!["hw_thermal_slowdown".to_string()]
    );
}

#[test]
fn cancelling_stops_the_run_without_a_record() {
    let dev = SimDevice::h100();
    let mut meter = dev.meter();
    let mut runner = dev.runner();
    let cancel = AtomicBool::new(false);
    let mut kernels = 0;
    let r = suite::run(
        &mut meter,
        &mut runner,
        &SuiteOptions::quick(),
        &cancel,
        &mut |p| {
            if let Progress::Kernel { .. } = p {
                kernels += 1;
                if kernels == 3 {
                    cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        },
    );
    assert!(matches!(r, Err(SuiteError::Cancelled)), "{:?}", r.err());
}

#[test]
fn unsupported_gemms_are_skipped_and_listed() {
    let mut cfg = SimConfig::h100();
    cfg.profile.gemm_tflops.remove(&MathMode::Int8);
    let dev = SimDevice::new(cfg);
    let rec = run_fake(&dev, &SuiteOptions::quick()).unwrap();
    assert!(rec.micro.iter().all(|m| m.dtype != "int8"));
    assert_eq!(
        rec.run.as_ref().unwrap().skipped,
        vec!["gemm_int8_8192".to_string()]
    );
    rec.validate().unwrap();
}

#[test]
fn a_clock_drop_during_a_loop_flags_that_loop_and_the_run() {
    // The drop happens at a simulated time; wherever it falls inside a timed
    // loop, that loop (and only that one: later loops run at the low clock
    // from start to end) is flagged, and the run with it.
    let mut flagged_somewhere = false;
    for t in [12.0, 16.0, 20.0, 24.0, 28.0, 32.0] {
        let mut cfg = SimConfig::h100();
        cfg.clock_drop_after_s = Some(t);
        let dev = SimDevice::new(cfg);
        let rec = run_fake(&dev, &SuiteOptions::quick()).unwrap();
        let dropped: Vec<_> = rec
            .micro
            .iter()
            .filter(|m| m.flags.contains(&"clock_drop".to_string()))
            .map(|m| m.name.clone())
            .collect();
        assert!(dropped.len() <= 1, "{dropped:?}");
        if let Some(name) = dropped.first() {
            flagged_somewhere = true;
            assert!(rec.flags.contains(&format!("{name}:clock_drop")));
            let m = rec.micro.iter().find(|m| &m.name == name).unwrap();
            let c = m.conditions.as_ref().unwrap();
            assert!(c.sm_clock_min_mhz.unwrap() < c.sm_clock_median_mhz.unwrap());
        }
        let c = rec.conditions.unwrap();
        assert!(c.sm_clock_after_mhz < c.sm_clock_before_mhz);
        assert!(c.temperature_after_c > c.temperature_before_c);
    }
    assert!(flagged_somewhere, "no drop fell inside a loop");
}
