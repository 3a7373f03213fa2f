//! The number and profile labels every front end prints, by hand.

use shared::device::ProfileSource;
use shared::units::{grouped_whole, sig3_grouped};

#[test]
fn three_significant_digits_grouped() {
    assert_eq!(sig3_grouped(887_973.0), "888,000");
    assert_eq!(sig3_grouped(1234.0), "1,230");
    assert_eq!(sig3_grouped(999.4), "999");
    assert_eq!(sig3_grouped(12.345), "12.3");
    assert_eq!(sig3_grouped(0.01234), "0.0123");
    assert_eq!(sig3_grouped(-6_675_485.0), "-6,680,000");
    assert_eq!(sig3_grouped(0.0), "0");
    assert_eq!(sig3_grouped(5.02e-4), "5.02e-4");
    assert_eq!(grouped_whole(1_234_567.0), "1,234,567");
    assert_eq!(grouped_whole(31.0), "31");
}

#[test]
fn a_profile_says_where_it_comes_from() {
    let src = |kind: &str, version: &str| ProfileSource {
        kind: kind.into(),
        detail: String::new(),
        version: version.into(),
    };
    assert_eq!(
        src("measured", "measured:reference-2026-11-27").origin(),
        "measured (reference-2026-11-27)"
    );
    assert_eq!(
        src("datasheet", "datasheet-2").origin(),
        "datasheet (datasheet-2)"
    );
    assert_eq!(src("measured", "measured").origin(), "measured");
    assert_eq!(src("measured", "").origin(), "measured");
}
