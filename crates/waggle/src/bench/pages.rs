//! The web UI's data endpoints and the TraceQL queries, timed over the suite's query store
//! (the bulk-loaded spans, plus a log group and Rollbar items added here so the logs and
//! errors pages read real data). Each endpoint is called the way its page calls it
//! (`crates/ui/assets/js/`), over the page's default range (the last hour).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::{post_json, row, time_ms, Row};

/// Log events added to the query store, [`LOG_BATCH`] per PutLogEvents call (a batch
/// must stay under the call's 1 MiB).
const LOG_EVENTS: usize = 50_000;
const LOG_BATCH: usize = 5_000;
/// Rollbar occurrences added, spread over [`ROLLBAR_ITEMS`] items.
const ROLLBAR_OCCURRENCES: usize = 200;
const ROLLBAR_ITEMS: usize = 20;
/// The UI's default range.
const RANGE_S: i64 = 3600;

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn aws(c: &reqwest::blocking::Client, base: &str, target: &str, body: &Value) -> Result<Value> {
    let r = c
        .post(format!("{base}/"))
        .header("X-Amz-Target", format!("Logs_20140328.{target}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()?;
    let status = r.status();
    let text = r.text()?;
    if !status.is_success() {
        bail!("{target}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

fn get(c: &reqwest::blocking::Client, url: &str, token: Option<&str>) -> Result<Value> {
    let mut req = c.get(url);
    if let Some(t) = token {
        req = req.header("X-Rollbar-Access-Token", t);
    }
    let r = req.send()?;
    let status = r.status();
    let text = r.text()?;
    if !status.is_success() {
        bail!("{url}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// Adds the log group and the Rollbar items the pages read.
fn fill(c: &reqwest::blocking::Client, base: &str, trace_hex: &str, end_s: i64) -> Result<()> {
    let group = "bench-logs";
    // A reused store (`bench suite --reuse`) has them already once the items (added last)
    // are there; a fill cut short is redone.
    let items = get(
        c,
        &format!("{base}/api/1/items?status=active"),
        Some("bench-token"),
    )?;
    if items["result"]["items"]
        .as_array()
        .is_some_and(|i| !i.is_empty())
    {
        return Ok(());
    }
    let have = aws(
        c,
        base,
        "DescribeLogGroups",
        &json!({"logGroupNamePrefix": group}),
    )?;
    if have["logGroups"].as_array().is_some_and(|g| !g.is_empty()) {
        aws(c, base, "DeleteLogGroup", &json!({"logGroupName": group}))?;
    }
    aws(c, base, "CreateLogGroup", &json!({"logGroupName": group}))?;
    aws(
        c,
        base,
        "CreateLogStream",
        &json!({"logGroupName": group, "logStreamName": "web"}),
    )?;
    let start_ms = (end_s - RANGE_S / 2) * 1000;
    for batch in 0..LOG_EVENTS / LOG_BATCH {
        let events: Vec<Value> = (0..LOG_BATCH)
            .map(|i| {
                let n = batch * LOG_BATCH + i;
                let level = if n.is_multiple_of(50) { "ERROR" } else { "INFO" };
                let trace = if n.is_multiple_of(1000) { trace_hex } else { "-" };
                json!({
                    "timestamp": start_ms + (n as i64) * 30,
                    "message": format!(
                        "{{\"level\": \"{level}\", \"status\": {}, \"duration_ms\": {}, \"trace_id\": \"{trace}\", \"msg\": \"GET /api/activities/home\"}}",
                        if n.is_multiple_of(50) { 500 } else { 200 },
                        n % 300
                    ),
                })
            })
            .collect();
        aws(
            c,
            base,
            "PutLogEvents",
            &json!({"logGroupName": group, "logStreamName": "web", "logEvents": events}),
        )?;
    }
    for i in 0..ROLLBAR_OCCURRENCES {
        let item = i % ROLLBAR_ITEMS;
        let body = json!({
            "access_token": "bench-token",
            "data": {
                "environment": "production",
                "level": "error",
                "body": {"trace": {
                    "frames": [{"filename": "app/services/home.py", "lineno": 10 + item, "method": "run"}],
                    "exception": {"class": format!("BenchError{item}"), "message": format!("failure {i}")},
                }},
                "custom": {"trace_id": trace_hex},
            }
        });
        post_json(c, &format!("{base}/api/1/item/"), &body)?;
    }
    Ok(())
}

/// Times `f` and appends a row with goal `≤ goal_ms` met on the median; a failing endpoint
/// gets a row saying so instead of stopping the suite.
fn timed(
    rows: &mut Vec<Row>,
    runs: usize,
    goal_ms: f64,
    name: &str,
    f: impl FnMut() -> Result<()>,
) {
    match time_ms(runs, f) {
        Ok((p50, max)) => rows.push(row(
            name,
            format!("{p50:.0} ms median, {max:.0} ms max"),
            &format!("≤ {goal_ms:.0} ms"),
            Some(p50 <= goal_ms),
        )),
        Err(e) => rows.push(row(
            name,
            format!("failed: {e}"),
            &format!("≤ {goal_ms:.0} ms"),
            Some(false),
        )),
    }
}

/// The pages' endpoints and the TraceQL queries over `loaded` spans.
pub(super) fn run(
    c: &reqwest::blocking::Client,
    base: &str,
    loaded: u64,
    runs: usize,
    rows: &mut Vec<Row>,
) -> Result<()> {
    // The hour ending at the newest span (now, unless the store is reused).
    let datasets = get(c, &format!("{base}/api/waggle/datasets"), None)?;
    let newest_s = datasets["datasets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["last_time_ns"].as_i64())
        .max()
        .map_or_else(now_s, |ns| ns / 1_000_000_000);
    let end = newest_s + 1;
    let start = end - RANGE_S;
    let search = get(
        c,
        &format!("{base}/api/search?limit=1&start={start}&end={end}"),
        None,
    )?;
    let trace_hex = search["traces"][0]["traceID"]
        .as_str()
        .unwrap_or("00000000000000000000000000000001")
        .to_string();
    fill(c, base, &trace_hex, end)?;
    let page = |p: &str| format!("UI {p} ({loaded} spans, last hour)");
    let ds = "backend-flask";

    // Home: datasets, then per dataset COUNT + P99 and the error count as series.
    timed(rows, runs, 300.0, &page("home: datasets"), || {
        get(c, &format!("{base}/api/waggle/datasets"), None).map(|_| ())
    });
    let granularity = RANGE_S / 40;
    for (label, spec) in [
        (
            "home: COUNT + P99 sparklines",
            json!({"start_time": start, "end_time": end, "granularity": granularity,
                   "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}]}),
        ),
        (
            "home: error-rate sparkline",
            json!({"start_time": start, "end_time": end, "granularity": granularity,
                   "calculations": [{"op": "COUNT"}],
                   "filters": [{"column": "error", "op": "=", "value": true}]}),
        ),
        (
            "trace: related logs and errors (per dataset)",
            json!({"start_time": start, "end_time": end, "limit": 1000,
                   "calculations": [{"op": "COUNT"}],
                   "filters": [{"column": "trace.trace_id", "op": "=", "value": trace_hex},
                               {"column": "meta.signal_type", "op": "!=", "value": "trace"}],
                   "breakdowns": ["trace.span_id", "name"]}),
        ),
    ] {
        let q = post_json(c, &format!("{base}/1/queries/{ds}"), &spec)?;
        let id = q["id"].as_str().unwrap_or_default().to_string();
        timed(rows, runs, 300.0, &page(label), || {
            post_json(
                c,
                &format!("{base}/1/query_results/{ds}"),
                &json!({"query_id": id}),
            )
            .map(|_| ())
        });
    }
    let token = Some("bench-token");
    timed(
        rows,
        runs,
        300.0,
        &page("home/errors: active items"),
        || {
            get(
                c,
                &format!("{base}/api/1/items?status=active&sort=last_occurrence"),
                token,
            )
            .map(|_| ())
        },
    );
    timed(
        rows,
        runs,
        300.0,
        &page("home/logs: DescribeLogGroups"),
        || aws(c, base, "DescribeLogGroups", &json!({"limit": 50})).map(|_| ()),
    );
    timed(rows, runs, 300.0, &page("query: columns"), || {
        get(c, &format!("{base}/1/columns/{ds}"), None).map(|_| ())
    });
    timed(rows, runs, 300.0, &page("map: X-Ray ServiceGraph"), || {
        post_json(
            c,
            &format!("{base}/ServiceGraph"),
            &json!({"StartTime": start, "EndTime": end}),
        )
        .map(|_| ())
    });
    timed(rows, runs, 300.0, &page("xray: GetSamplingRules"), || {
        post_json(c, &format!("{base}/GetSamplingRules"), &json!({})).map(|_| ())
    });
    let tempo = |q: &str| -> Result<reqwest::Url> {
        Ok(reqwest::Url::parse_with_params(
            &format!("{base}/api/search"),
            &[
                ("q", q.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("limit", "20".to_string()),
                ("spss", "3".to_string()),
            ],
        )?)
    };
    let u = tempo("{}")?;
    timed(rows, runs, 300.0, &page("traces: search {}"), || {
        get(c, u.as_str(), None).map(|_| ())
    });
    let item = get(c, &format!("{base}/api/1/items?status=active"), token)?;
    let item_id = item["result"]["items"][0]["id"].as_i64().unwrap_or(1);
    timed(rows, runs, 300.0, &page("item: occurrences"), || {
        get(
            c,
            &format!("{base}/api/1/item/{item_id}/instances?page=1"),
            token,
        )
        .map(|_| ())
    });
    let (lo, hi) = ((end - RANGE_S) * 1000, end * 1000);
    for (label, pattern) in [
        ("logs: FilterLogEvents (all)", ""),
        ("logs: FilterLogEvents \"ERROR\"", "\"ERROR\""),
    ] {
        timed(rows, runs, 300.0, &page(label), || {
            aws(
                c,
                base,
                "FilterLogEvents",
                &json!({"logGroupName": "bench-logs", "filterPattern": pattern,
                        "startTime": lo, "endTime": hi, "limit": 100}),
            )
            .map(|_| ())
        });
    }

    // TraceQL (issue 14's goal: ≤ 200 ms median each).
    let tql = |p: &str| format!("TraceQL {p} ({loaded} spans, last hour)");
    for (label, q) in [
        (
            "search: service and status filter",
            "{ resource.service.name = \"backend-flask\" && span.http.status_code >= 500 }",
        ),
        (
            "search: structural >>",
            "{ span.http.route = \"/api/activities/home\" } >> { span.app.result_length > 0 }",
        ),
        (
            "search: | count() > 2 pipeline",
            "{ resource.service.name = \"backend-flask\" } | count() > 2",
        ),
    ] {
        let u = tempo(q)?;
        timed(rows, runs, 200.0, &tql(label), || {
            get(c, u.as_str(), None).map(|_| ())
        });
    }
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/api/metrics/query_range"),
        &[
            ("q", "{ } | rate() by (resource.service.name)".to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", "60s".to_string()),
        ],
    )?;
    timed(
        rows,
        runs,
        200.0,
        &tql("metrics: rate() by (resource.service.name), 60 s step"),
        || get(c, url.as_str(), None).map(|_| ()),
    );
    Ok(())
}
