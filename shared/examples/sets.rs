//! Every validation set through the estimator: one line per case (ratio, in
//! range), then the summary per group. `cargo run --release -p
//! jouleprint-shared --example sets [FILTER]` (the CLI's `validate` does the
//! same for one file).

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/validation");
    let mut all = vec![];
    for f in [
        "single-device",
        "pretraining",
        "serving",
        "training-at-scale",
        "serving-held-out",
        "training-fsdp",
    ] {
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
    // "n/a" where a group has no such figure (e.g. no naive baseline for serving).
    let f = |x: Option<f64>| x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"));
    for g in shared::validate::published::summarize_groups(&all) {
        println!(
            "{:<14} n={:<3} err={:<2} median ratio {} median |ln| {} max |ln| {} coverage {} width {} | naive n={} |ln| {} vs ours {}",
            g.group,
            g.n,
            g.errors,
            f(g.median_ratio),
            f(g.median_abs_log_ratio),
            f(g.max_abs_log_ratio),
            f(g.coverage),
            f(g.median_range_width),
            g.naive_n,
            f(g.naive_median_abs_log_ratio),
            f(g.model_median_abs_log_ratio_on_naive_cases)
        );
    }
}
