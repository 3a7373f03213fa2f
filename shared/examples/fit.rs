//! Fit the global constants of the energy model (`tuning::Tuning`) on the
//! reference cases and the host-bound published cases (`validate::fit`), and
//! report in-sample and leave-one-out errors:
//! `cargo run --release -p jouleprint-shared --example fit [-- CASES.jsonl...]`.
//!
//! Cases files given (the validation case format, e.g. the runs users shared,
//! pulled with `jouleprint validate --from URL --save FILE`) join the
//! reference cases in the fit (docs/measuring.md, "Refitting from the shared
//! runs"). Leave-one-out fits once per case: with many cases it takes a while.

use shared::serving::{VLLM05_HOST, WAIT_FLOOR_SHARE};
use shared::tuning::{CAMPAIGN_GOODPUT, GOODPUT_PRIOR, PRIOR, TUNING};
use shared::validate::fit::{
    best_factor_floor, campaigns, engine_cases, engine_joules, fit, fit_engine, fit_goodput,
    fit_set, fit_wait_share, host_bound_set, pretraining_set, published_sets, EngineCase, FitCase,
};

fn main() {
    let mut set = fit_set();
    let reference = set.len();
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("fit: cannot read {path}: {e}");
                std::process::exit(2);
            }
        };
        for parsed in shared::validate::parse_cases(&text) {
            match parsed {
                Ok(c) => set.push(FitCase::Measured(Box::new(c))),
                Err((name, e)) => eprintln!("fit: {path}: {name}: left out: {e}"),
            }
        }
    }
    if set.len() > reference {
        println!(
            "{} reference cases and {} from the files given",
            reference,
            set.len() - reference
        );
    }
    let all: Vec<usize> = (0..set.len()).collect();
    let fitted = fit(&set, &all);
    println!("prior:   {PRIOR:?}");
    println!("fitted:  {fitted:?}");
    println!("in code: {TUNING:?}");
    println!();
    println!(
        "{:<64} {:>10} {:>10} {:>10} {:>10}",
        "case", "E in", "E loo", "t in", "t loo"
    );
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:+.1}%", v * 100.0));
    for i in 0..set.len() {
        let rest: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
        let loo = fit(&set, &rest);
        let e_in = set[i].errors(&fitted);
        let e_loo = set[i].errors(&loo);
        println!(
            "{:<64} {:>10} {:>10} {:>10} {:>10}",
            set[i].name(),
            pct(e_in.and_then(|e| e.0)),
            pct(e_loo.and_then(|e| e.0)),
            pct(e_in.map(|e| e.1)),
            pct(e_loo.map(|e| e.1)),
        );
    }
    println!();
    println!("out of sample: the host-bound published cases at the fitted constants");
    for c in host_bound_set() {
        println!(
            "{:<64} {:>10}",
            c.name(),
            pct(c.errors(&fitted).map(|e| e.1))
        );
    }

    println!();
    let camp = campaigns(pretraining_set());
    let all: Vec<usize> = (0..camp.len()).collect();
    let g = fit_goodput(&camp, &all);
    println!(
        "campaign goodput: prior {GOODPUT_PRIOR}, fitted {g:.3} on {} multi-node runs, in code {CAMPAIGN_GOODPUT}",
        camp.len()
    );
    println!("{:<64} {:>10} {:>10} {:>10}", "run", "at g=1", "in", "loo");
    let mut loo_logs = vec![];
    let mut in_logs = vec![];
    let mut prior_logs = vec![];
    for i in 0..camp.len() {
        let rest: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
        let gl = fit_goodput(&camp, &rest);
        let r = camp[i].ratio_at_full_goodput;
        loo_logs.push((r / gl).ln().abs());
        in_logs.push((r / g).ln().abs());
        prior_logs.push((r / GOODPUT_PRIOR).ln().abs());
        println!(
            "{:<64} {:>10.3} {:>10.3} {:>10.3}",
            camp[i].name,
            r,
            r / g,
            r / gl
        );
    }
    let med = |v: &[f64]| shared::stats::median(v).unwrap_or(f64::NAN);
    println!(
        "median |ln(estimate/published)|: at the prior {:.3}, in-sample {:.3}, leave-one-out {:.3}",
        med(&prior_logs),
        med(&in_logs),
        med(&loo_logs)
    );
    let ratios: Vec<f64> = camp.iter().map(|c| c.ratio_at_full_goodput).collect();
    if let Some((k, floor)) = best_factor_floor(&ratios) {
        println!(
            "best single factor for every run (in-sample): x{k:.3} on the estimate, median |ln| {floor:.3}"
        );
    }

    engine_host_time();
}

/// The vLLM 0.5 engine's host time: fitted on the serving set's vLLM 0.5.4
/// configurations, with each configuration's throughput and energy per token
/// in sample and left out, then the held-out configurations
/// (`serving-held-out.jsonl`) with the constants fitted on the ten.
fn engine_host_time() {
    let serving = published_sets()[1];
    let eng = engine_cases(serving);
    let all: Vec<usize> = (0..eng.len()).collect();
    let h = fit_engine(&eng, &all);
    let k = fit_wait_share(&eng, serving, &all, h);
    println!();
    println!(
        "engine host time (vllm-0.5): fitted {:.3} ms per step + {:.4} ms per sequence + {:.4} ms per sequence and further device, waiting at idle + {k:.3} x floor, on {} configurations; in code {} + {} + {}, {WAIT_FLOOR_SHARE}",
        h.per_step,
        h.per_sequence,
        h.per_extra_device,
        eng.len(),
        VLLM05_HOST.per_step,
        VLLM05_HOST.per_sequence,
        VLLM05_HOST.per_extra_device
    );
    println!(
        "{:<56} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "configuration", "implied", "tok/s in", "loo", "J/tok in", "loo"
    );
    // estimate / published energy per token at a host time and a wait share
    let joules = |text: &str, c: &EngineCase, ms: f64, share: f64| -> Option<f64> {
        let (est, published, floor) = engine_joules(text, c, ms)?;
        let adjust = ms * 1e-3 * (share - WAIT_FLOOR_SHARE) * floor * c.devices.max(1) as f64;
        Some((est + adjust) / published)
    };
    let tps = |c: &EngineCase, ms: f64| c.published_s_per_token / (c.gpu_s_per_token + ms * 1e-3);
    let (mut t_in, mut t_loo, mut e_in, mut e_loo) = (vec![], vec![], vec![], vec![]);
    for (i, c) in eng.iter().enumerate() {
        let rest: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
        let hl = fit_engine(&eng, &rest);
        let kl = fit_wait_share(&eng, serving, &rest, hl);
        let (ms_in, ms_loo) = (c.host_ms_per_sequence(&h), c.host_ms_per_sequence(&hl));
        let (ji, jl) = (joules(serving, c, ms_in, k), joules(serving, c, ms_loo, kl));
        t_in.push(tps(c, ms_in).ln().abs());
        t_loo.push(tps(c, ms_loo).ln().abs());
        e_in.extend(ji.map(|r| r.ln().abs()));
        e_loo.extend(jl.map(|r| r.ln().abs()));
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        println!(
            "{:<56} {:>7.3} {:>9.3} {:>9.3} {:>9} {:>9}",
            c.name.strip_suffix("_tokens_per_second").unwrap_or(&c.name),
            c.implied_ms(),
            tps(c, ms_in),
            tps(c, ms_loo),
            f(ji),
            f(jl)
        );
    }
    let med = |v: &[f64]| shared::stats::median(v).unwrap_or(f64::NAN);
    println!(
        "median |ln(estimate/published)|: tokens/s in-sample {:.3}, leave-one-out {:.3}; J/token in-sample {:.3}, leave-one-out {:.3}",
        med(&t_in),
        med(&t_loo),
        med(&e_in),
        med(&e_loo)
    );
    // out of sample: the held-out configurations with the constants of the ten
    let held = include_str!("../data/validation/serving-held-out.jsonl");
    let (mut t_out, mut e_out) = (vec![], vec![]);
    for c in engine_cases(held) {
        let ms = c.host_ms_per_sequence(&h);
        t_out.push(tps(&c, ms).ln().abs());
        e_out.extend(joules(held, &c, ms, k).map(|r| r.ln().abs()));
    }
    println!(
        "held out ({} configurations, none in the fit): tokens/s {:.3}, J/token {:.3}",
        t_out.len(),
        med(&t_out),
        med(&e_out)
    );
}
