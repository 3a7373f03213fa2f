//! The public validation sets (`shared/data/validation/`): every line parses
//! as a case, carries its source and what is uncertain, and the estimator
//! takes every scenario (issue 14's minimum sizes hold).

use shared::validate::published::{evaluate_case, parse_case, Quantity};

fn set(name: &str) -> Vec<shared::validate::published::PublishedCase> {
    let path = format!(
        "{}/data/validation/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| parse_case(l).unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1)))
        .collect()
}

#[test]
fn the_sets_hold_enough_sourced_cases() {
    let single = set("single-device");
    let pre = set("pretraining");
    let serving = set("serving");
    let time = |q: Quantity| !q.is_energy();
    assert!(single.iter().filter(|c| time(c.quantity)).count() >= 25);
    assert!(pre.len() >= 15);
    assert!(serving.len() >= 10);
    for c in single.iter().chain(&pre).chain(&serving) {
        assert!(!c.source.trim().is_empty(), "{}: no source", c.name);
        assert!(!c.uncertain.trim().is_empty(), "{}: no uncertainty", c.name);
        assert!(c.value.is_finite() && c.value > 0.0, "{}", c.name);
        assert_eq!(c.unit, c.quantity.unit(), "{}", c.name);
    }
    let mut names: Vec<&str> = single
        .iter()
        .chain(&pre)
        .chain(&serving)
        .map(|c| c.name.as_str())
        .collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "case names are unique");
}

#[test]
fn the_estimator_takes_every_case() {
    for name in ["single-device", "pretraining", "serving"] {
        for c in set(name) {
            let r = evaluate_case(&c, &[]);
            assert!(r.error.is_none(), "{}: {:?}", c.name, r.error);
            let q = r.estimate.expect("estimate");
            assert!(
                q.low.is_finite() && q.low > 0.0 && q.low <= q.expected && q.expected <= q.high,
                "{}: {q:?}",
                c.name
            );
        }
    }
}

/// The committed range widths are the range fitter's output on today's model
/// (rerun `cargo run --release -p jouleprint-shared --example ranges -- --write`
/// after a model change).
#[test]
fn committed_widths_are_the_fitters_output() {
    use shared::validate::widths::{fit_widths, residuals};
    let fitted = fit_widths(&residuals(), None);
    let committed = shared::ranges::widths().expect("shared/data/uncertainty.json parses");
    for (name, f, c) in [
        ("energy", &fitted.energy, &committed.energy),
        ("time", &fitted.time, &committed.time),
    ] {
        assert_eq!(f.len(), c.len(), "{name}");
        for (cell, v) in f {
            let got = c.get(cell).copied().unwrap_or(f64::NAN);
            assert!(
                (got - v).abs() < 1e-9,
                "{name} {cell}: committed {got}, fitted {v}"
            );
        }
    }
}

/// A cell with few residuals: t(0.95, n) x their root mean square, worked by
/// hand for n = 3 (t = 2.353) and n = 4 (t = 2.132); ten or more use the
/// empirical quantile.
#[test]
fn a_small_cell_takes_the_student_t_bound() {
    use shared::validate::widths::small_sample_width;
    let w = small_sample_width(&[0.03, -0.04, 0.0]).unwrap();
    // rms = sqrt((0.0009 + 0.0016 + 0) / 3) = 0.028868
    assert!((w - 2.353 * 0.028_867_513).abs() < 1e-6, "{w}");
    let w = small_sample_width(&[0.1, 0.1, -0.1, 0.1]).unwrap();
    assert!((w - 2.132 * 0.1).abs() < 1e-9, "{w}");
    assert!(small_sample_width(&[0.1, 0.2]).is_none());
    assert!(small_sample_width(&[0.1; 10]).is_none());
}
