//! Plausibility of a calibration run against its device's datasheet: a run
//! whose derived profile is physically out of reach for the device is refused
//! before it can vote in a measured profile (`docs/api.md`, "Calibrations").
//!
//! The bounds are screens, not measurements: wide enough for every honest run
//! (the reference H100 run sits at 0.62-0.76x of its peaks and 0.17x idle),
//! narrow enough that a run cannot move a profile by orders of magnitude.
//! Only what the energy model takes from a run is bounded: the large-GEMM rate
//! of each math mode and the streaming bandwidth, idle power, the power limit
//! and every loop's average power (at most [`MAX_POWER`] x the board power,
//! and for the loops that do work, GEMMs, memory, element-wise and attention,
//! at least the run's idle: a loop cannot draw less than the idle GPU). Individual loops (small or skinny GEMMs,
//! L2-resident traffic) are not bounded by the peaks: they may run far below
//! them, or above the DRAM bandwidth.
//!
//! A measured run of a user's job ([`check_run`]) is held to the same
//! datasheet: its average power between the lowest idle a calibration may
//! report and the most any loop may draw, and the FLOPs the core counts for
//! its workload, per measured second, at most the GEMM bound above the
//! datasheet peak of its precision.

use shared::calibration::CalibrationRecord;
use shared::device::{DeviceProfile, DeviceSpec};

/// Large-GEMM rate of a math mode, as a fraction of its datasheet dense peak.
pub const GEMM_RATE: (f64, f64) = (0.2, 1.2);
/// Streaming bandwidth, as a fraction of the datasheet memory bandwidth.
pub const BANDWIDTH: (f64, f64) = (0.2, 1.1);
/// Idle power, as a fraction of the board power.
pub const IDLE: (f64, f64) = (0.03, 0.5);
/// Average power of any loop, and the enforced power limit, at most this
/// fraction of the board power.
pub const MAX_POWER: f64 = 1.3;
/// The enforced power limit at least this fraction of the board power
/// (power capping below a fifth of the board power is not a calibration).
pub const MIN_LIMIT: f64 = 0.2;

/// A derived value out of its bounds: the field it comes from, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Implausible {
    pub field: String,
    pub message: String,
}

fn out(field: impl Into<String>, message: String) -> Result<(), Implausible> {
    Err(Implausible {
        field: field.into(),
        message,
    })
}

fn within(v: f64, lo: f64, hi: f64) -> bool {
    v.is_finite() && v >= lo && v <= hi
}

/// Check a run and the profile derived from it against the device's datasheet.
pub fn check(
    rec: &CalibrationRecord,
    profile: &DeviceProfile,
    spec: &DeviceSpec,
) -> Result<(), Implausible> {
    let tdp = spec.tdp_w;
    let limit = rec.device.power_limit_mw as f64 / 1000.0;
    if !within(limit, MIN_LIMIT * tdp, MAX_POWER * tdp) {
        return out(
            "device.power_limit_mw",
            format!(
                "a power limit of {limit:.0} W is outside {MIN_LIMIT}-{MAX_POWER}x the {} board power ({tdp:.0} W)",
                spec.name
            ),
        );
    }
    if !within(profile.idle_w, IDLE.0 * tdp, IDLE.1 * tdp) {
        return out(
            "idle.avg_power_w",
            format!(
                "idle {:.1} W is outside {}-{}x the {} board power ({tdp:.0} W)",
                profile.idle_w, IDLE.0, IDLE.1, spec.name
            ),
        );
    }
    for (i, m) in rec.micro.iter().enumerate() {
        let p = m.avg_power();
        if !within(p, 0.0, MAX_POWER * tdp) {
            return out(
                format!("micro[{i}].joules"),
                format!(
                    "{} averages {p:.0} W, above {MAX_POWER}x the {} board power ({tdp:.0} W)",
                    m.name, spec.name
                ),
            );
        }
    }
    // The marginal energy of a loop is its power above idle (and the active
    // floor): below idle it is negative, and the derivation would clamp it to
    // a near-zero energy per FLOP or byte instead of failing. Launch and spin
    // loops keep the GPU barely above idle and are left out.
    for (i, m) in rec.micro.iter().enumerate() {
        use shared::calibration::MeasurementKind as K;
        if !matches!(m.kind, K::Gemm | K::Memory | K::Elementwise | K::Attention) {
            continue;
        }
        let p = m.avg_power();
        if p < profile.idle_w {
            return out(
                format!("micro[{i}].joules"),
                format!(
                    "{} averages {p:.1} W, below the run's idle power ({:.1} W): a loop doing work cannot draw less than the idle GPU; check its joules and seconds, and the idle measurement",
                    m.name, profile.idle_w
                ),
            );
        }
    }
    for (path, v) in crate::store::profiles::coefficients(profile) {
        if !v.is_finite() {
            return out(
                format!("profile.{path}"),
                format!("derives to a number that is not finite ({v}); check the FLOPs, bytes and seconds of the loops"),
            );
        }
    }
    for (mode, rate) in &profile.gemm_tflops {
        let field = format!("profile.gemm_tflops.{}", mode.as_str());
        let Some(peak) = spec
            .dense_tflops
            .iter()
            .find(|(m, _)| m == mode)
            .map(|(_, p)| *p)
        else {
            return out(
                field,
                format!(
                    "the {} datasheet gives no {} peak: a run cannot measure a mode the device lacks",
                    spec.name,
                    mode.as_str()
                ),
            );
        };
        if !within(*rate, GEMM_RATE.0 * peak, GEMM_RATE.1 * peak) {
            return out(
                field,
                format!(
                    "the largest {} GEMM ran at {rate:.4e} TFLOP/s, outside {}-{}x the datasheet peak ({peak} TFLOP/s); check its flops_per_step and seconds",
                    mode.as_str(),
                    GEMM_RATE.0,
                    GEMM_RATE.1
                ),
            );
        }
    }
    let bw = spec.mem_bw_gbs;
    if !within(profile.mem_gbs, BANDWIDTH.0 * bw, BANDWIDTH.1 * bw) {
        return out(
            "profile.mem_gbs",
            format!(
                "the streaming loop moved {:.4e} GB/s, outside {}-{}x the datasheet bandwidth ({bw} GB/s); check its bytes_per_step and seconds",
                profile.mem_gbs, BANDWIDTH.0, BANDWIDTH.1
            ),
        );
    }
    Ok(())
}

/// Check a measured run (`POST /api/runs`) against its device's datasheet:
/// `avg_w` its average power (joules / seconds per step), `flops_per_step`
/// the FLOPs the core counts for its workload (and, when the client sent one,
/// its own count), `seconds_per_step` the measured time.
pub fn check_run(
    case: &shared::validate::Case,
    counted_flops_per_step: f64,
    spec: &DeviceSpec,
) -> Result<(), Implausible> {
    let tdp = spec.tdp_w;
    let m = &case.measured;
    let avg = m.joules_per_step / m.seconds_per_step;
    if !within(avg, IDLE.0 * tdp, MAX_POWER * tdp) {
        return out(
            "case.measured.joules_per_step",
            format!(
                "{:.4} J in {:.4} s per step is {avg:.1} W on average, outside {}-{MAX_POWER}x the {} board power ({tdp:.0} W: {:.0}-{:.0} W); check the energy and the steps counted in the window",
                m.joules_per_step,
                m.seconds_per_step,
                IDLE.0,
                spec.name,
                IDLE.0 * tdp,
                MAX_POWER * tdp
            ),
        );
    }
    if let Some(p) = m.avg_power_w {
        if !(p.is_finite() && (p - avg).abs() <= 0.05 * avg) {
            return out(
                "case.measured.avg_power_w",
                format!(
                    "{p} W disagrees with joules_per_step / seconds_per_step ({avg:.1} W) by more than 5%"
                ),
            );
        }
    }
    let mode = case.precision.matmul_math();
    // A precision the device has no peak for (fp8 on an A100) is bounded by
    // its fastest mode: still a screen against impossible rates.
    let peak = spec
        .dense_tflops
        .iter()
        .find(|(md, _)| *md == mode)
        .map(|(_, p)| *p)
        .or_else(|| spec.dense_tflops.iter().map(|(_, p)| *p).reduce(f64::max));
    if let Some(peak) = peak {
        let bound = GEMM_RATE.1 * peak * 1e12;
        for (field, flops) in [
            (
                "case.measured.seconds_per_step",
                Some(counted_flops_per_step),
            ),
            ("case.measured.flops_per_step", m.flops_per_step),
        ] {
            let Some(flops) = flops else { continue };
            let rate = flops / m.seconds_per_step;
            if !(rate.is_finite() && rate <= bound) {
                return out(
                    field,
                    format!(
                        "{flops:.4e} counted FLOPs per step in {:.4} s is {:.1} TFLOP/s, above {}x the {} datasheet peak for {} ({peak} TFLOP/s): the step cannot run that fast; check the steps counted in the window and the workload (batch, lengths, precision)",
                        m.seconds_per_step,
                        rate / 1e12,
                        GEMM_RATE.1,
                        spec.name,
                        case.precision.as_str()
                    ),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::calibration::{profile_from_record, H100_REFERENCE_CALIBRATION};

    fn reference() -> (CalibrationRecord, &'static DeviceSpec) {
        let rec: CalibrationRecord =
            serde_json::from_str(H100_REFERENCE_CALIBRATION).expect("reference");
        (rec, shared::catalog::find("h100-sxm").expect("h100"))
    }

    #[test]
    fn the_reference_run_is_plausible() {
        let (rec, spec) = reference();
        let p = profile_from_record(&rec).expect("profile");
        assert_eq!(check(&rec, &p, spec), Ok(()));
    }

    #[test]
    fn rates_out_of_reach_are_named() {
        let (rec, spec) = reference();
        let mut p = profile_from_record(&rec).expect("profile");
        // bf16: 989.4 TFLOP/s dense peak; 1.2x is 1187.3.
        p.gemm_tflops.insert(shared::units::MathMode::Bf16, 1190.0);
        let e = check(&rec, &p, spec).expect_err("too fast");
        assert_eq!(e.field, "profile.gemm_tflops.bf16");
        p.gemm_tflops.insert(shared::units::MathMode::Bf16, 1187.0);
        assert!(check(&rec, &p, spec).is_ok());
        p.mem_gbs = 3350.0 * 1.11;
        assert_eq!(
            check(&rec, &p, spec).expect_err("bw").field,
            "profile.mem_gbs"
        );
        p.mem_gbs = 3350.0 * 0.19;
        assert_eq!(
            check(&rec, &p, spec).expect_err("bw").field,
            "profile.mem_gbs"
        );
        p.mem_gbs = 2000.0;
        p.idle_w = 0.02 * 700.0;
        assert_eq!(
            check(&rec, &p, spec).expect_err("idle").field,
            "idle.avg_power_w"
        );
        p.idle_w = 100.0;
        p.pj_per_byte = f64::INFINITY;
        assert_eq!(
            check(&rec, &p, spec).expect_err("inf").field,
            "profile.pj_per_byte"
        );
    }

    #[test]
    fn a_working_loop_below_idle_is_named() {
        let (mut rec, spec) = reference();
        // Idle 121.59 W; micro[4] is gemm_bf16_512 at 299.065 J / 1.68941 s
        // = 177.02 W. Idle at 180 W puts it 2.98 W below.
        rec.idle.avg_power_w = 180.0;
        let p = profile_from_record(&rec).expect("profile");
        assert_eq!(p.idle_w, 180.0);
        let e = check(&rec, &p, spec).expect_err("below idle");
        assert_eq!(e.field, "micro[4].joules");
        assert!(
            e.message.starts_with(
                "gemm_bf16_512 averages 177.0 W, below the run's idle power (180.0 W)"
            ),
            "{}",
            e.message
        );
        // At 177 W idle every working loop is above it.
        rec.idle.avg_power_w = 177.0;
        let p = profile_from_record(&rec).expect("profile");
        assert_eq!(check(&rec, &p, spec), Ok(()));
    }

    fn h100_case(joules: f64, seconds: f64) -> shared::validate::Case {
        serde_json::from_value(serde_json::json!({
            "name": "t", "device": "h100-sxm", "model": {"preset": "gpt2"},
            "phase": "train", "precision": "bf16", "batch": 8, "seq": 1024,
            "measured": {"joules_per_step": joules, "seconds_per_step": seconds}
        }))
        .expect("case")
    }

    #[test]
    fn measured_runs_within_the_datasheet() {
        let spec = shared::catalog::find("h100-sxm").expect("h100");
        // 700 W board: 21 W (0.03x) to 910 W (1.3x) on average.
        assert_eq!(check_run(&h100_case(300.0, 1.0), 1e12, spec), Ok(()));
        assert_eq!(check_run(&h100_case(909.0, 1.0), 1e12, spec), Ok(()));
        let e = check_run(&h100_case(911.0, 1.0), 1e12, spec).expect_err("hot");
        assert_eq!(e.field, "case.measured.joules_per_step");
        let e = check_run(&h100_case(20.0, 1.0), 1e12, spec).expect_err("cold");
        assert_eq!(e.field, "case.measured.joules_per_step");
        // bf16 peak 989.4 TFLOP/s, 1.2x: 1187.28 TFLOP/s.
        assert!(check_run(&h100_case(300.0, 1.0), 1.187e15, spec).is_ok());
        let e = check_run(&h100_case(300.0, 1.0), 1.188e15, spec).expect_err("fast");
        assert_eq!(e.field, "case.measured.seconds_per_step");
        let mut c = h100_case(300.0, 1.0);
        c.measured.flops_per_step = Some(2e15);
        assert_eq!(
            check_run(&c, 1e12, spec).expect_err("own count").field,
            "case.measured.flops_per_step"
        );
        let mut c = h100_case(300.0, 1.0);
        c.measured.avg_power_w = Some(330.0);
        assert_eq!(
            check_run(&c, 1e12, spec).expect_err("avg").field,
            "case.measured.avg_power_w"
        );
    }
}
