//! The command line: plain `fwatchdog` serves; `-version` and `-run-healthcheck` are the Go
//! watchdogs' flags; `healthcheck` asks the running watchdog's `/_/health` over HTTP, for
//! `HEALTHCHECK` in images that have no curl (`FROM scratch`).

use std::process::ExitCode;

use crate::config::Config;
use crate::lifecycle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    Version,
    /// Exit 0 when the lock file exists (Go's `-run-healthcheck`).
    RunHealthcheck,
    /// Exit 0 when `GET http://127.0.0.1:$port/_/health` answers 200.
    Healthcheck,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown argument {0:?}; usage: fwatchdog [-version | -run-healthcheck | healthcheck]")]
pub struct UsageError(String);

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut command = Command::Serve;
    for arg in args {
        command = match arg.as_str() {
            "-version" | "--version" | "version" => Command::Version,
            "-run-healthcheck" | "--run-healthcheck" => Command::RunHealthcheck,
            "healthcheck" => Command::Healthcheck,
            _ => return Err(UsageError(arg)),
        };
    }
    Ok(command)
}

/// Runs a command other than `Serve`.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve => ExitCode::FAILURE,
        Command::Version => {
            println!("fwatchdog (ironfaas) version {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::RunHealthcheck => match Config::from_env(None) {
            Ok(config) if lifecycle::lock_present(&config.lock_path) => ExitCode::SUCCESS,
            Ok(_) => fail("unable to find lock file."),
            Err(e) => fail(&e.to_string()),
        },
        Command::Healthcheck => match Config::from_env(None) {
            // The probe every ironfaas binary uses for its scratch-image HEALTHCHECK.
            Ok(config) => match faas_provider::healthcheck::run(config.port, "/_/health") {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            },
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let cases: &[(&[&str], Option<Command>)] = &[
            (&[], Some(Command::Serve)),
            (&["-version"], Some(Command::Version)),
            (&["--version"], Some(Command::Version)),
            (&["-run-healthcheck"], Some(Command::RunHealthcheck)),
            (&["healthcheck"], Some(Command::Healthcheck)),
            (&["--bogus"], None),
        ];
        for (args, want) in cases {
            let got = parse(args.iter().map(|s| s.to_string())).ok();
            assert_eq!(got, *want, "{args:?}");
        }
    }
}
