//! Printing results as tables (absolute figures, then each target's figures
//! as a ratio to Herald's) and writing them as JSON.

use std::fmt::Write as _;
use std::path::Path;

use crate::connect::ConnectResult;
use crate::fanout::FanoutResult;

/// The figures compared across targets, with how to read them.
fn fanout_figures(r: &FanoutResult) -> [f64; 8] {
    let l = &r.latency_sched;
    [r.delivered_per_s, l.p50, l.p90, l.p99, l.p999, l.max, r.server_cpu_ms_per_1k, r.server_rss as f64 / 1e6]
}

const FANOUT_HEADERS: [&str; 8] =
    ["deliv/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "cpu ms/1k", "RSS MB"];

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn ratio(v: f64, base: f64) -> String {
    if base > 0.0 { format!("{:.2}×", v / base) } else { "–".into() }
}

/// The reference row: Herald's if present, else the first.
fn base_index(names: &[&str]) -> usize {
    names.iter().position(|n| *n == "herald").unwrap_or(0)
}

/// The fan-out tables as Markdown.
pub fn fanout_table(results: &[FanoutResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| target | subs | {} | gen CPU |", FANOUT_HEADERS.join(" | "));
    let _ = writeln!(s, "|---|---:|{}---|", "---:|".repeat(FANOUT_HEADERS.len()));
    for r in results {
        let figs: Vec<String> = fanout_figures(r).iter().map(|v| fmt_num(*v)).collect();
        let gen_cpu = format!(
            "{:.0}% (busiest thread {:.0}%{})",
            r.generator.cores * 100.0,
            r.generator.busiest_thread * 100.0,
            if r.generator.saturated { ", SATURATED" } else { "" }
        );
        let _ = writeln!(s, "| {} | {} | {} | {} |", r.target, r.subscribed, figs.join(" | "), gen_cpu);
    }
    if results.len() > 1 {
        let names: Vec<&str> = results.iter().map(|r| r.target.as_str()).collect();
        let base = &results[base_index(&names)];
        let b = fanout_figures(base);
        let _ = writeln!(
            s,
            "\nRatio to {} (deliv/s: higher is better; every other column: lower is better)\n",
            base.target
        );
        let _ = writeln!(s, "| target | {} |", FANOUT_HEADERS.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(FANOUT_HEADERS.len()));
        for r in results {
            let figs: Vec<String> = fanout_figures(r).iter().zip(b).map(|(v, b)| ratio(*v, b)).collect();
            let _ = writeln!(s, "| {} | {} |", r.target, figs.join(" | "));
        }
    }
    let _ = writeln!(s, "\nLatency from the actual send time (publish → receive), ms:\n");
    let _ = writeln!(
        s,
        "| target | p50 | p99 | max | delivered / expected | publisher max lag ms | closed | server CPU user/kernel |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        let l = &r.latency_sent;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} / {} | {} | {} | {:.0}% / {:.0}% |",
            r.target,
            fmt_num(l.p50),
            fmt_num(l.p99),
            fmt_num(l.max),
            r.delivered,
            r.expected,
            fmt_num(r.publisher.max_send_lag_us as f64 / 1000.0),
            r.closed_during_run,
            100.0 * r.server_cpu_user_s / r.server_cpu_s.max(1e-9),
            100.0 * (1.0 - r.server_cpu_user_s / r.server_cpu_s.max(1e-9))
        );
    }
    for r in results {
        if r.generator.saturated {
            let _ = writeln!(
                s,
                "\nNote: the generator was saturated during the {} run (thread {} at {:.0}% of a core): \
                 its latency includes the generator's own queueing.",
                r.target,
                r.generator.busiest_thread_name,
                r.generator.busiest_thread * 100.0
            );
        }
        if let Some(e) = &r.first_error {
            let _ =
                writeln!(s, "\n{}: {} subscriber(s) failed to connect, first error: {e}", r.target, r.connect_errors);
        }
        if r.subscribers_short > 0 || r.subscribers_over > 0 {
            let _ = writeln!(
                s,
                "\n{}: NOT EXACT: {} subscriber(s) missed messages, {} got duplicates (worst: {:?} received/expected)",
                r.target, r.subscribers_short, r.subscribers_over, r.worst_subscriber
            );
        }
    }
    s
}

/// The connect tables as Markdown.
pub fn connect_table(results: &[ConnectResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| target | connections | failed | seconds | RSS MB | KB per connection | ratio |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    let names: Vec<&str> = results.iter().map(|r| r.target.as_str()).collect();
    let base = results.get(base_index(&names));
    for r in results {
        for step in &r.steps {
            let b = base.and_then(|b| b.steps.iter().find(|x| x.connections == step.connections));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
                r.target,
                step.connections,
                step.failed,
                step.seconds,
                step.rss as f64 / 1e6,
                step.bytes_per_conn / 1e3,
                b.map_or("–".into(), |b| ratio(step.bytes_per_conn, b.bytes_per_conn))
            );
        }
        if let Some(e) = &r.first_error {
            let _ = writeln!(s, "\n{}: first connection error: {e}\n", r.target);
        }
    }
    s
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(value)?)?;
    Ok(())
}
