//! provider-swarm: serves the OpenFaaS provider API over the local Docker engine.

use std::sync::Arc;

use provider_swarm::{Application, Config, DockerProvider};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(None)?;
    faas_provider::healthcheck::exit_if_requested(config.port, "/healthz");
    faas_provider::telemetry::init(config.write_debug);
    let provider = DockerProvider::start(&config).await?;
    let app = Application::build(config, Arc::new(provider))?;
    app.run_until_stopped(faas_provider::shutdown::signal())
        .await?;
    Ok(())
}
