//! The end-to-end harness the Rust client tests share: a `waggle serve` child process on
//! port 0 with its own data directory, its READY line parsed, killed on drop.

#![allow(dead_code)] // each test binary uses a part of it

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long `waggle serve` may take to print its READY line (our choice: the goal is 0.5 s;
/// 30 s absorbs a cold, loaded CI machine without letting a hang stall the suite).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to poll the read API for acknowledged data (a 2xx means committed, so the first
/// read should already see it).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Per-request timeout for reads and for the exporters.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
pub const READY_PREFIX: &str = "WAGGLE_READY ";

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A `waggle serve` child process on its own temporary data directory; killed on drop.
pub struct Waggle {
    child: Child,
    dir: PathBuf,
    pub http: String,
    pub otlp_http: String,
    pub otlp_grpc: String,
    /// The X-Ray daemon address (UDP and TCP).
    pub xray: String,
}

impl Waggle {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts with extra `waggle serve` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "waggle-e2e-rust-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("create stderr log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_waggle"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--http-addr", "127.0.0.1:0"])
            .args(["--otlp-http-addr", "127.0.0.1:0"])
            .args(["--otlp-grpc-addr", "127.0.0.1:0"])
            .args(["--xray-addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (key, _) in std::env::vars() {
            if key.starts_with("WAGGLE_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().expect("spawn waggle");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Keep draining stdout for the life of the child so its pipe never fills.
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && line.starts_with(READY_PREFIX) {
                    sent = true;
                    let _ = tx.send(line);
                }
            }
        });
        let mut server = Waggle {
            child,
            dir,
            http: String::new(),
            otlp_http: String::new(),
            otlp_grpc: String::new(),
            xray: String::new(),
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(e) => panic!(
                "waggle printed no READY line within {READY_TIMEOUT:?} ({e}); exit: {:?}\nstderr:\n{}",
                server.child.try_wait(),
                server.stderr_tail()
            ),
        };
        let ready: Value =
            serde_json::from_str(&line[READY_PREFIX.len()..]).expect("READY line is JSON");
        let field = |k: &str| -> String {
            ready[k]
                .as_str()
                .unwrap_or_else(|| panic!("READY line lacks {k}: {line}"))
                .to_string()
        };
        server.http = field("http");
        server.otlp_http = field("otlp_http");
        server.otlp_grpc = field("otlp_grpc");
        server.xray = field("xray");
        server
    }

    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    pub fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .expect("reqwest client")
    }

    /// GET a path on the main HTTP port; returns (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{}", self.http, path);
        let resp = Self::client()
            .get(&url)
            .header("Accept", "application/json")
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e}\nstderr:\n{}", self.stderr_tail()));
        let status = resp.status().as_u16();
        (status, resp.text().unwrap_or_default())
    }

    /// Polls `/api/v2/traces/{id}` until it returns at least `want` spans (bounded).
    pub fn trace_spans(&self, trace_id: &str, want: usize) -> Vec<Value> {
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            let (status, body) = self.get(&format!("/api/v2/traces/{trace_id}"));
            let mut spans = Vec::new();
            if status == 200 {
                let v: Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("trace body is not JSON ({e}): {body}"));
                for rs in v["trace"]["resourceSpans"].as_array().into_iter().flatten() {
                    for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                        for span in ss["spans"].as_array().into_iter().flatten() {
                            let mut span = span.clone();
                            span["__resource"] = rs["resource"].clone();
                            span["__scope"] = ss["scope"].clone();
                            spans.push(span);
                        }
                    }
                }
                if spans.len() >= want {
                    return spans;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "/api/v2/traces/{trace_id}: wanted {want} spans, last answer {status}: {}\nstderr:\n{}",
                    &body.chars().take(2000).collect::<String>(),
                    self.stderr_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Events in a dataset per `/api/waggle/datasets`, polled until it reaches `want`.
    pub fn dataset_count(&self, name: &str, want: u64) -> u64 {
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            let (status, body) = self.get("/api/waggle/datasets");
            assert_eq!(status, 200, "/api/waggle/datasets: {body}");
            let v: Value = serde_json::from_str(&body).expect("datasets JSON");
            let n = v["datasets"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| d["name"] == name)
                .and_then(|d| d["events"].as_u64())
                .unwrap_or(0);
            if n >= want || Instant::now() >= deadline {
                return n;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Waggle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
