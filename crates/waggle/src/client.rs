//! Client commands against a running server: `waggle traces get`, `waggle traces search`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value as Json;

/// Longest a CLI request waits (our choice).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct Conn {
    /// Waggle's main HTTP address.
    #[arg(
        long,
        env = "WAGGLE_SERVER",
        default_value = "http://127.0.0.1:3200",
        global = true
    )]
    pub server: String,
    /// API key, if the server requires one.
    #[arg(long, env = "WAGGLE_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Show one trace as a tree (W3C or X-Ray id).
    Get {
        /// Trace id: 32 hex digits or 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx.
        id: String,
        /// Print the raw OTLP JSON instead of a tree.
        #[arg(long)]
        json: bool,
    },
    /// Find traces by attribute and duration (Tempo search).
    Search {
        /// key=value, repeatable (e.g. --tag http.route=/api/activities/home).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// e.g. 100ms, 1.5s
        #[arg(long)]
        min_duration: Option<String>,
        #[arg(long)]
        max_duration: Option<String>,
        /// Only traces that started within this long ago, e.g. 15m, 2h, 7d.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Sends one request to the server and returns its JSON answer, or the server's error text.
fn send(
    conn: &Conn,
    path: &str,
    build: impl FnOnce(&reqwest::blocking::Client, &str) -> reqwest::blocking::RequestBuilder,
) -> Result<Json> {
    let client = reqwest::blocking::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let url = format!("{}{}", conn.server.trim_end_matches('/'), path);
    let mut req = build(&client, &url);
    if let Some(k) = &conn.api_key {
        req = req.header("X-Honeycomb-Team", k);
    }
    let resp = req.send().with_context(|| {
        format!(
            "cannot reach Waggle at {} (is `waggle serve` running? set --server)",
            conn.server
        )
    })?;
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    if !status.is_success() {
        let msg = serde_json::from_str::<Json>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        bail!("{url}: {status}: {}", msg.trim());
    }
    serde_json::from_str(&text).with_context(|| format!("{url}: answer is not JSON"))
}

/// POSTs JSON and returns the JSON answer.
pub fn post(conn: &Conn, path: &str, body: &Json) -> Result<Json> {
    send(conn, path, |c, url| c.post(url).json(body))
}

fn get(conn: &Conn, path: &str, query: &[(&str, String)]) -> Result<Json> {
    send(conn, path, |c, url| c.get(url).query(query))
}

pub fn traces(conn: Conn, command: TracesCommand) -> Result<()> {
    match command {
        TracesCommand::Get { id, json } => {
            let body = get(&conn, &format!("/api/v2/traces/{id}"), &[])?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                print_tree(&body);
            }
        }
        TracesCommand::Search {
            tags,
            min_duration,
            max_duration,
            since,
            limit,
            json,
        } => {
            let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            if !tags.is_empty() {
                let quoted: Vec<String> = tags
                    .iter()
                    .map(|t| match t.split_once('=') {
                        Some((k, v)) => format!("{k}=\"{}\"", v.replace('"', "\\\"")),
                        None => t.clone(),
                    })
                    .collect();
                q.push(("tags", quoted.join(" ")));
            }
            if let Some(d) = min_duration {
                q.push(("minDuration", d));
            }
            if let Some(d) = max_duration {
                q.push(("maxDuration", d));
            }
            if let Some(s) = since {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs() as i64;
                q.push((
                    "start",
                    (now - crate::query_cli::parse_range(&s)?).to_string(),
                ));
                q.push(("end", (now + 60).to_string()));
            }
            let body = get(&conn, "/api/search", &q)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            let traces = body["traces"].as_array().cloned().unwrap_or_default();
            if traces.is_empty() {
                println!("no traces match");
            }
            println!(
                "{:<34} {:>10}  {:<20} ROOT",
                "TRACE ID", "DURATION", "SERVICE"
            );
            for t in traces {
                println!(
                    "{:<34} {:>8}ms  {:<20} {}",
                    t["traceID"].as_str().unwrap_or(""),
                    t["durationMs"]
                        .as_f64()
                        .map(|d| format!("{d:.1}"))
                        .unwrap_or_else(|| t["durationMs"].to_string()),
                    t["rootServiceName"].as_str().unwrap_or("?"),
                    t["rootTraceName"].as_str().unwrap_or("?"),
                );
            }
        }
    }
    Ok(())
}

struct Row {
    name: String,
    service: String,
    start: u128,
    end: u128,
    parent: String,
    events: usize,
    error: bool,
}

fn num(v: &Json) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64().map(u128::from))
        .unwrap_or(0)
}

/// Prints the trace as an indented waterfall.
fn print_tree(body: &Json) {
    let mut spans: HashMap<String, Row> = HashMap::new();
    let rs = body["trace"]["resourceSpans"]
        .as_array()
        .or_else(|| body["batches"].as_array())
        .cloned()
        .unwrap_or_default();
    for r in &rs {
        let service = r["resource"]["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == "service.name"))
            .and_then(|kv| kv["value"]["stringValue"].as_str())
            .unwrap_or("?")
            .to_string();
        for ss in r["scopeSpans"].as_array().into_iter().flatten() {
            for s in ss["spans"].as_array().into_iter().flatten() {
                spans.insert(
                    s["spanId"].as_str().unwrap_or("").to_string(),
                    Row {
                        name: s["name"].as_str().unwrap_or("").to_string(),
                        service: service.clone(),
                        start: num(&s["startTimeUnixNano"]),
                        end: num(&s["endTimeUnixNano"]),
                        parent: s["parentSpanId"].as_str().unwrap_or("").to_string(),
                        events: s["events"].as_array().map(|e| e.len()).unwrap_or(0),
                        error: s["status"]["code"].as_i64() == Some(2),
                    },
                );
            }
        }
    }
    let t0 = spans.values().map(|s| s.start).min().unwrap_or(0);
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut roots = Vec::new();
    for (id, s) in &spans {
        if s.parent.is_empty() || !spans.contains_key(&s.parent) {
            roots.push(id.as_str());
        } else {
            children
                .entry(s.parent.as_str())
                .or_default()
                .push(id.as_str());
        }
    }
    let by_start =
        |v: &mut Vec<&str>| v.sort_by_key(|id| spans.get(*id).map(|s| s.start).unwrap_or(0));
    by_start(&mut roots);
    for v in children.values_mut() {
        by_start(v);
    }
    println!("{} spans", spans.len());
    let mut stack: Vec<(&str, usize)> = roots.iter().rev().map(|r| (*r, 0)).collect();
    let mut printed = 0usize;
    while let Some((id, depth)) = stack.pop() {
        printed += 1;
        if printed > spans.len() {
            break;
        }
        let Some(s) = spans.get(id) else { continue };
        println!(
            "{:>9.2}ms {:>9.2}ms  {}{} [{}] {}{}{}",
            (s.start.saturating_sub(t0)) as f64 / 1e6,
            (s.end.saturating_sub(s.start)) as f64 / 1e6,
            "  ".repeat(depth.min(40)),
            s.name,
            s.service,
            id,
            if s.events > 0 {
                format!(" ({} events)", s.events)
            } else {
                String::new()
            },
            if s.error { "  ERROR" } else { "" },
        );
        if let Some(kids) = children.get(id) {
            for k in kids.iter().rev() {
                stack.push((k, depth + 1));
            }
        }
    }
}
