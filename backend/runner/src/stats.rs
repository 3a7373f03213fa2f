//! Small statistics over repeats (the median is `shared::stats::median`).

pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Relative spread: (max - min) / mean; 0 for fewer than two values.
pub fn spread(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let max = xs.iter().copied().fold(f64::MIN, f64::max);
    let min = xs.iter().copied().fold(f64::MAX, f64::min);
    let m = mean(xs);
    if m == 0.0 {
        0.0
    } else {
        (max - min) / m.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_mean() {
        assert_eq!(spread(&[1.0]), 0.0);
        assert!((spread(&[0.9, 1.0, 1.1]) - 0.2).abs() < 1e-12);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert!(mean(&[]).is_nan());
    }
}
