//! Energy by lifecycle stage: an inline SVG bar chart with the range as whiskers.

use crate::format::num;
use shared::estimate::StageEstimate;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ChartProps {
    pub stages: Vec<StageEstimate>,
}

#[component(StageChart)]
pub fn stage_chart(p: &ChartProps) -> Html {
    let max = p
        .stages
        .iter()
        .map(|s| s.energy_kwh.high)
        .fold(0.0f64, f64::max);
    let row = 34.0;
    let left = 150.0;
    let width = 360.0;
    let h = row * p.stages.len() as f64 + 10.0;
    let x = |v: f64| {
        if max > 0.0 {
            left + v / max * width
        } else {
            left
        }
    };
    let summary = p
        .stages
        .iter()
        .map(|s| format!("{}: {} kWh", s.name, num(s.energy_kwh.expected)))
        .collect::<Vec<_>>()
        .join("; ");
    html! {
        <figure class="chart">
            <svg viewBox={format!("0 0 600 {h}")} role="img" aria-labelledby="chart-title chart-desc" id="stage-chart">
                <title id="chart-title">{ "Energy by lifecycle stage" }</title>
                <desc id="chart-desc">{ summary }</desc>
                { for p.stages.iter().enumerate().map(|(i, s)| {
                    let y = 5.0 + i as f64 * row;
                    let e = &s.energy_kwh;
                    html! {
                        <g class="bar">
                            <text x="0" y={(y + 20.0).to_string()} class="label">{ truncate(&s.name, 22) }</text>
                            <rect x={left.to_string()} y={(y + 6.0).to_string()} height="20"
                                width={(x(e.expected) - left).max(1.0).to_string()} />
                            <line x1={x(e.low).to_string()} x2={x(e.high).to_string()}
                                y1={(y + 16.0).to_string()} y2={(y + 16.0).to_string()} class="whisker" />
                            <text x={(x(e.high) + 6.0).min(560.0).to_string()} y={(y + 20.0).to_string()} class="value">
                                { format!("{} kWh", num(e.expected)) }
                            </text>
                        </g>
                    }
                }) }
            </svg>
            <figcaption>{ "Bars: expected energy at the wall; lines: the range." }</figcaption>
        </figure>
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}\u{2026}", s.chars().take(n - 1).collect::<String>())
    }
}
