//! Grid carbon intensity by region (gCO2e/kWh), each with its source and year.

use crate::scenario::GridValue;

#[derive(Debug, Clone, PartialEq)]
pub struct GridEntry {
    /// ISO 3166 alpha-2 for countries (`FR`), `provider:region` for cloud regions (`aws:us-east-1`).
    pub code: &'static str,
    pub name: &'static str,
    pub gco2e_per_kwh: f64,
    pub source: &'static str,
    pub year: u32,
}

pub static GRID: &[GridEntry] = &[GridEntry {
    code: "WORLD",
    name: "World average",
    gco2e_per_kwh: 475.0,
    source: "IEA, Global Energy & CO2 Status Report 2019 (world average)",
    year: 2019,
}];

pub fn find(code: &str) -> Option<&'static GridEntry> {
    let q = code.trim();
    GRID.iter().find(|g| g.code.eq_ignore_ascii_case(q))
}

impl GridEntry {
    pub fn value(&self) -> GridValue {
        GridValue {
            gco2e_per_kwh: self.gco2e_per_kwh,
            region: self.code.to_string(),
            source: self.source.to_string(),
            year: Some(self.year),
        }
    }
}
