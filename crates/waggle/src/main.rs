//! `waggle`: the binary. A thin CLI over the library crates: `serve` wires the store, the
//! ingest pipeline and the network edges; `traces` is a client of a running server.

mod bench;
mod client;
mod config;
mod demo;
mod query_cli;
mod serve;

use anyhow::Result;
use clap::{Parser, Subcommand};

// The ingest path allocates and frees many small strings per span on several threads;
// mimalloc's thread-local free lists cost a fraction of glibc malloc's (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "waggle",
    version,
    about = "One binary for traces, logs and errors: OTLP, Honeycomb, X-Ray, Rollbar and CloudWatch Logs clients talk to it unchanged.",
    after_help = "Start with `waggle serve`; it prints how to point each client at it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: receivers, store, query APIs.
    Serve(config::ServeArgs),
    /// Waggle, the Cruddur backend pointed at it and traffic: data to look at in a minute.
    Demo(demo::DemoArgs),
    /// Ask a Honeycomb-style question of a running server and print a table.
    Query {
        #[command(flatten)]
        conn: client::Conn,
        #[command(flatten)]
        args: query_cli::QueryArgs,
    },
    /// Explain a selection: which columns' values differ most from the baseline.
    Bubbleup {
        #[command(flatten)]
        conn: client::Conn,
        #[command(flatten)]
        args: query_cli::BubbleUpArgs,
    },
    /// Load generator and benchmark suite.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Read traces from a running server.
    Traces {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::TracesCommand,
    },
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Traces { conn, command } => client::traces(conn, command),
        Command::Bench { command } => bench::run(command),
        Command::Query { conn, args } => query_cli::query(conn, args),
        Command::Bubbleup { conn, args } => query_cli::bubbleup(conn, args),
    };
    if let Err(e) = result {
        eprintln!("waggle: {e:#}");
        std::process::exit(1);
    }
}
