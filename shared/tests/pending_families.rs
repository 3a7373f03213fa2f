//! `data/validation/pending.jsonl`: published runs kept out of the validation
//! sets (GPT-3: no real config). Every scenario must still be accepted by `estimate`, and its
//! estimate / published ratio is printed
//! (`cargo test --test pending_families -- --nocapture`).

use shared::validate::published::{evaluate_case, parse_case};

#[test]
fn every_pending_case_is_estimated() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/validation/pending.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut n = 0;
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let c = parse_case(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let r = evaluate_case(&c, &[]);
        assert!(r.error.is_none(), "{}: {:?}", c.name, r.error);
        let q = r.estimate.expect("an estimate");
        assert!(
            q.expected.is_finite()
                && q.expected > 0.0
                && q.low <= q.expected
                && q.expected <= q.high,
            "{}: {q:?}",
            c.name
        );
        let ratio = q.expected / c.value;
        println!(
            "{:45} {:>12} {:>14.4e} published {:>14.4e}  ratio {ratio:.3}",
            c.name,
            format!("{:?}", c.quantity),
            q.expected,
            c.value
        );
        n += 1;
    }
    assert!(n >= 1, "{n} cases");
}
