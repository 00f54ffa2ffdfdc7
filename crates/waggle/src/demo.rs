//! `waggle demo`: Waggle on a temporary (or given) data directory, the Cruddur backend in the
//! same process with every sink pointed at it (OTLP, the X-Ray daemon, Rollbar, CloudWatch
//! Logs), the seed's X-Ray sampling rule and group created through Waggle's X-Ray API, and a
//! traffic generator (feeds, posts, some slow requests, some errors, `/rollbar/test`). Within
//! a minute there are traces, segments and a service graph, log events and Rollbar items to
//! look at. Ctrl-C stops traffic, then Cruddur (flushing its telemetry into Waggle), then
//! Waggle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::ServeArgs;
use crate::serve::{self, Bound};

/// The seed's sampling rule (`deploy/aws/json/xray.json`, the CLI input of
/// `aws xray create-sampling-rule`).
const SAMPLING_RULE: &str = include_str!("../../../deploy/aws/json/xray.json");
/// The seed's group (`SYSTEM.md` §3.4, IK's console).
const GROUP: &str =
    r#"{"GroupName":"Cruddur","FilterExpression":"service(\"backend-flask\") {fault OR error}"}"#;
/// How often the demo prints what it has sent (our choice).
const SUMMARY_EVERY: Duration = Duration::from_secs(15);
/// CloudWatch batches every 5 s in the demo instead of watchtower's 60 s, so a newcomer does
/// not wait a minute for the first log events.
const DEMO_LOG_FLUSH: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Where Cruddur listens.
    #[arg(long, default_value = "127.0.0.1:4567")]
    pub cruddur_addr: SocketAddr,
    /// Requests per second the traffic generator sends (0: none).
    #[arg(long, default_value_t = 4.0)]
    pub rate: f64,
    /// Keep the temporary data directory at exit (it is removed otherwise).
    #[arg(long)]
    pub keep_data: bool,
}

pub fn run(mut args: DemoArgs) -> Result<()> {
    let temp = match &args.serve.data_dir {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(format!("waggle-demo-{}", std::process::id()));
            args.serve.data_dir = Some(dir.clone());
            Some(dir)
        }
    };
    let (addr, rate) = (args.cruddur_addr, args.rate);
    let companion: serve::Companion =
        Box::new(move |bound, stop| Box::pin(companion(bound, stop, addr, rate)));
    let result = serve::run_with(args.serve, Some(companion));
    if let Some(dir) = temp {
        if args.keep_data {
            println!("demo data kept in {}", dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(error = %e, dir = %dir.display(), "could not remove the demo data");
        }
    }
    result
}

/// Creates the seed's sampling rule and group (an existing one, from a reused data directory,
/// is fine). The calls are unsigned: Waggle without `--aws-credentials` accepts them on
/// loopback.
async fn seed_xray(client: &reqwest::Client, http: SocketAddr) -> Result<()> {
    for (path, body) in [
        ("/CreateSamplingRule", SAMPLING_RULE),
        ("/CreateGroup", GROUP),
    ] {
        let r = client
            .post(format!("http://{http}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("X-Ray {path}"))?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if !status.is_success()
            && !text.contains("AlreadyExists")
            && !text.contains("already exists")
        {
            anyhow::bail!("X-Ray {path} answered {status}: {text}");
        }
    }
    Ok(())
}

fn cruddur_config(bound: &Bound, addr: SocketAddr) -> Result<cruddur::config::Config> {
    let mut c = cruddur::config::Config::from_env(Some(addr))?;
    let http = bound.http;
    c.telemetry = true;
    c.otlp_traces_url = Some(format!("http://{}/v1/traces", bound.otlp_http));
    c.otlp_headers = vec![("x-honeycomb-team".into(), "demo".into())];
    c.otel_service_name = "backend-flask".into();
    c.xray_enabled = bound.xray.is_some();
    if let Some(x) = bound.xray {
        c.xray_daemon_address = x.to_string();
    }
    c.rollbar_token = Some("demo".into());
    c.rollbar_endpoint = format!("http://{http}/api/1/item/");
    c.aws = cruddur::config::Aws {
        region: Some(c.aws.region.clone().unwrap_or_else(|| "us-east-1".into())),
        access_key_id: Some("demo".into()),
        secret_access_key: Some("demo".into()),
        session_token: None,
        logs_endpoint: Some(format!("http://{http}")),
    };
    c.log_flush = DEMO_LOG_FLUSH;
    c.log_stderr = false;
    c.simulate_latency = true;
    Ok(c)
}

async fn companion(
    bound: Bound,
    mut stop: tokio::sync::watch::Receiver<bool>,
    addr: SocketAddr,
    rate: f64,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    if bound.xray.is_some() {
        if let Err(e) = seed_xray(&client, bound.http).await {
            tracing::warn!("could not create the seed's X-Ray sampling rule and group: {e:#}");
        }
    }
    let server = cruddur::bind(cruddur_config(&bound, addr)?)
        .await
        .with_context(|| format!("cannot start Cruddur on {addr} (use --cruddur-addr)"))?;
    let cruddur_addr = server.local_addr()?;
    let (cruddur_stop_tx, mut cruddur_stop_rx) = tokio::sync::watch::channel(false);
    let cruddur = tokio::spawn(server.serve(async move {
        let _ = cruddur_stop_rx.wait_for(|s| *s).await;
    }));
    announce(&bound, cruddur_addr, rate);
    println!(
        "DEMO_READY {}",
        serde_json::json!({"cruddur": cruddur_addr.to_string()})
    );
    let traffic = Traffic::default();
    let mut summary = tokio::time::interval(SUMMARY_EVERY);
    summary.tick().await;
    let period = if rate > 0.0 {
        Duration::from_secs_f64(1.0 / rate)
    } else {
        Duration::from_secs(3600)
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq: u64 = seed();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = summary.tick() => traffic.print(),
            _ = tick.tick(), if rate > 0.0 => {
                seq = seq.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let (c, t) = (client.clone(), traffic.clone());
                tokio::spawn(async move { t.send(&c, cruddur_addr, seq >> 33).await });
            }
        }
    }
    traffic.print();
    let _ = cruddur_stop_tx.send(true);
    match cruddur.await {
        Ok(r) => r,
        Err(e) => Err(anyhow::anyhow!("Cruddur task failed: {e}")),
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
}

fn announce(bound: &Bound, cruddur: SocketAddr, rate: f64) {
    let http = format!("http://{}", bound.http);
    let c = format!("http://{cruddur}");
    let xray = bound
        .xray
        .map(|a| a.to_string())
        .unwrap_or_else(|| "off".into());
    println!(
        "\nwaggle demo: Cruddur (the seed's backend, in Rust) is running at {c}/api/activities/home\
         \n  its telemetry: OTel -> http://{}/v1/traces, X-Ray -> {xray} (UDP), Rollbar -> {http}/api/1/item/, \
CloudWatch Logs -> {http} (group cruddur)\
         \n  traffic: about {rate} requests/s (feeds, posts, validation errors, some slow requests, \
some 500s, /rollbar/test)\
         \n\
         \nWithin a minute, look at:\
         \n  Honeycomb-style query   waggle query --server {http} -d backend-flask -c COUNT -c 'P99(duration_ms)' -b name\
         \n  slow requests           waggle bubbleup --server {http} -d backend-flask --select 'duration_ms > 100' --range 1h\
         \n  recent traces (Tempo)   curl '{http}/api/search?tags=service.name%3Dbackend-flask&limit=5'\
         \n  X-Ray service graph     AWS_ENDPOINT_URL_XRAY={http} aws xray get-service-graph --start-time $(($(date +%s)-600)) --end-time $(date +%s)\
         \n  X-Ray traces            AWS_ENDPOINT_URL_XRAY={http} aws xray get-trace-summaries --start-time $(($(date +%s)-600)) --end-time $(date +%s)\
         \n  CloudWatch Logs         AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={http} aws logs filter-log-events --log-group-name cruddur --limit 5\
         \n  Rollbar items           curl -H 'X-Rollbar-Access-Token: demo' '{http}/api/1/items'\
         \n  (the aws CLI needs any key pair and a region: AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1)\
         \n\
         \nCtrl-C stops the traffic, Cruddur and Waggle.\n",
        bound.otlp_http
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// What the generator has sent, by outcome.
#[derive(Default, Clone)]
struct Traffic(Arc<[AtomicU64; 4]>);

const ACTIVITY: &str = "68f126b0-1ceb-4a33-88be-d90fa7109eee";

impl Traffic {
    /// One request, picked by `r` from a mix weighted like a browsing user.
    async fn send(&self, client: &reqwest::Client, addr: SocketAddr, r: u64) {
        let base = format!("http://{addr}");
        let post = |path: &str, body: serde_json::Value| {
            client
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(body.to_string())
        };
        let get = |path: &str| client.get(format!("{base}{path}"));
        let req = match r % 100 {
            0..=24 => get("/api/activities/home"),
            25..=34 => get("/api/activities/notifications"),
            35..=44 => get("/api/activities/@andrewbrown"),
            45..=49 => get("/api/activities/search?term=cloud"),
            50..=51 => get("/api/activities/search"),
            52..=59 => get("/api/message_groups"),
            60..=67 => get("/api/messages/@worf"),
            68..=75 => post(
                "/api/activities",
                serde_json::json!({"message": "Cloud is fun!", "ttl": "7-days"}),
            ),
            76..=78 => post(
                "/api/activities",
                serde_json::json!({"message": "hi", "ttl": "forever"}),
            ),
            79..=82 => post(
                "/api/messages",
                serde_json::json!({"message": "Hello Worf", "user_receiver_handle": "worf"}),
            ),
            83..=85 => post(
                &format!("/api/activities/{ACTIVITY}/reply"),
                serde_json::json!({"message": "Agreed"}),
            ),
            86..=89 => get(&format!("/api/activities/{ACTIVITY}")),
            90..=91 => get("/rollbar/test"),
            92..=96 => post("/api/activities", serde_json::json!({"message": "no ttl"})),
            _ => get("/api/activities/home/"),
        };
        let slot = match req.send().await {
            Ok(resp) if resp.status().is_server_error() => 2,
            Ok(resp) if resp.status().is_client_error() => 1,
            Ok(_) => 0,
            Err(_) => 3,
        };
        self.0[slot].fetch_add(1, Ordering::Relaxed);
    }

    fn print(&self) {
        let [ok, c4, c5, failed] = [0, 1, 2, 3].map(|i| self.0[i].load(Ordering::Relaxed));
        println!(
            "demo traffic: {} requests ({ok} 2xx, {c4} 4xx, {c5} 5xx, {failed} not answered)",
            ok + c4 + c5 + failed
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}
