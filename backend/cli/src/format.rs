//! Numbers as the command line prints them, in the page's style
//! (`frontend/src/format.rs`): three significant digits with thousands
//! grouped, whole counts in full, parameters with a word scale.

/// Three significant digits, thousands grouped: `888,000`, `12.3`, `0.0123`.
pub fn num(x: f64) -> String {
    if x.is_finite() {
        shared::units::sig3_grouped(x)
    } else {
        "-".into()
    }
}

/// A count: whole numbers in full (`31`, `1,234,567`), others to three
/// significant digits.
pub fn count(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        shared::units::grouped_whole(x)
    } else {
        num(x)
    }
}

/// Parameters with a word scale, as `jouleprint presets` lists them:
/// `124 M`, `69.0 B`, `8.03 B`.
pub fn params(x: f64) -> String {
    let a = x.abs();
    let (v, unit) = if a >= 1e12 {
        (x / 1e12, " T")
    } else if a >= 1e9 {
        (x / 1e9, " B")
    } else if a >= 1e6 {
        (x / 1e6, " M")
    } else {
        return count(x.round());
    };
    format!("{}{unit}", shared::units::sig3(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // the examples: 887973 kWh and 6675485 J to three digits, grouped
        assert_eq!(num(887_973.0), "888,000");
        assert_eq!(num(6_675_485.0), "6,680,000");
        assert_eq!(num(1234.0), "1,230");
        assert_eq!(num(999.4), "999");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(0.01234), "0.0123");
        assert_eq!(num(-5.5), "-5.5");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "-");
        assert_eq!(count(31.0), "31");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(2.5), "2.5");
        assert_eq!(params(68_976_648_192.0), "69.0 B");
        assert_eq!(params(124_439_808.0), "124 M");
        assert_eq!(params(8.03e9), "8.03 B");
        assert_eq!(params(1.2e12), "1.20 T");
        assert_eq!(params(25_557.0), "25,557");
    }
}
