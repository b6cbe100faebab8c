//! `app serve | migrate | healthcheck | openapi`: the one binary of the ClickNBack service.

use std::process::ExitCode;

use app::config::{self, Config, DatabaseConfig};
use app::{Application, healthcheck, schema, telemetry};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "app", version, about = "ClickNBack: the cashback demo API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API until SIGTERM or Ctrl-C.
    Serve,
    /// Apply the embedded database migrations, then exit (0 when the schema is up to date).
    Migrate,
    /// Ask the local service's /health/ready (127.0.0.1:$PORT); exit 0 when ready, 1 otherwise.
    Healthcheck,
    /// Print the OpenAPI document (what /api/v1/openapi.json serves); reads no settings.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    config::load_dotenv();
    match cli.command {
        Command::Openapi => {
            print!("{}", app::openapi::to_json(&app::openapi::document()));
            ExitCode::SUCCESS
        }
        Command::Healthcheck => healthcheck(),
        Command::Serve => match Config::from_env() {
            Ok(config) => {
                let threads = config.server.worker_threads;
                with_runtime(threads, || serve(config))
            }
            Err(e) => config_error(&e),
        },
        Command::Migrate => with_runtime(None, migrate),
    }
}

/// Starts logging and a tokio runtime (`threads` workers, else one per CPU), then runs `task`.
fn with_runtime<F: Future<Output = ExitCode>>(threads: Option<usize>, task: impl FnOnce() -> F) -> ExitCode {
    if let Err(message) = telemetry::init() {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads);
    }
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(task()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Configuration problems go to stderr as plain lines, one per variable: they are for a
/// person reading a terminal or `docker compose logs`.
fn config_error(error: &config::ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

async fn serve(config: Config) -> ExitCode {
    let environment = config.environment.as_str();
    let host = config.server.host;
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("error: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let worker_threads = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(
        environment,
        %host,
        port = app.port(),
        metrics_port = app.metrics_port(),
        worker_threads,
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}

async fn migrate() -> ExitCode {
    let database = match DatabaseConfig::from_env() {
        Ok(database) => database,
        Err(e) => return config_error(&e),
    };
    match schema::migrate(&database).await {
        Ok(count) => {
            tracing::info!(migrations = count, "database schema is up to date");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "migration failed");
            eprintln!("error: migration failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// No logger and no runtime: one line on stdout or stderr (Docker keeps it in the health log).
fn healthcheck() -> ExitCode {
    let port = match config::healthcheck_port_from_env() {
        Ok(port) => port,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match healthcheck::check(port) {
        Ok(()) => {
            println!("ready");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("not ready: {message}");
            ExitCode::FAILURE
        }
    }
}
