//! The core refuses every scenario of the bad-scenario table with exactly the
//! table's field paths (the CLI and the API are tested on the same table).

#[path = "support/bad_scenarios.rs"]
mod bad_scenarios;
use bad_scenarios::{check_words, sorted, table};

#[test]
fn the_core_refuses_every_bad_scenario_naming_its_fields() {
    let table = table();
    assert!(table.len() >= 40, "the table has {} rows", table.len());
    for b in &table {
        let errors = match shared::estimate::estimate_json(&b.text, &[]) {
            Ok(_) => panic!("{}: accepted", b.name),
            Err(e) => e,
        };
        let got = sorted(errors.iter().map(|e| e.field.clone()));
        assert_eq!(got, b.fields, "{}: {errors}", b.name);
        for e in &errors {
            check_words(&b.name, &e.to_string());
        }
    }
}
