//! `cruddur [--bind ADDR]`: the Cruddur backend. Configuration is the seed's environment
//! variables (crate README); prints `CRUDDUR_READY {"addr":"…"}` once listening and stops
//! cleanly, flushing telemetry, on SIGINT or SIGTERM.

use std::net::SocketAddr;

fn usage() -> ! {
    eprintln!(
        "usage: cruddur [--bind ADDR]   (default {}; env CRUDDUR_BIND)",
        cruddur::config::DEFAULT_BIND
    );
    std::process::exit(2)
}

fn main() -> anyhow::Result<()> {
    let mut bind: Option<SocketAddr> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bind" => bind = Some(args.next().unwrap_or_else(|| usage()).parse()?),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The OTel SDK logs each failed export; ours are rate-limited (telemetry::Warn).
        tracing_subscriber::EnvFilter::new(
            "info,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off",
        )
    });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    let config = cruddur::config::Config::from_env(bind)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = cruddur::bind(config).await?;
        let addr = server.local_addr()?;
        println!(
            "CRUDDUR_READY {}",
            serde_json::json!({"addr": addr.to_string()})
        );
        server.serve(shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
