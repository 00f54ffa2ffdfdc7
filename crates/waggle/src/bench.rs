//! `waggle bench`: the load generator (`bench load`) and the benchmark suite (`bench suite`)
//! that measures DESIGN.md's performance goals against a real `waggle serve` child process
//! and prints one table: measure, Waggle, goal, met?
//!
//! Benchmarks are not tests: CI runs only `bench suite --smoke`, a seconds-long version that
//! keeps this code compiling and working.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use loadgen::{Compression, GenConfig, LoadConfig, Mode, Protocol, Stop};
use serde_json::{json, Value};

mod pages;
mod rollbar;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send Cruddur-like traffic to a running server and report rate, latency and refusals.
    Load(LoadArgs),
    /// Run the whole benchmark suite against a fresh server and print the goals table.
    Suite(SuiteArgs),
    /// In-process: decode Cruddur-like OTLP requests and insert them into a fresh store in
    /// transactions of a given size; prints CPU µs per span for each phase (no network).
    Insert(InsertArgs),
}

#[derive(Debug, Args)]
pub struct InsertArgs {
    /// Spans to insert in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub spans: usize,
    /// Spans per transaction (the pipeline's group size).
    #[arg(long, default_value_t = 4096)]
    pub group: usize,
    /// Where to put the store [default: a temporary directory, removed afterwards].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Which attributes to insert: `all`; `none-wide` (the first group creates every
    /// attribute column, later groups carry only the fixed columns: the cost of a wide table's
    /// empty cells); `none` (fixed columns only, a narrow table).
    #[arg(long, value_enum, default_value_t = FieldsMode::All)]
    pub fields: FieldsMode,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FieldsMode {
    All,
    NoneWide,
    None,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// otlp-http, otlp-grpc or honeycomb.
    #[arg(long, default_value = "otlp-http")]
    pub protocol: String,
    /// Base URL: http://127.0.0.1:4318 (OTLP/HTTP), http://127.0.0.1:4317 (gRPC),
    /// http://127.0.0.1:3200 (Honeycomb).
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub target: String,
    /// Parallel connections.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Open loop at this many spans/s; omit for closed loop (as fast as the server answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds to measure.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Spans per request.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// gzip bodies.
    #[arg(long)]
    pub gzip: bool,
    /// PID of the server, to report its RSS and CPU.
    #[arg(long)]
    pub server_pid: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Spans loaded for the query benchmarks.
    #[arg(long, default_value_t = 10_000_000)]
    pub spans: u64,
    /// Seconds per ingest measurement.
    #[arg(long, default_value_t = 20)]
    pub ingest_seconds: u64,
    /// A few seconds in all: checks the suite works, measures nothing meaningful.
    #[arg(long)]
    pub smoke: bool,
    /// Keep the data directory (to rerun queries).
    #[arg(long)]
    pub keep: bool,
    /// Where to put the data directory [default: a temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// With `--dir` of an earlier `--keep` run: skip start-up and ingest measurements and
    /// the bulk load, and time the queries over the store already there.
    #[arg(long, requires = "dir")]
    pub reuse: bool,
    /// Only the Rollbar rows (item ingest, the read API over 1M occurrences, the start
    /// after a kill -9), on their own fresh server.
    #[arg(long, conflicts_with = "reuse")]
    pub rollbar_only: bool,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Load(a) => load(a),
        BenchCommand::Suite(a) => suite(a),
        BenchCommand::Insert(a) => insert(a),
    }
}

/// Decode once, then insert the events again and again with fresh trace ids, `group` spans
/// per transaction, and report the per-phase cost the store measures.
fn insert(a: InsertArgs) -> Result<()> {
    use protocols::otlp::{self, Format, Hints, Signal};
    use store::Store;
    if a.group == 0 || a.spans == 0 {
        bail!("--spans and --group must be > 0");
    }
    let bodies = loadgen::otlp_trace_bodies(&GenConfig::default());
    // Decode twice and time the second pass (the first one also pays the page faults of a
    // fresh heap).
    let mut events = Vec::new();
    let mut decode_us = 0.0;
    for _ in 0..2 {
        events.clear();
        let t = Instant::now();
        for b in &bodies {
            let d = otlp::decode(Signal::Traces, Format::Protobuf, b, &Hints::default())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            events.extend(d.events);
        }
        decode_us = t.elapsed().as_secs_f64() * 1e6 / events.len().max(1) as f64;
    }
    let (dir, temp) = match a.dir {
        Some(d) => (d, false),
        None => (
            std::env::temp_dir().join(format!("waggle-insert-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let store = store::DuckStore::open(&dir, store::StoreOptions::default())?;
    let (mut schema, mut build, mut append, mut commit) = (0u64, 0u64, 0u64, 0u64);
    let mut done = 0usize;
    let mut cycle = 0u64;
    let started = Instant::now();
    while done < a.spans {
        cycle += 1;
        for chunk in events.chunks(a.group) {
            let n = chunk.len().min(a.spans - done);
            if n == 0 {
                break;
            }
            let mut group: Vec<_> = chunk[..n].to_vec();
            for e in &mut group {
                if let Some(id) = e.trace_id.as_mut() {
                    for (b, c) in id.0.iter_mut().zip(cycle.to_le_bytes()) {
                        *b ^= c;
                    }
                }
            }
            let strip = match a.fields {
                FieldsMode::All => false,
                FieldsMode::NoneWide => done > 0,
                FieldsMode::None => true,
            };
            if strip {
                for e in &mut group {
                    e.fields.clear();
                }
            }
            let r = store.insert(&group)?;
            schema += r.schema_us;
            build += r.build_us;
            append += r.append_us;
            commit += r.commit_us;
            done += n;
        }
    }
    let wall = started.elapsed();
    store.checkpoint()?;
    let disk = dir_bytes(&dir);
    let per = |us: u64| us as f64 / done as f64;
    println!(
        "insert: {done} spans in groups of {}: {:.0} spans/s on one thread",
        a.group,
        done as f64 / wall.as_secs_f64()
    );
    println!(
        "  µs/span: decode {decode_us:.2} | schema {:.2}  build {:.2}  append {:.2}  commit {:.2}  (store total {:.2})",
        per(schema),
        per(build),
        per(append),
        per(commit),
        per(schema + build + append + commit)
    );
    println!(
        "  disk {:.1} B/span after checkpoint",
        disk as f64 / done as f64
    );
    drop(store);
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load(a: LoadArgs) -> Result<()> {
    let protocol: Protocol = a.protocol.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = LoadConfig {
        protocol,
        target: a.target,
        compression: if a.gzip {
            Compression::Gzip
        } else {
            Compression::None
        },
        gen: GenConfig {
            spans_per_request: a.batch,
            ..GenConfig::default()
        },
        concurrency: a.concurrency,
        mode: match a.rate {
            Some(r) => Mode::OpenLoop { items_per_s: r },
            None => Mode::ClosedLoop,
        },
        stop: Stop::After(Duration::from_secs(a.seconds)),
        server_pid: a.server_pid,
        ..LoadConfig::default()
    };
    let report = runtime()?
        .block_on(loadgen::run(cfg))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

/// A `waggle serve` child on port 0.
struct ServerProc {
    child: Child,
    http: String,
    otlp_http: String,
    otlp_grpc: String,
    startup: Duration,
}

impl ServerProc {
    fn start(dir: &Path) -> Result<Self> {
        Self::start_with(dir, &[])
    }

    /// [`ServerProc::start`] with more `waggle serve` arguments.
    fn start_with(dir: &Path, extra: &[&str]) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find the waggle executable")?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--http-addr",
                "127.0.0.1:0",
                "--otlp-http-addr",
                "127.0.0.1:0",
            ])
            .args(["--otlp-grpc-addr", "127.0.0.1:0", "--retention-days", "0"])
            .args(["--xray-addr", "127.0.0.1:0"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir)
            .env("WAGGLE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start waggle serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(json) = line.strip_prefix("WAGGLE_READY ") {
                        break serde_json::from_str::<Value>(json)?;
                    }
                }
                _ => bail!("waggle serve exited before it was ready"),
            }
        };
        let startup = started.elapsed();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = |k: &str| format!("http://{}", ready[k].as_str().unwrap_or(""));
        Ok(Self {
            http: addr("http"),
            otlp_http: addr("otlp_http"),
            otlp_grpc: addr("otlp_grpc"),
            startup,
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait (graceful shutdown checkpoints the store).
    fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        bail!("server did not stop within 120 s")
    }
}

/// A suite that fails half-way does not leave its server running.
impl Drop for ServerProc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Row {
    measure: String,
    value: String,
    goal: String,
    met: Option<bool>,
}

fn row(measure: &str, value: String, goal: &str, met: Option<bool>) -> Row {
    Row {
        measure: measure.into(),
        value,
        goal: goal.into(),
        met,
    }
}

fn http() -> Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// Times `f` `runs` times; returns (median, max) in ms.
fn time_ms(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64)> {
    let mut t = Vec::new();
    for _ in 0..runs {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok((t[t.len() / 2], t[t.len() - 1]))
}

fn ingest(
    rt: &tokio::runtime::Runtime,
    protocol: Protocol,
    target: &str,
    stop: Stop,
    pid: u32,
    smoke: bool,
    time_limit: Duration,
) -> Result<loadgen::LoadReport> {
    let cfg = LoadConfig {
        protocol,
        target: target.to_string(),
        concurrency: 8,
        stop,
        warmup: if smoke {
            Duration::ZERO
        } else {
            Duration::from_secs(2)
        },
        server_pid: Some(pid),
        time_limit,
        ..LoadConfig::default()
    };
    rt.block_on(loadgen::run(cfg))
        .map_err(|e| anyhow::anyhow!("load failed: {e}"))
}

fn post_json(c: &reqwest::blocking::Client, url: &str, body: &Value) -> Result<Value> {
    let r = c.post(url).json(body).send()?;
    let status = r.status();
    let text = r.text()?;
    if !status.is_success() {
        bail!("{url}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// Start-up, idle memory, ingest per protocol, and the bulk load of the query store
/// (`tmp/query`); returns the spans loaded.
fn measure_ingest(
    a: &SuiteArgs,
    rt: &tokio::runtime::Runtime,
    tmp: &Path,
    ingest_for: Duration,
    spans_target: u64,
    rows: &mut Vec<Row>,
    raw: &mut serde_json::Map<String, Value>,
) -> Result<u64> {
    // Start-up time and idle memory on an empty store.
    let mut startups = Vec::new();
    let mut idle_rss = 0;
    for i in 0..3 {
        let d = tmp.join(format!("startup-{i}"));
        let s = ServerProc::start(&d)?;
        startups.push(s.startup.as_secs_f64() * 1000.0);
        if i == 0 {
            std::thread::sleep(Duration::from_secs(if a.smoke { 1 } else { 3 }));
            idle_rss = rss_bytes(s.pid()).unwrap_or(0);
        }
        s.stop()?;
        let _ = std::fs::remove_dir_all(&d);
    }
    startups.sort_by(|a, b| a.total_cmp(b));
    let startup_ms = startups[startups.len() / 2];
    rows.push(row(
        "start-up (median of 3, to ready line)",
        format!("{startup_ms:.0} ms"),
        "≤ 500 ms",
        Some(startup_ms <= 500.0),
    ));
    let idle_mb = idle_rss as f64 / 1e6;
    rows.push(row(
        "idle RSS, empty store",
        format!("{idle_mb:.1} MB"),
        "≤ 60 MB",
        Some(idle_mb <= 60.0),
    ));

    // Ingest per protocol, each on a fresh store.
    for (name, protocol, goal) in [
        (
            "OTLP/HTTP protobuf ingest, durable",
            Protocol::OtlpHttpProtobuf,
            Some(150_000.0),
        ),
        ("OTLP/gRPC ingest, durable", Protocol::OtlpGrpc, None),
        (
            "Honeycomb /1/batch ingest, durable",
            Protocol::HoneycombBatch,
            None,
        ),
    ] {
        let d = tmp.join(format!("ingest-{}", protocol.name()));
        let s = ServerProc::start(&d)?;
        let target = match protocol {
            Protocol::OtlpHttpProtobuf => s.otlp_http.clone(),
            Protocol::OtlpGrpc => s.otlp_grpc.clone(),
            Protocol::HoneycombBatch | Protocol::RollbarItem => s.http.clone(),
        };
        let r = ingest(
            rt,
            protocol,
            &target,
            Stop::After(ingest_for),
            s.pid(),
            a.smoke,
            loadgen::runner::DEFAULT_TIME_LIMIT,
        )?;
        let rate = r.items_accepted_per_s;
        let detail = format!(
            "{rate:.0} spans/s (p99 {:.0} ms, {} refused, server CPU {:.2} cores, RSS max {:.0} MB)",
            r.latency_ms.p99,
            r.requests_refused,
            r.server.as_ref().map(|u| u.cpu_cores).unwrap_or(0.0),
            r.server.as_ref().map(|u| u.rss_max_bytes as f64 / 1e6).unwrap_or(0.0),
        );
        rows.push(row(
            name,
            detail,
            goal.map(|g| format!("≥ {g:.0} spans/s"))
                .as_deref()
                .unwrap_or("-"),
            goal.map(|g| rate >= g),
        ));
        raw.insert(
            format!("ingest_{}", protocol.name()),
            serde_json::to_value(&r)?,
        );
        s.stop()?;
        let _ = std::fs::remove_dir_all(&d);
    }

    // Bulk load for the query measurements.
    let d = tmp.join("query");
    let s = ServerProc::start(&d)?;
    let per_request = GenConfig::default().spans_per_request as u64;
    let load_started = Instant::now();
    let r = ingest(
        rt,
        Protocol::OtlpHttpProtobuf,
        &s.otlp_http,
        Stop::Requests(spans_target.div_ceil(per_request)),
        s.pid(),
        true,
        // Room for the whole load at 20k spans/s, within the load generator's 1 h cap.
        Duration::from_secs((spans_target / 20_000).clamp(600, 3_500)),
    )?;
    let loaded = r.items_accepted;
    eprintln!(
        "loaded {loaded} spans in {:.0} s ({:.0} spans/s)",
        load_started.elapsed().as_secs_f64(),
        loaded as f64 / load_started.elapsed().as_secs_f64()
    );
    s.stop()?;
    let bytes = dir_bytes(&d);
    let per_span = bytes as f64 / loaded.max(1) as f64;
    rows.push(row(
        &format!("bytes on disk per span ({loaded} spans, after checkpoint)"),
        format!("{per_span:.1} B"),
        "≤ 60 B",
        Some(per_span <= 60.0),
    ));

    Ok(loaded)
}

fn suite(a: SuiteArgs) -> Result<()> {
    let rt = runtime()?;
    let tmp = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("waggle-bench-{}", std::process::id()))
    });
    let reuse = a.reuse && tmp.join("query").is_dir();
    if !reuse {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    std::fs::create_dir_all(&tmp)?;
    let ingest_for = if a.smoke {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(a.ingest_seconds)
    };
    let spans_target = if a.smoke { 20_000 } else { a.spans };
    let mut rows: Vec<Row> = Vec::new();
    let mut raw = serde_json::Map::new();
    if a.rollbar_only {
        rollbar::run(&rt, &tmp, ingest_for, a.smoke, &mut rows, &mut raw)?;
        return finish(&a, &tmp, &rows, raw);
    }

    let d = tmp.join("query");
    let loaded = if reuse {
        0
    } else {
        measure_ingest(&a, &rt, &tmp, ingest_for, spans_target, &mut rows, &mut raw)?
    };
    let s = ServerProc::start(&d)?;
    let c = http()?;
    let loaded = if reuse {
        let ds = c
            .get(format!("{}/api/waggle/datasets", s.http))
            .send()?
            .json::<Value>()?;
        ds["datasets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["name"] == "backend-flask")
            .filter_map(|d| d["events"].as_u64())
            .sum()
    } else {
        loaded
    };
    let composite = json!({
        "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}, {"op": "HEATMAP", "column": "duration_ms"}],
        "breakdowns": ["http.route"],
        "filters": [{"column": "http.status_code", "op": ">=", "value": 200}],
        "time_range": 30 * 86_400,
    });
    let q = post_json(
        &c,
        &format!("{}/1/queries/backend-flask", s.http),
        &composite,
    )?;
    let qid = q["id"].as_str().unwrap_or_default().to_string();
    let runs = if a.smoke { 2 } else { 7 };
    let (p50, max) = time_ms(runs, || {
        post_json(
            &c,
            &format!("{}/1/query_results/backend-flask", s.http),
            &json!({"query_id": qid, "disable_series": true}),
        )
        .map(|_| ())
    })?;
    rows.push(row(
        &format!("Honeycomb query COUNT+P99+HEATMAP by http.route, 1 filter ({loaded} spans)"),
        format!("{p50:.0} ms median, {max:.0} ms max"),
        "≤ 300 ms",
        Some(max <= 300.0),
    ));
    let (p50, max) = time_ms(runs, || {
        post_json(
            &c,
            &format!("{}/api/waggle/bubbleup/backend-flask", s.http),
            &json!({"query": {"time_range": 30 * 86_400},
                    "selection": {"filters": [{"column": "duration_ms", "op": ">", "value": 200}]}}),
        )
        .map(|_| ())
    })?;
    rows.push(row(
        "BubbleUp (duration_ms > 200 vs rest)",
        format!("{p50:.0} ms median, {max:.0} ms max"),
        "≤ 1000 ms",
        Some(max <= 1000.0),
    ));
    // Trace ids to look up: from a search.
    let search = c
        .get(format!("{}/api/search", s.http))
        .query(&[("limit", "20"), ("start", "0"), ("end", "4000000000")])
        .send()?
        .json::<Value>()?;
    let ids: Vec<String> = search["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["traceID"].as_str().map(str::to_string))
        .collect();
    if !ids.is_empty() {
        let mut i = 0;
        let (p50, max) = time_ms(ids.len().max(runs), || {
            let id = &ids[i % ids.len()];
            i += 1;
            let r = c.get(format!("{}/api/traces/{id}", s.http)).send()?;
            if !r.status().is_success() {
                bail!("trace {id}: {}", r.status());
            }
            Ok(())
        })?;
        rows.push(row(
            "trace by id (Tempo /api/traces)",
            format!("{p50:.1} ms median, {max:.1} ms max"),
            "≤ 20 ms",
            Some(p50 <= 20.0),
        ));
    } else {
        rows.push(row(
            "trace by id (Tempo /api/traces)",
            "no traces found".into(),
            "≤ 20 ms",
            Some(false),
        ));
    }
    for (name, params) in [
        (
            "Tempo search by attribute",
            vec![("tags", "http.route=/api/activities/home".to_string())],
        ),
        (
            "Tempo search by duration",
            vec![("minDuration", "500ms".to_string())],
        ),
    ] {
        let (p50, max) = time_ms(runs, || {
            let mut q: Vec<(&str, String)> = params.clone();
            q.push(("start", "0".into()));
            q.push(("end", "4000000000".into()));
            q.push(("limit", "20".into()));
            let r = c.get(format!("{}/api/search", s.http)).query(&q).send()?;
            if !r.status().is_success() {
                bail!("search: {}", r.status());
            }
            Ok(())
        })?;
        rows.push(row(
            name,
            format!("{p50:.0} ms median, {max:.0} ms max"),
            "-",
            None,
        ));
    }

    pages::run(&c, &s.http, loaded, runs, &mut rows)?;

    // Ingest while queries run (not over a reused store: it would grow it).
    if !reuse {
        let stop_flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let qthread = {
            let stop_flag = stop_flag.clone();
            let url = format!("{}/1/query_results/backend-flask", s.http);
            let qid = qid.clone();
            std::thread::spawn(move || -> Vec<f64> {
                let mut times = Vec::new();
                let Ok(c) = http() else { return times };
                while !stop_flag.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    if post_json(&c, &url, &json!({"query_id": qid, "disable_series": true}))
                        .is_err()
                    {
                        break;
                    }
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                times
            })
        };
        let r = ingest(
            &rt,
            Protocol::OtlpHttpProtobuf,
            &s.otlp_http,
            Stop::After(ingest_for),
            s.pid(),
            a.smoke,
            loadgen::runner::DEFAULT_TIME_LIMIT,
        )?;
        stop_flag.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut qt = qthread.join().unwrap_or_default();
        qt.sort_by(|a, b| a.total_cmp(b));
        let qmed = qt.get(qt.len() / 2).copied().unwrap_or(0.0);
        rows.push(row(
            "ingest while the composite query loops",
            format!(
                "{:.0} spans/s; {} queries, median {qmed:.0} ms",
                r.items_accepted_per_s,
                qt.len()
            ),
            "-",
            None,
        ));
    }
    s.stop()?;
    if !reuse {
        rollbar::run(&rt, &tmp, ingest_for, a.smoke, &mut rows, &mut raw)?;
    }
    finish(&a, &tmp, &rows, raw)
}

/// Removes the data directory (unless `--keep`), prints the goals table and writes the JSON.
fn finish(
    a: &SuiteArgs,
    tmp: &Path,
    rows: &[Row],
    mut raw: serde_json::Map<String, Value>,
) -> Result<()> {
    if !a.keep {
        let _ = std::fs::remove_dir_all(tmp);
    }

    println!("\n| measure | Waggle | goal | met? |\n|---|---|---|---|");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!("| {} | {} | {} | {} |", r.measure, r.value, r.goal, met);
    }
    if let Some(path) = &a.json_out {
        raw.insert(
            "table".into(),
            json!(rows.iter().map(|r| json!({"measure": r.measure, "value": r.value, "goal": r.goal, "met": r.met})).collect::<Vec<_>>()),
        );
        std::fs::write(path, serde_json::to_string_pretty(&Value::Object(raw))?)?;
    }
    Ok(())
}
