//! `herald`: the command-line entry point.

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald_server::app::App;
use herald_server::config::{Config, Overrides};
use herald_server::{observability, server};

#[derive(Parser)]
#[command(name = "herald", version, about = "Self-hosted real-time server: channels, presence, history, recovery")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (no config file needed; data under ./herald-data).
    Serve(Overrides),
    /// Print the effective configuration's defaults as TOML-like text and exit.
    CheckConfig(Overrides),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(o) => {
            let config = Config::load(&o)?;
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve(config))
        }
        Command::CheckConfig(o) => {
            let config = Config::load(&o)?;
            println!("{config:#?}");
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    observability::init_logging(config.log_format);
    let metrics = observability::init_metrics();
    let listen = config.listen;
    let a = &config.auth;
    if a.token_secret.is_none()
        && a.rsa_public_key_file.is_none()
        && a.ec_public_key_file.is_none()
        && a.ed_public_key_file.is_none()
        && a.jwks_url.is_none()
    {
        tracing::warn!(
            "DEVELOPMENT MODE: no token key configured, so anonymous clients may subscribe and publish on every \
             non-private channel. Set HERALD_TOKEN_SECRET (or [auth] keys) before exposing Herald."
        );
    }
    if config.api_key.is_none() {
        tracing::warn!("no API key configured: the HTTP API answers loopback callers only (set HERALD_API_KEY)");
    }
    let config_tls = config.tls.cert_file.is_some();
    let storage = herald_server::stores::describe(&config);
    let app = App::build(config, metrics).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let scheme = if config_tls { "wss" } else { "ws" };
    tracing::info!(listen = %local, storage = %storage, version = env!("CARGO_PKG_VERSION"), "herald is serving: {scheme}://{local}/ws");
    server::serve(app, listener, server::shutdown_signal()).await?;
    Ok(())
}
