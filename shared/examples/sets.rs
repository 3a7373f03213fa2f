//! Every validation set through the estimator: one line per case (ratio, in
//! range), then the summary per group. `cargo run --release -p
//! jouleprint-shared --example sets [FILTER]` (the CLI's `validate` does the
//! same for one file).

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/validation");
    let mut all = vec![];
    for f in ["single-device", "pretraining", "serving"] {
        let text = std::fs::read_to_string(format!("{dir}/{f}.jsonl")).unwrap_or_default();
        let r = shared::validate::evaluate(&text, &[]);
        for c in &r.published {
            if !c.name.contains(&filter) {
                continue;
            }
            match (&c.error, c.ratio) {
                (Some(e), _) => println!("{:<60} ERROR {e}", c.name),
                (None, Some(x)) => println!(
                    "{:<60} {:>16} ratio {:>6.3} {} {}",
                    c.name,
                    c.quantity,
                    x,
                    if c.inside == Some(true) { "in " } else { "OUT" },
                    c.regime.as_ref().map_or(String::new(), |g| format!(
                        "{}/{}/{}",
                        g.software, g.bound, g.scale
                    ))
                ),
                _ => {}
            }
        }
        all.extend(r.published);
    }
    for g in shared::validate::published::summarize_groups(&all) {
        println!(
            "{:<14} n={:<3} err={:<2} median ratio {:.3} median |ln| {:.3} max |ln| {:.3} coverage {:.2} width {:.2} | naive n={} |ln| {:.3} vs ours {:.3}",
            g.group,
            g.n,
            g.errors,
            g.median_ratio.unwrap_or(f64::NAN),
            g.median_abs_log_ratio.unwrap_or(f64::NAN),
            g.max_abs_log_ratio.unwrap_or(f64::NAN),
            g.coverage.unwrap_or(f64::NAN),
            g.median_range_width.unwrap_or(f64::NAN),
            g.naive_n,
            g.naive_median_abs_log_ratio.unwrap_or(f64::NAN),
            g.model_median_abs_log_ratio_on_naive_cases
                .unwrap_or(f64::NAN)
        );
    }
}
