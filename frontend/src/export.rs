//! Exports of an estimate: Markdown (a README or a review), LaTeX (a paper),
//! CSV, and the scenario JSON (with the values it was computed with). Pure.

use crate::format::num;
use shared::estimate::Estimate;
use shared::scenario::Scenario;

fn model_label(s: &Scenario) -> String {
    let m = &s.model;
    if let Some(p) = &m.preset {
        p.clone()
    } else if m.hf_config.is_some() {
        "a Hugging Face config".into()
    } else if let Some(g) = &m.graph {
        g.source.clone()
    } else {
        "a model given by FLOPs and parameters".into()
    }
}

/// The assumptions behind the numbers, one line each.
pub fn assumptions(s: &Scenario, e: &Estimate) -> Vec<(String, String)> {
    let r = &e.resolved;
    vec![
        ("Model".into(), model_label(s)),
        (
            "Hardware".into(),
            format!("{} x {}", s.hardware.count, r.device.name),
        ),
        ("Device profile".into(), r.device.source.origin()),
        (
            "Grid intensity".into(),
            format!(
                "{} gCO2e/kWh ({}; {})",
                num(r.grid.gco2e_per_kwh),
                r.grid.region,
                r.grid.source
            ),
        ),
        ("PUE".into(), num(s.infrastructure.pue)),
        ("Estimator".into(), e.estimator_version.clone()),
    ]
}

pub fn markdown(s: &Scenario, e: &Estimate) -> String {
    let mut o = String::new();
    if let Some(n) = &s.name {
        o.push_str(&format!("### {n}\n\n"));
    }
    o.push_str("| Stage | Energy (kWh) | Range (kWh) | CO2e (kg) | GPU-hours | Wall time (h) |\n");
    o.push_str("|---|---:|---:|---:|---:|---:|\n");
    for st in &e.stages {
        o.push_str(&format!(
            "| {} | {} | {} to {} | {} | {} | {} |\n",
            st.name,
            num(st.energy_kwh.expected),
            num(st.energy_kwh.low),
            num(st.energy_kwh.high),
            num(st.co2e_kg.expected),
            num(st.device_hours.expected),
            num(st.wall_hours.expected)
        ));
    }
    o.push_str(&format!(
        "| **Total** | **{}** | {} to {} | **{}** | {} | {} |\n\n",
        num(e.energy_kwh.expected),
        num(e.energy_kwh.low),
        num(e.energy_kwh.high),
        num(e.co2e_kg.expected),
        num(e.device_hours.expected),
        num(e.wall_hours.expected)
    ));
    for (k, v) in assumptions(s, e) {
        o.push_str(&format!("- {k}: {v}\n"));
    }
    o.push_str("\nEstimated with jouleprint before the run.\n");
    o
}

/// Escape text for LaTeX.
pub fn tex(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            _ => o.push(c),
        }
    }
    o
}

pub fn latex(s: &Scenario, e: &Estimate) -> String {
    let r = &e.resolved;
    let mut o = String::new();
    o.push_str(&format!(
        "% Estimated with jouleprint ({}).\n",
        tex(&e.estimator_version)
    ));
    o.push_str(&format!(
        "We estimate that {} on {} $\\times$ {} consumes about {}~kWh at the wall \
         (range {}--{}~kWh, PUE {}), or {}~kg CO$_2$e at a grid intensity of {}~gCO$_2$e/kWh ({}), \
         over {}~GPU-hours (Table~\\ref{{tab:energy}}).\n\n",
        tex(&model_label(s)),
        s.hardware.count,
        tex(&r.device.name),
        num(e.energy_kwh.expected),
        num(e.energy_kwh.low),
        num(e.energy_kwh.high),
        num(s.infrastructure.pue),
        num(e.co2e_kg.expected),
        num(r.grid.gco2e_per_kwh),
        tex(&r.grid.region),
        num(e.device_hours.expected)
    ));
    o.push_str("\\begin{table}[t]\n\\centering\n\\begin{tabular}{lrrrr}\n\\hline\n");
    o.push_str("Stage & Energy (kWh) & Range (kWh) & CO$_2$e (kg) & GPU-hours \\\\\n\\hline\n");
    for st in &e.stages {
        o.push_str(&format!(
            "{} & {} & {}--{} & {} & {} \\\\\n",
            tex(&st.name),
            tex(&num(st.energy_kwh.expected)),
            tex(&num(st.energy_kwh.low)),
            tex(&num(st.energy_kwh.high)),
            tex(&num(st.co2e_kg.expected)),
            tex(&num(st.device_hours.expected))
        ));
    }
    o.push_str(&format!(
        "\\hline\nTotal & {} & {}--{} & {} & {} \\\\\n\\hline\n\\end{{tabular}}\n",
        tex(&num(e.energy_kwh.expected)),
        tex(&num(e.energy_kwh.low)),
        tex(&num(e.energy_kwh.high)),
        tex(&num(e.co2e_kg.expected)),
        tex(&num(e.device_hours.expected))
    ));
    o.push_str(&format!(
        "\\caption{{Estimated energy and emissions. Device profile: {} ({}). Grid: {}.}}\n\\label{{tab:energy}}\n\\end{{table}}\n",
        tex(&r.device.source.kind),
        tex(&r.device.source.version),
        tex(&r.grid.source)
    ));
    o
}

/// A text cell: a leading `=`, `+`, `-`, `@` (or tab, carriage return) gets a
/// `'` so that a spreadsheet shows it as text instead of running it as a
/// formula (OWASP, "CSV Injection"); then quoted as RFC 4180 asks.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One row per stage and a total; full-precision numbers.
pub fn csv(e: &Estimate) -> String {
    let mut o = String::from(
        "stage,kind,energy_kwh_low,energy_kwh,energy_kwh_high,co2e_kg_low,co2e_kg,co2e_kg_high,device_hours,wall_hours\n",
    );
    for st in &e.stages {
        o.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&st.name),
            csv_field(&st.kind),
            st.energy_kwh.low,
            st.energy_kwh.expected,
            st.energy_kwh.high,
            st.co2e_kg.low,
            st.co2e_kg.expected,
            st.co2e_kg.high,
            st.device_hours.expected,
            st.wall_hours.expected
        ));
    }
    o.push_str(&format!(
        "total,,{},{},{},{},{},{},{},{}\n",
        e.energy_kwh.low,
        e.energy_kwh.expected,
        e.energy_kwh.high,
        e.co2e_kg.low,
        e.co2e_kg.expected,
        e.co2e_kg.high,
        e.device_hours.expected,
        e.wall_hours.expected
    ));
    o
}

pub fn scenario_json(s: &Scenario) -> String {
    serde_json::to_string_pretty(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(tex("a_b & 50%"), "a\\_b \\& 50\\%");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("x\"y"), "\"x\"\"y\"");
        // formulas stay text (issue 15, item 12)
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("final training"), "final training");
    }
}
