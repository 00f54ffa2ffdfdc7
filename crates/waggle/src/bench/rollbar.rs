//! The Rollbar rows of `bench suite`: `POST /api/1/item/` throughput with pyrollbar-shaped
//! occurrences (a `trace` body with 12 frames, request, person, server, custom; one per
//! request, as pyrollbar sends them) from many connections, then the read API over what was
//! loaded (issue goal: 1,000,000 occurrences across 10,000 items), then the start after a
//! `kill -9` in the middle of ingest (the items are completed from the stored occurrences).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use loadgen::{GenConfig, LoadConfig, Mode, Protocol, Stop};
use serde_json::Value;

use super::{http, row, time_ms, Row, ServerProc};

/// Connections posting at once (our choice: a fleet of app processes, each with pyrollbar's
/// one-at-a-time sender; under the listener's 200-connection bound, `edge::CONNECTIONS_MAX`,
/// leaving room for the reads).
const CONNECTIONS: usize = 192;
/// Distinct items the occurrences spread over (the figure).
const ITEMS: usize = 10_000;
/// The project and token the suite posts and reads with: Rollbar's default rate limit
/// (5,000 calls a minute per token, which local mode also applies) lifted, as a team
/// expecting this volume would configure it.
const TOKENS: [&str; 2] = ["--rollbar-tokens", "bench:bench:all:2000000000/60"];

fn load(
    rt: &tokio::runtime::Runtime,
    s: &ServerProc,
    seed: u64,
    stop: Stop,
    warmup: Duration,
    time_limit: Duration,
) -> Result<loadgen::LoadReport> {
    let cfg = LoadConfig {
        protocol: Protocol::RollbarItem,
        target: s.http.clone(),
        gen: GenConfig {
            // One prepared body per item; cycles re-send them with fresh uuids.
            // Each run its own uuids (cycles re-send bodies with patched uuids, per run).
            seed,
            requests: ITEMS,
            // One occurrence per request; the span count only sizes the generator's check.
            spans_per_request: 1,
            ..GenConfig::default()
        },
        concurrency: CONNECTIONS,
        mode: Mode::ClosedLoop,
        stop,
        warmup,
        server_pid: Some(s.pid()),
        time_limit,
        ..LoadConfig::default()
    };
    rt.block_on(loadgen::run(cfg))
        .map_err(|e| anyhow::anyhow!("Rollbar load failed: {e}"))
}

fn get(c: &reqwest::blocking::Client, url: &str) -> Result<Value> {
    let r = c
        .get(url)
        .header("x-rollbar-access-token", "bench")
        .send()?;
    let status = r.status();
    let text = r.text()?;
    if !status.is_success() {
        bail!(
            "{url}: {status}: {}",
            text.chars().take(200).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text)?)
}

/// Runs the Rollbar rows on a fresh server in `tmp/rollbar`.
pub(super) fn run(
    rt: &tokio::runtime::Runtime,
    tmp: &Path,
    ingest_for: Duration,
    smoke: bool,
    rows: &mut Vec<Row>,
    raw: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let d = tmp.join("rollbar");
    let _ = std::fs::remove_dir_all(&d);
    let s = ServerProc::start_with(&d, &TOKENS)?;
    let warmup = if smoke {
        Duration::ZERO
    } else {
        Duration::from_secs(2)
    };
    let r = load(
        rt,
        &s,
        1,
        Stop::After(ingest_for),
        warmup,
        loadgen::runner::DEFAULT_TIME_LIMIT,
    )?;
    let rate = r.items_accepted_per_s;
    rows.push(row(
        &format!("Rollbar POST /api/1/item/, durable ({CONNECTIONS} connections, {ITEMS} items)"),
        format!(
            "{rate:.0} occurrences/s (p50 {:.0} ms, p99 {:.0} ms, {} refused, server CPU {:.2} cores, RSS max {:.0} MB)",
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.requests_refused,
            r.server.as_ref().map(|u| u.cpu_cores).unwrap_or(0.0),
            r.server.as_ref().map(|u| u.rss_max_bytes as f64 / 1e6).unwrap_or(0.0),
        ),
        "≥ 20000/s",
        Some(rate >= 20_000.0),
    ));
    raw.insert("ingest_rollbar".into(), serde_json::to_value(&r)?);

    // Top up to the read rows' volume.
    let target: u64 = if smoke { 2_000 } else { 1_000_000 };
    let c = http()?;
    let stats = |c: &reqwest::blocking::Client| -> Result<u64> {
        let v = c
            .get(format!("{}/api/waggle/stats", s.http))
            .send()?
            .json::<Value>()?;
        Ok(v["receivers"]["rollbar"]["accepted"].as_u64().unwrap_or(0))
    };
    let have = stats(&c)?;
    if have < target {
        let started = Instant::now();
        load(
            rt,
            &s,
            2,
            Stop::Requests(target - have),
            Duration::ZERO,
            Duration::from_secs(3_000),
        )?;
        eprintln!(
            "rollbar: loaded {} occurrences in {:.0} s",
            target - have,
            started.elapsed().as_secs_f64()
        );
    }
    let occurrences = stats(&c)?;
    let runs = if smoke { 2 } else { 7 };
    let list_url = format!("{}/api/1/items?status=active", s.http);
    let listed = get(&c, &list_url)?;
    let first = listed["result"]["items"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|i| i["id"].as_u64())
        .context("the items list is empty")?;
    let items_total = listed["result"]["total_count"].as_u64().unwrap_or(0);
    for (name, url) in [
        ("GET /api/1/items?status=active", list_url.clone()),
        (
            "GET /api/1/item/{id}",
            format!("{}/api/1/item/{first}", s.http),
        ),
        (
            "GET /api/1/item/{id}/instances",
            format!("{}/api/1/item/{first}/instances", s.http),
        ),
    ] {
        let (p50, max) = time_ms(runs, || get(&c, &url).map(|_| ()))?;
        rows.push(row(
            &format!("Rollbar {name} ({occurrences} occurrences, {items_total} items)"),
            format!("{p50:.1} ms median, {max:.1} ms max"),
            "≤ 50 ms",
            Some(p50 <= 50.0),
        ));
    }

    // kill -9 in the middle of ingest, then the first read after the restart (the items are
    // completed from the occurrences stored after the last checkpoint).
    let during = {
        let pid = s.pid();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(if smoke { 500 } else { 3_000 }));
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        })
    };
    // Ends with errors once the server is gone; what it reports is not a measurement.
    let _ = load(
        rt,
        &s,
        3,
        Stop::After(Duration::from_secs(if smoke { 2 } else { 6 })),
        Duration::ZERO,
        Duration::from_secs(60),
    );
    let _ = during.join();
    let _ = s.stop();
    let s = ServerProc::start_with(&d, &TOKENS)?;
    let t = Instant::now();
    let after = get(&c, &format!("{}/api/1/items?status=active", s.http))?;
    let first_read_ms = t.elapsed().as_secs_f64() * 1000.0;
    let total = after["result"]["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["total_occurrences"].as_u64())
                .sum::<u64>()
        })
        .unwrap_or(0);
    rows.push(row(
        "Rollbar first items read after kill -9 during ingest (checkpoint + replay)",
        format!(
            "{first_read_ms:.0} ms (start-up {:.0} ms; first page counts {total} occurrences)",
            s.startup.as_secs_f64() * 1000.0
        ),
        "-",
        None,
    ));
    s.stop()?;
    let _ = std::fs::remove_dir_all(&d);
    Ok(())
}
