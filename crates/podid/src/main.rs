//! `podid`: EKS Pod Identity for any Kubernetes cluster.

mod agent_command;
mod cli;
mod log_writer;
mod logging;
mod runtime;
#[cfg(feature = "sandbox")]
mod sandbox_command;
#[cfg(feature = "server")]
mod server_command;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AgentCommand, Cli, Command};

/// Exit status for a configuration the user must fix (sysexits' EX_USAGE).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and the version go to stdout with status 0. Anything else is a usage error like
        // those podid finds in flag values itself, and ends with the same status.
        Err(error) if error.use_stderr() => {
            let _ = error.print();
            return ExitCode::from(EXIT_USAGE);
        }
        Err(error) => error.exit(),
    };
    let outcome = match cli.command {
        Command::Agent(agent) => match agent.command {
            Some(AgentCommand::Init(init)) => agent_command::init(&init),
            Some(AgentCommand::Server(serve)) => agent_command::serve(&serve),
            None => agent_command::serve(&agent.serve),
        },
        #[cfg(feature = "server")]
        Command::Server(server) => server_command::serve(&server),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(sandbox) => sandbox_command::run(sandbox),
    };
    logging::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("podid: {}", failure.message);
            }
            ExitCode::from(failure.status)
        }
    }
}

/// Why a command failed: a message for the user, and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    /// The user's input is at fault.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: EXIT_USAGE,
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: 1,
        }
    }

    /// An exit status passed on, such as that of a command run in a pod; its own output has
    /// said what happened.
    pub fn status(status: u8) -> Self {
        Self {
            message: String::new(),
            status,
        }
    }
}
