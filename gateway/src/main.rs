//! The `gateway` binary: configuration from the environment, HTTP providers, serve until SIGTERM.

use faas_provider::{shutdown, telemetry};
use gateway::{Application, Backends, Config};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(None)?;
    faas_provider::healthcheck::exit_if_requested(config.metrics_port, "/healthz");
    telemetry::init(config.write_debug);
    let backends = Backends::http(&config)?;
    let app = Application::build(config, backends).await?;
    app.run_until_stopped(shutdown::signal()).await?;
    Ok(())
}
