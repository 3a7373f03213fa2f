//! Typed quantities. Raw numbers are parsed into these once, at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! quantity {
    ($(#[$m:meta])* $name:ident, $unit:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub f64);
        impl $name {
            pub const ZERO: Self = Self(0.0);
            pub fn get(self) -> f64 { self.0 }
        }
        impl std::ops::Add for $name { type Output = Self; fn add(self, o: Self) -> Self { Self(self.0 + o.0) } }
        impl std::ops::AddAssign for $name { fn add_assign(&mut self, o: Self) { self.0 += o.0 } }
        impl std::ops::Sub for $name { type Output = Self; fn sub(self, o: Self) -> Self { Self(self.0 - o.0) } }
        impl std::ops::Mul<f64> for $name { type Output = Self; fn mul(self, k: f64) -> Self { Self(self.0 * k) } }
        impl std::ops::Div<f64> for $name { type Output = Self; fn div(self, k: f64) -> Self { Self(self.0 / k) } }
        impl std::iter::Sum for $name { fn sum<I: Iterator<Item = Self>>(it: I) -> Self { Self(it.map(|x| x.0).sum()) } }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{} {}", crate::units::si(self.0), $unit) }
        }
    };
}

quantity!(/// Floating-point operations (2 per multiply-add).
    Flops, "FLOP");
quantity!(/// Bytes moved to or from device memory.
    Bytes, "B");
quantity!(/// Energy.
    Joules, "J");
quantity!(/// Power.
    Watts, "W");
quantity!(/// Time.
    Seconds, "s");

impl Joules {
    pub fn kwh(self) -> f64 {
        self.0 / 3.6e6
    }
    pub fn from_millijoules(mj: u64) -> Self {
        Joules(mj as f64 / 1000.0)
    }
}
impl Watts {
    pub fn from_milliwatts(mw: u32) -> Self {
        Watts(mw as f64 / 1000.0)
    }
}
impl std::ops::Mul<Seconds> for Watts {
    type Output = Joules;
    fn mul(self, s: Seconds) -> Joules {
        Joules(self.0 * s.0)
    }
}
impl std::ops::Div<Seconds> for Joules {
    type Output = Watts;
    fn div(self, s: Seconds) -> Watts {
        Watts(self.0 / s.0)
    }
}

/// Format with an SI prefix and 3 significant digits.
pub fn si(x: f64) -> String {
    let a = x.abs();
    let (v, p) = if a >= 1e15 {
        (x / 1e15, "P")
    } else if a >= 1e12 {
        (x / 1e12, "T")
    } else if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else if a >= 1.0 || a == 0.0 {
        (x, "")
    } else if a >= 1e-3 {
        (x * 1e3, "m")
    } else if a >= 1e-6 {
        (x * 1e6, "u")
    } else {
        (x * 1e9, "n")
    };
    format!("{} {p}", sig3(v)).trim_end().to_string()
}

/// Three significant digits with thousands grouped, as the CLI and the page
/// print numbers: `888,000`, `12.3`, `0.0123`; below 0.001 with an exponent.
/// A non-finite `x` prints as Rust prints it (callers choose their own mark).
pub fn sig3_grouped(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a >= 1000.0 {
        let mag = a.log10().floor() as i32;
        let unit = 10f64.powi(mag - 2);
        return grouped_whole((x / unit).round() * unit);
    }
    if a < 0.001 {
        return format!("{x:.2e}");
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A number rounded to a whole one, with thousands separators: `1,234,567`.
pub fn grouped_whole(x: f64) -> String {
    let d = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Three significant digits, no exponent.
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return format!("{v}");
    }
    if a == 0.0 {
        return "0".into();
    }
    if a >= 1e7 {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 12) as usize;
    format!("{v:.decimals$}")
}

/// An enum with one table of names: `as_str`, `parse`, `ALL`, `NAMES`,
/// `Display` and serde all read the same strings, so the CLI, the API and the
/// page never keep tables of their own.
#[macro_export]
macro_rules! named_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::string::String as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::unknown_variant(&s, Self::NAMES)
                })
            }
        }

        $crate::__named_enum_schema!($name, [$($s),+]);
    };
}

/// utoipa, for [`named_enum!`]'s schemas in other crates (feature `openapi`).
#[cfg(feature = "openapi")]
#[doc(hidden)]
pub use utoipa as __utoipa;

/// With the `openapi` feature: a [`named_enum!`]'s OpenAPI schema, a string
/// enumeration of its names (the cfg is read here, in `shared`, whatever crate
/// invokes the macro).
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __named_enum_schema {
    ($name:ident, [$($s:literal),+]) => {
        impl $crate::units::__utoipa::PartialSchema for $name {
            fn schema() -> $crate::units::__utoipa::openapi::RefOr<
                $crate::units::__utoipa::openapi::schema::Schema,
            > {
                use $crate::units::__utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }
        impl $crate::units::__utoipa::ToSchema for $name {}
    };
}

/// Without the `openapi` feature: nothing.
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __named_enum_schema {
    ($name:ident, [$($s:literal),+]) => {};
}

named_enum! {
    /// Numeric precision of a workload. Semantics follow the reference case format (`docs/scenario.md`).
    pub enum Precision {
        /// fp32 matmuls without TF32 (PyTorch's default; convolutions may use TF32).
        Fp32 = "fp32",
        Tf32 = "tf32",
        /// The whole model cast to fp16.
        Fp16 = "fp16",
        /// The whole model cast to bf16.
        Bf16 = "bf16",
        /// fp32 weights and optimizer, bf16 autocast for matmuls and convolutions.
        Bf16Amp = "bf16-amp",
        /// fp8 matmuls (Transformer-Engine style), bf16 elsewhere.
        Fp8 = "fp8",
        /// int8 matmuls (inference), fp16 elsewhere.
        Int8 = "int8",
    }
}

impl Precision {
    /// The arithmetic the matrix units run for this workload precision.
    pub fn matmul_math(self) -> MathMode {
        match self {
            Self::Fp32 => MathMode::Fp32,
            Self::Tf32 => MathMode::Tf32,
            Self::Fp16 => MathMode::Fp16,
            Self::Bf16 | Self::Bf16Amp => MathMode::Bf16,
            Self::Fp8 => MathMode::Fp8,
            Self::Int8 => MathMode::Int8,
        }
    }

    /// Bytes of one activation element as stored between kernels.
    pub fn activation_bytes(self) -> f64 {
        match self {
            Self::Fp32 | Self::Tf32 => 4.0,
            _ => 2.0,
        }
    }

    /// Bytes of one weight element as stored.
    pub fn weight_bytes(self) -> f64 {
        match self {
            Self::Fp32 | Self::Tf32 | Self::Bf16Amp => 4.0,
            Self::Int8 | Self::Fp8 => 1.0,
            _ => 2.0,
        }
    }
}

named_enum! {
    /// What the matrix units compute in; device peaks are quoted per math mode.
    pub enum MathMode {
        Fp32 = "fp32",
        Tf32 = "tf32",
        Fp16 = "fp16",
        Bf16 = "bf16",
        Fp8 = "fp8",
        Int8 = "int8",
    }
}

/// A range with a stated meaning: `low` and `high` bound the plausible value
/// (see `docs/energy-model.md`), `expected` is the point estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Range {
    pub low: f64,
    pub expected: f64,
    pub high: f64,
}

impl Range {
    pub fn exact(v: f64) -> Self {
        Range {
            low: v,
            expected: v,
            high: v,
        }
    }
    /// `expected` with a symmetric relative uncertainty `rel` in log space: [v/(1+rel), v*(1+rel)].
    pub fn around(v: f64, rel: f64) -> Self {
        Range {
            low: v / (1.0 + rel),
            expected: v,
            high: v * (1.0 + rel),
        }
    }
    /// `expected` with a log-symmetric width `u`: [v e^-u, v e^u].
    pub fn log_around(v: f64, u: f64) -> Self {
        Range {
            low: v * (-u).exp(),
            expected: v,
            high: v * u.exp(),
        }
    }
    /// `expected` with the range of published values `v e^-s` about it:
    /// [v e^(-s-u), v e^(-s+u)] (`s` the median ln(estimate / published)).
    pub fn log_shifted(v: f64, s: f64, u: f64) -> Self {
        Range {
            low: v * (-s - u).exp(),
            expected: v,
            high: v * (u - s).exp(),
        }
    }
    pub fn scale(self, k: f64) -> Self {
        Range {
            low: self.low * k,
            expected: self.expected * k,
            high: self.high * k,
        }
    }
    pub fn plus(self, o: Range) -> Self {
        Range {
            low: self.low + o.low,
            expected: self.expected + o.expected,
            high: self.high + o.high,
        }
    }
    pub fn zero() -> Self {
        Range::exact(0.0)
    }
    /// `k / self`: a rate from a time (the bounds swap).
    pub fn inverse(self, k: f64) -> Self {
        let div = |x: f64| if x > 0.0 { k / x } else { 0.0 };
        Range {
            low: div(self.high),
            expected: div(self.expected),
            high: div(self.low),
        }
    }
}
