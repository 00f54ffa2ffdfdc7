//! The result of a load run: counts, throughput, latency percentiles, server resource use.

use std::fmt;

/// Latency percentiles in milliseconds (from an HdrHistogram with 3 significant digits).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LatencyMs {
    /// Requests measured (ok + refused + failed).
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Resource use of the server process during the measured phase.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    /// Largest VmRSS seen (sampled every `procstat::SAMPLE_INTERVAL`).
    pub rss_max_bytes: u64,
    /// VmRSS at the end of the run.
    pub rss_final_bytes: u64,
    /// utime + stime spent during the measured phase.
    pub cpu_seconds: f64,
    /// `cpu_seconds / elapsed_s`: average cores busy.
    pub cpu_cores: f64,
    pub samples: u64,
}

/// One kind of failure and how often it happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorCount {
    pub message: String,
    pub count: u64,
}

/// What a load run measured. `Display` renders a table; `Serialize` gives JSON.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LoadReport {
    /// Workload name, e.g. `otlp-http-protobuf`.
    pub workload: String,
    /// What an item is ("spans", "events").
    pub item_kind: String,
    /// The URL requests went to.
    pub url: String,
    /// `closed-loop` or `open-loop`.
    pub mode: String,
    /// Open loop: the requested rate in items per second.
    pub target_items_per_s: Option<f64>,
    pub concurrency: usize,
    /// Distinct pre-encoded requests cycled through.
    pub prepared_requests: usize,
    /// Average items per request.
    pub items_per_request: f64,
    pub warmup_s: f64,
    /// Length of the measured phase.
    pub elapsed_s: f64,
    /// Requests answered with success.
    pub requests_ok: u64,
    /// Requests refused for overload: HTTP 429/503, gRPC UNAVAILABLE/RESOURCE_EXHAUSTED.
    pub requests_refused: u64,
    /// Requests that failed otherwise (other status, connection error, timeout).
    pub requests_failed: u64,
    /// Open loop: requests scheduled within the run that never started (client backlog).
    pub requests_missed: u64,
    pub requests_per_s: f64,
    pub items_sent: u64,
    /// Items in successful requests minus those the server reported as rejected.
    pub items_accepted: u64,
    /// Items the server rejected inside successful responses (OTLP partial success,
    /// non-2xx entries of a `/1/batch` answer).
    pub items_rejected: u64,
    pub items_accepted_per_s: f64,
    pub bytes_sent: u64,
    /// Latency of every measured request; open loop counts from the scheduled start.
    pub latency_ms: LatencyMs,
    pub server: Option<ServerUsage>,
    /// The most frequent failure messages (bounded).
    pub errors: Vec<ErrorCount>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `1234567.8` → `1,234,568`.
fn grouped(v: f64) -> String {
    let n = v.round().max(0.0) as u64;
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = &self.item_kind;
        writeln!(f, "load: {} → {}", self.workload, self.url)?;
        let mode = match self.target_items_per_s {
            Some(rate) => format!("{} at {} {k}/s", self.mode, grouped(rate)),
            None => self.mode.clone(),
        };
        writeln!(
            f,
            "  {:<12} {mode}, {} connections, {:.0} {k}/request, {} prepared requests",
            "mode", self.concurrency, self.items_per_request, self.prepared_requests
        )?;
        writeln!(
            f,
            "  {:<12} {:.2} s measured (after {:.2} s warm-up)",
            "duration", self.elapsed_s, self.warmup_s
        )?;
        writeln!(
            f,
            "  {:<12} {} ok, {} refused, {} failed, {} missed ({:.1} req/s)",
            "requests",
            grouped(self.requests_ok as f64),
            grouped(self.requests_refused as f64),
            grouped(self.requests_failed as f64),
            grouped(self.requests_missed as f64),
            self.requests_per_s
        )?;
        writeln!(
            f,
            "  {:<12} {} sent, {} accepted, {} rejected",
            k,
            grouped(self.items_sent as f64),
            grouped(self.items_accepted as f64),
            grouped(self.items_rejected as f64)
        )?;
        writeln!(
            f,
            "  {:<12} {} {k}/s accepted",
            "throughput",
            grouped(self.items_accepted_per_s)
        )?;
        let mbps = if self.elapsed_s > 0.0 {
            mib(self.bytes_sent) / self.elapsed_s
        } else {
            0.0
        };
        writeln!(
            f,
            "  {:<12} {:.1} MiB sent ({:.1} MiB/s)",
            "bytes",
            mib(self.bytes_sent),
            mbps
        )?;
        let l = &self.latency_ms;
        writeln!(
            f,
            "  {:<12} p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  mean {:.2}",
            "latency ms", l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        )?;
        if let Some(s) = &self.server {
            writeln!(
                f,
                "  {:<12} pid {}: RSS max {:.1} MiB, final {:.1} MiB; CPU {:.2} s ({:.2} cores)",
                "server",
                s.pid,
                mib(s.rss_max_bytes),
                mib(s.rss_final_bytes),
                s.cpu_seconds,
                s.cpu_cores
            )?;
        }
        for e in &self.errors {
            writeln!(
                f,
                "  {:<12} {} × {}",
                "error",
                grouped(e.count as f64),
                e.message
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1000.0), "1,000");
        assert_eq!(grouped(1234567.4), "1,234,567");
    }
}
