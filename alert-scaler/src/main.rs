//! alert-scaler: configuration from the environment, the provider over HTTP, run until SIGTERM.

use std::sync::Arc;

use alert_scaler::{Application, Config};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(None)?;
    faas_provider::healthcheck::exit_if_requested(config.port, "/healthz");
    faas_provider::telemetry::init(config.write_debug);
    let provider = Arc::new(config.http_provider()?);
    let app = Application::build(config, provider)?;
    app.run_until_stopped(faas_provider::shutdown::signal())
        .await?;
    Ok(())
}
