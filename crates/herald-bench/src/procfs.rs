//! Process figures from `/proc`: CPU time (utime + stime), resident memory,
//! and per-thread CPU of this process (to tell when the generator saturates).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run).
pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Parses the command name and utime, stime (fields 14 and 15, in ticks)
/// from a `stat` line. The command name (field 2) may contain spaces, so
/// fields are counted after its closing parenthesis.
fn parse_stat(line: &str) -> Option<(String, u64, u64)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line[open + 1..close].to_string();
    let mut rest = line[close + 2..].split_ascii_whitespace();
    // rest starts at field 3 (state); utime is field 14 → index 11.
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((comm, utime, stime))
}

/// The command name and utime + stime, in ticks.
fn parse_stat_ticks(line: &str) -> Option<(String, u64)> {
    parse_stat(line).map(|(c, u, s)| (c, u + s))
}

/// CPU seconds (user + system) consumed so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_split(pid).map(|(u, s)| u + s)
}

/// CPU seconds in user space and in the kernel consumed so far by `pid`.
pub fn cpu_split(pid: u32) -> Option<(f64, f64)> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&line).map(|(_, u, s)| (u as f64 / clock_ticks(), s as f64 / clock_ticks()))
}

/// CPU seconds consumed so far by this process.
pub fn self_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// Resident set size of process `pid`, in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU seconds per thread of this process, keyed by thread id, with the
/// thread's name.
pub fn self_thread_cpu() -> HashMap<u32, (String, f64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((comm, ticks)) =
            std::fs::read_to_string(entry.path().join("stat")).ok().as_deref().and_then(parse_stat_ticks)
        {
            out.insert(tid, (comm, ticks as f64 / clock_ticks()));
        }
    }
    out
}

/// This process's soft limit on open files (`Max open files` in
/// `/proc/self/limits`), if readable. Servers started by the bench inherit it.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_ascii_whitespace().next()?.parse().ok()
}

/// A snapshot of this process's CPU, to measure the generator over a window.
#[derive(Debug, Clone)]
pub struct SelfCpu {
    total: f64,
    threads: HashMap<u32, (String, f64)>,
}

/// The generator's CPU use over a window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GeneratorCpu {
    /// CPU seconds of the whole generator process.
    pub cpu_seconds: f64,
    /// Average cores used (cpu seconds / wall seconds).
    pub cores: f64,
    /// The busiest thread's share of one core (0–1).
    pub busiest_thread: f64,
    /// Name of the busiest thread.
    pub busiest_thread_name: String,
    /// A thread used more than 90% of a core: latency figures then include
    /// the generator's own queueing.
    pub saturated: bool,
}

impl SelfCpu {
    /// Takes a snapshot now.
    pub fn now() -> Self {
        Self { total: self_cpu_seconds(), threads: self_thread_cpu() }
    }

    /// CPU used since this snapshot, over `wall` seconds.
    pub fn since(&self, wall: f64) -> GeneratorCpu {
        let end = Self::now();
        let wall = wall.max(1e-3);
        let mut busiest = (String::new(), 0.0f64);
        for (tid, (name, secs)) in &end.threads {
            let before = self.threads.get(tid).map_or(0.0, |(_, s)| *s);
            let share = (secs - before) / wall;
            if share > busiest.1 {
                busiest = (name.clone(), share);
            }
        }
        let cpu = end.total - self.total;
        GeneratorCpu {
            cpu_seconds: cpu,
            cores: cpu / wall,
            busiest_thread: busiest.1,
            busiest_thread_name: busiest.0,
            saturated: busiest.1 > 0.9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let line = "42 (tokio runtime w) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 0 0";
        assert_eq!(parse_stat_ticks(line), Some(("tokio runtime w".to_string(), 300)));
    }

    #[test]
    fn reads_own_figures() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        assert!(self_cpu_seconds() >= 0.0);
        assert!(!self_thread_cpu().is_empty());
    }
}
