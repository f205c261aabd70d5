//! `podid`: EKS Pod Identity for any Kubernetes cluster.

mod agent_command;
mod cli;
mod logging;
mod runtime;
mod server_command;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AgentCommand, Cli, Command};

/// Exit status for a configuration the user must fix (sysexits' EX_USAGE).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Agent(agent) => match agent.command {
            Some(AgentCommand::Init(init)) => agent_command::init(&init),
            Some(AgentCommand::Server(serve)) => agent_command::serve(&serve),
            None => agent_command::serve(&agent.serve),
        },
        Command::Server(server) => server_command::serve(&server),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("podid: {}", failure.message);
            ExitCode::from(if failure.is_usage { EXIT_USAGE } else { 1 })
        }
    }
}

/// Why a command failed: a message for the user, and whether their input was at fault.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub is_usage: bool,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            is_usage: true,
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            is_usage: false,
        }
    }
}
