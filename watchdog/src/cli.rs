//! The command line: plain `fwatchdog` serves; `-version` and `-run-healthcheck` are the Go
//! watchdogs' flags; `healthcheck` asks the running watchdog's `/_/health` over HTTP, for
//! `HEALTHCHECK` in images that have no curl (`FROM scratch`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Config;
use crate::lifecycle;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

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
            Ok(config) => match probe_health(config.port) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => fail("/_/health did not answer 200"),
                Err(e) => fail(&format!(
                    "cannot reach the watchdog on port {}: {e}",
                    config.port
                )),
            },
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// Whether `/_/health` on `port` answers 200.
fn probe_health(port: u16) -> std::io::Result<bool> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(b"GET /_/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = Vec::new();
    stream.take(64).read_to_end(&mut response)?;
    // "HTTP/1.x 200 ..."
    Ok(response.starts_with(b"HTTP/1.") && response.get(8..13) == Some(b" 200 "))
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
