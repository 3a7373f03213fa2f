//! Numbers as people type them. The page refuses only text that is not a
//! number; whether a number is allowed is the core's call (`shared::check`).

/// Parse a number, allowing `1e9`, `1_000` and `1,000`.
pub fn number(raw: &str) -> Result<f64, String> {
    let t: String = raw
        .trim()
        .chars()
        .filter(|c| *c != '_' && *c != ',')
        .collect();
    if t.is_empty() {
        return Err("required".into());
    }
    let v: f64 = t
        .parse()
        .map_err(|_| format!("\u{201c}{}\u{201d} is not a number", raw.trim()))?;
    if !v.is_finite() {
        return Err("must be a finite number".into());
    }
    Ok(v)
}

/// Empty text is `None` (an optional field cleared).
pub fn opt<T>(raw: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        f(raw).map(Some)
    }
}

/// A number for a whole-number field. A value a count cannot hold (negative,
/// fractional, past `u64`) becomes 0, which every count of the scenario
/// refuses, so the core's message for the field (its range) is the one shown;
/// `commit` refuses it itself if the core ever accepted 0.
pub fn count(raw: &str) -> Result<Count, String> {
    let v = number(raw)?;
    Ok(
        if v.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&v) {
            Count::Whole(v as u64)
        } else {
            Count::NotWhole
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Count {
    Whole(u64),
    /// Negative, fractional or too large for a count.
    NotWhole,
}

impl Count {
    /// The value written to the scenario (0 for a number a count cannot hold).
    pub fn value(self) -> u64 {
        match self {
            Count::Whole(n) => n,
            Count::NotWhole => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_numbers() {
        assert_eq!(number("1e9"), Ok(1e9));
        assert_eq!(number(" 1_000 "), Ok(1000.0));
        assert_eq!(number("1,000.5"), Ok(1000.5));
        assert_eq!(number("-3"), Ok(-3.0));
        assert_eq!(number(""), Err("required".into()));
        assert!(number("abc").is_err_and(|e| e.contains("not a number")));
        assert!(number("1e400").is_err_and(|e| e.contains("finite")));
        assert_eq!(opt("", number), Ok(None));
        assert_eq!(opt("2", number), Ok(Some(2.0)));
    }

    #[test]
    fn counts() {
        assert_eq!(count("16"), Ok(Count::Whole(16)));
        assert_eq!(count("0"), Ok(Count::Whole(0)));
        assert_eq!(count("2.5"), Ok(Count::NotWhole));
        assert_eq!(count("-8"), Ok(Count::NotWhole));
        assert_eq!(count("1e30"), Ok(Count::NotWhole));
        assert_eq!(Count::NotWhole.value(), 0);
        assert!(count("x").is_err());
    }
}
