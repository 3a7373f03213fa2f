//! Fit the global constants of the energy model (`tuning::Tuning`) on the
//! reference cases and report the leave-one-out error:
//! `cargo run --release -p jouleprint-shared --example fit [CASES.jsonl]`.
//! The objective is the sum of squared log errors of energy and time per case,
//! plus a weak pull toward the priors (`tuning::PRIOR`) so that a constant no
//! remaining case informs keeps its prior in leave-one-out.

use shared::tuning::{PRIOR, TUNING};
use shared::validate::fit::{case_errors, fit_cases, reference_cases};

fn main() {
    let text = match std::env::args().nth(1) {
        Some(p) => std::fs::read_to_string(p).expect("read cases"),
        None => reference_cases().to_string(),
    };
    let cases = shared::validate::parse_cases(&text)
        .into_iter()
        .filter_map(Result::ok)
        .collect::<Vec<_>>();
    let all: Vec<usize> = (0..cases.len()).collect();
    let fitted = fit_cases(&cases, &all);
    println!("prior:   {PRIOR:?}");
    println!("fitted:  {fitted:?}");
    println!("in code: {TUNING:?}");
    println!();
    println!("{:<36} {:>12} {:>12}", "case", "in-sample", "leave-one-out");
    for i in 0..cases.len() {
        let rest: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
        let loo = fit_cases(&cases, &rest);
        let e_in = case_errors(&cases[i], &fitted).map(|e| e.0);
        let e_loo = case_errors(&cases[i], &loo).map(|e| e.0);
        println!(
            "{:<36} {:>11.1}% {:>11.1}%   (fit without it: {loo:?})",
            cases[i].name,
            e_in.unwrap_or(f64::NAN) * 100.0,
            e_loo.unwrap_or(f64::NAN) * 100.0
        );
    }
}
