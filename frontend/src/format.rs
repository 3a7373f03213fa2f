//! Number formatting for the page and the exports.

/// Three significant digits, thousands grouped: `123,000`, `12.3`, `0.0123`.
pub fn num(x: f64) -> String {
    if x.is_finite() {
        shared::units::sig3_grouped(x)
    } else {
        "n/a".into()
    }
}

/// A count with a word scale: `6.74 B`, `355 M`, `12,300`.
pub fn count(x: f64) -> String {
    let a = x.abs();
    if a >= 1e12 {
        format!("{} T", num(x / 1e12))
    } else if a >= 1e9 {
        format!("{} B", num(x / 1e9))
    } else if a >= 1e6 {
        format!("{} M", num(x / 1e6))
    } else {
        num(x)
    }
}

/// Watt-hours, in mWh below 1 Wh: `0.502 mWh`, `129 mWh`, `4.2 Wh`.
pub fn wh(x: f64) -> String {
    if x.abs() < 1.0 && x != 0.0 {
        format!("{} mWh", num(x * 1000.0))
    } else {
        format!("{} Wh", num(x))
    }
}

/// A signed change: `+1.2`, `-340`.
pub fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", num(x))
    } else if x < 0.0 {
        format!("\u{2212}{}", num(-x))
    } else {
        "\u{b1}0".into()
    }
}

/// A relative change in percent: `-30%`.
pub fn percent(delta: f64, base: f64) -> String {
    if base == 0.0 || !base.is_finite() {
        return String::new();
    }
    let p = delta / base * 100.0;
    if p.abs() < 0.05 {
        "0%".into()
    } else if p > 0.0 {
        format!("+{}%", num(p))
    } else {
        format!("\u{2212}{}%", num(-p))
    }
}

/// Hours as a readable duration.
pub fn hours(h: f64) -> String {
    if !h.is_finite() {
        "n/a".into()
    } else if h < 1.0 / 60.0 {
        format!("{} s", num(h * 3600.0))
    } else if h < 1.0 {
        format!("{} min", num(h * 60.0))
    } else if h < 48.0 {
        format!("{} h", num(h))
    } else {
        format!("{} days", num(h / 24.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(123456.0), "123,000");
        assert_eq!(num(1234.0), "1,230");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.01234), "0.0123");
        assert_eq!(num(-5.5), "-5.5");
        assert_eq!(signed(-2.0), "\u{2212}2");
        assert_eq!(percent(-30.0, 100.0), "\u{2212}30%");
        assert_eq!(hours(0.5), "30 min");
        assert_eq!(wh(5.02e-4), "0.502 mWh");
        assert_eq!(wh(4.2), "4.2 Wh");
        assert_eq!(hours(100.0), "4.17 days");
    }
}
