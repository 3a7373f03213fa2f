//! The range fitter (`validate::widths`): prints every residual with its
//! leave-one-out range, the coverage and median width per set, and with
//! `--write` rewrites `shared/data/uncertainty.json`.
//! `cargo run --release -p jouleprint-shared --example ranges [--write]`

use shared::validate::widths::{fit_widths, leave_one_out, residuals};

fn main() {
    let res = residuals();
    let w = fit_widths(&res, None);
    let loo = leave_one_out(&res);
    for l in &loo {
        let r = &l.residual;
        println!(
            "{:<12} {:<64} {:<13} {:<7} ratio {:>7.3}  {}  range x{:.2}",
            r.set,
            r.name,
            r.cell.as_str(),
            if r.energy { "energy" } else { "time" },
            r.r.exp(),
            if l.inside { "in " } else { "OUT" },
            l.width_ratio
        );
    }
    println!();
    let mut sets: Vec<&str> = loo.iter().map(|l| l.residual.set.as_str()).collect();
    sets.dedup();
    for s in sets {
        let v: Vec<&_> = loo.iter().filter(|l| l.residual.set == s).collect();
        let inside = v.iter().filter(|l| l.inside).count();
        let widths: Vec<f64> = v.iter().map(|l| l.width_ratio).collect();
        println!(
            "{s:<14} n={:<3} leave-one-out coverage {:.2}  median range high/low {:.2}",
            v.len(),
            inside as f64 / v.len() as f64,
            shared::stats::median(&widths).unwrap_or(f64::NAN)
        );
    }
    println!("\n{}", serde_json::to_string_pretty(&w).unwrap_or_default());
    if std::env::args().any(|a| a == "--write") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/uncertainty.json");
        let text = serde_json::to_string_pretty(&w).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
        println!("wrote {path}");
    }
}
