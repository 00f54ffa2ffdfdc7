//! Server resource use from Linux `/proc/PID/status` (VmRSS) and `/proc/PID/stat` (CPU ticks).

use std::path::PathBuf;

/// Clock ticks per second for `utime`/`stime` in `/proc/PID/stat`. `sysconf(_SC_CLK_TCK)`
/// is 100 on every Linux architecture Rust targets (USER_HZ; proc(5): "measured in clock
/// ticks (divide by sysconf(_SC_CLK_TCK))"); a constant keeps the crate libc-free.
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
/// How often RSS is sampled during a run. Our choice: 10 Hz catches allocation spikes of
/// a batch without measurable cost.
pub const SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// Upper bound on bytes read from one `/proc` file. Our choice: `status` is ~1.5 KiB and
/// `stat` ~300 B; 64 KiB is far above both.
const MAX_PROC_FILE_BYTES: u64 = 64 * 1024;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// User + system CPU time in seconds since the process started.
    pub cpu_seconds: f64,
}

fn read_small(path: PathBuf) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(MAX_PROC_FILE_BYTES).read_to_string(&mut s).ok()?;
    Some(s)
}

/// `VmRSS:   12345 kB` → bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// `utime + stime` in ticks from a `/proc/PID/stat` line (fields 14 and 15; the command
/// name in field 2 may contain spaces and parentheses, so fields are counted after the
/// last `)`).
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')': field 3 (state) is index 0, so utime (14) is index 11, stime (15) index 12.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Reads RSS and CPU time of `pid`; `None` if the process is gone or `/proc` is missing.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let rss_bytes = parse_vm_rss(&read_small(base.join("status"))?)?;
    let ticks = parse_stat_ticks(&read_small(base.join("stat"))?)?;
    Some(ProcSample {
        rss_bytes,
        cpu_seconds: ticks as f64 / CLOCK_TICKS_PER_SECOND,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_formats() {
        let status = "Name:\twaggle\nVmPeak:\t  200 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1000 1000000 300";
        assert_eq!(parse_stat_ticks(stat), Some(300));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn samples_own_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_bytes > 0);
        assert!(s.cpu_seconds >= 0.0);
    }
}
