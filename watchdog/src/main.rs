//! `fwatchdog`: serve the function (see `watchdog::cli` for the other commands).

use std::process::ExitCode;

use watchdog::cli::{self, Command};
use watchdog::{Application, Config};

fn main() -> anyhow::Result<ExitCode> {
    match cli::parse(std::env::args().skip(1))? {
        Command::Serve => {
            actix_web::rt::System::new().block_on(serve())?;
            Ok(ExitCode::SUCCESS)
        }
        other => Ok(cli::run(other)),
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env(None)?;
    faas_provider::telemetry::init(false);
    let app = Application::build(config).await?;
    app.run_until_stopped(faas_provider::shutdown::signal())
        .await?;
    Ok(())
}
