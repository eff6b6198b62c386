//! SVG plots (plotters' SVG backend, no font files needed): the latency
//! percentile curve of every target, and delivered messages per second over
//! the run.

use std::path::Path;

use plotters::prelude::*;

use crate::fanout::FanoutResult;
use crate::subscribers::BUCKET_NS;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Latency (scheduled → received, ms, log scale) against percentile, with
/// the x axis spread towards the tail: x = -log10(1 - q) (0 = p0, 1 = p90,
/// 2 = p99, 3 = p99.9 …).
pub fn latency(path: &Path, title: &str, results: &[FanoutResult]) -> anyhow::Result<()> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = results
        .iter()
        .map(|r| {
            let pts =
                r.latency_cdf.iter().map(|&(us, q)| (-(1.0 - q).max(1e-5).log10(), (us / 1000.0).max(0.001))).collect();
            (r.target.as_str(), pts)
        })
        .collect();
    let ymax = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.5;
    let ymin = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)).fold(f64::MAX, f64::min).min(ymax / 10.0) / 1.5;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..5f64, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency ms (from scheduled send)")
        .x_label_formatter(&|x| match x.round() as i32 {
            0 => "p0".into(),
            1 => "p90".into(),
            2 => "p99".into(),
            3 => "p99.9".into(),
            4 => "p99.99".into(),
            _ => "p99.999".into(),
        })
        .x_labels(6)
        .draw()?;
    for (i, (name, pts)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// Delivered messages per second (100 ms buckets) over the measured window.
pub fn throughput(path: &Path, title: &str, results: &[FanoutResult]) -> anyhow::Result<()> {
    let per_s = 1e9 / BUCKET_NS as f64;
    let bucket_s = BUCKET_NS as f64 / 1e9;
    let xmax = results.iter().map(|r| r.timeline.len()).max().unwrap_or(1) as f64 * bucket_s;
    let ymax = results.iter().flat_map(|r| r.timeline.iter()).copied().max().unwrap_or(1) as f64 * per_s * 1.1;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(0f64..xmax.max(bucket_s), 0f64..ymax.max(1.0))?;
    chart.configure_mesh().x_desc("seconds since measurement start").y_desc("deliveries / s").draw()?;
    for (i, r) in results.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts = r.timeline.iter().enumerate().map(|(k, &n)| (k as f64 * bucket_s, n as f64 * per_s));
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(r.target.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
