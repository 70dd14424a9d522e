//! The bench chart (feature `chart`), drawn with `plotters` into an SVG string.

use plotters::prelude::*;

use super::bench::VariantSummary;
use crate::error::Error;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput {
        field: "chart",
        rule: format!("cannot be drawn: {e}"),
    }
}

/// Median latency (x, seconds) against pass rate (y, %), a bar from median to p90, the
/// point's area growing with the cost per run, a legend naming each variant.
pub(crate) fn latency_vs_pass_rate(rows: &[VariantSummary]) -> Result<String, Error> {
    let mut svg = String::new();
    {
        let legend = u32::try_from(rows.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(22);
        let height = legend.saturating_add(480);
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (upper, lower) = root.split_vertically(480);
        let x_max = rows
            .iter()
            .map(|r| r.p90_ms.max(r.median_ms) / 1000.0)
            .fold(0.0_f64, f64::max)
            .max(0.001)
            * 1.15;
        let max_cost = rows.iter().map(|r| r.cost_per_run).fold(0.0_f64, f64::max);
        let mut chart = ChartBuilder::on(&upper)
            .caption(
                "Latency vs pass rate per variant",
                ("sans-serif", 22).into_font(),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, -5.0..105.0)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("median wall latency (s) — bar to p90")
            .y_desc("test pass rate (%)")
            .draw()
            .map_err(chart_error)?;
        for (i, r) in rows.iter().enumerate() {
            let color = PALETTE
                .get(i.checked_rem(PALETTE.len()).unwrap_or(0))
                .copied()
                .unwrap_or(BLACK);
            let y = r.pass_rate * 100.0;
            let (x, x90) = (r.median_ms / 1000.0, r.p90_ms / 1000.0);
            let size = if max_cost > 0.0 {
                5.0 + 10.0 * (r.cost_per_run / max_cost).sqrt()
            } else {
                7.0
            };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, y), (x90, y)],
                    color.stroke_width(2),
                )))
                .map_err(chart_error)?;
            chart
                .draw_series(std::iter::once(Circle::new(
                    (x, y),
                    size as i32,
                    color.mix(0.8).filled(),
                )))
                .map_err(chart_error)?;
            // The legend row under the chart.
            let ly = i32::try_from(i)
                .unwrap_or(i32::MAX)
                .saturating_mul(22)
                .saturating_add(8);
            lower
                .draw(&Circle::new((90, ly.saturating_add(6)), 6, color.filled()))
                .map_err(chart_error)?;
            lower
                .draw(&Text::new(
                    format!(
                        "{}: p50 {:.2} s, p90 {:.2} s, pass {:.0}%, cost/run {:.4}",
                        r.variant, x, x90, y, r.cost_per_run
                    ),
                    (104, ly),
                    ("sans-serif", 14).into_font(),
                ))
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}
