//! `paylink`: parse the command line, set up logging, run.

use clap::Parser;
use tracing_subscriber::EnvFilter;

// mimalloc: a request allocates many small short-lived objects (JSON, SQL, headers), which
// glibc's allocator serves slowly under two busy threads (a quarter of the server's CPU in
// profiles of link creation).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = paylink_server::cli::Cli::parse();
    let config = cli.load_config()?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    paylink_server::cli::run(cli, config).await
}
