//! queue-worker: loads the config, picks the real provider client, runs until SIGTERM.

use std::sync::Arc;

use faas_provider::client::HttpProvider;
use faas_provider::Provider;
use queue_worker::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(None)?;
    faas_provider::healthcheck::exit_if_requested(config.port, "/healthz");
    faas_provider::telemetry::init(config.write_debug);
    let provider = match (&config.functions_provider_url, config.gateway_invoke) {
        (Some(url), false) => {
            let p = HttpProvider::new(url, config.credentials.clone(), config.callback_timeout)?;
            Some(Arc::new(p) as Arc<dyn Provider>)
        }
        _ => None,
    };
    let app = Application::build(config, provider).await?;
    app.run_until_stopped(faas_provider::shutdown::signal())
        .await?;
    Ok(())
}
