//! Load generators and reference servers for `bench/run`.

mod args;
mod bare;
mod burst;
mod client;
mod control_plane;
mod fake_aws;
mod fake_eks_auth;
mod fill;
mod filler;
mod iam_eval;
mod server;
mod stats;
mod token;

use std::net::TcpListener;
use std::process::ExitCode;

use args::Flags;

const USAGE: &str = "\
usage: podid-bench <command> [--flag value]...

  bare-server   --addr IP:PORT --body-file PATH   answer every request with the file's bytes
  fake-eks-auth --addr IP:PORT [--latency-ms 20]  EKS Auth's AssumeRoleForPodIdentity; GET /calls
  mint-token    --pod NAME                         print an unsigned pod token
  burst         --agent IP:PORT [--pods 100] [--per-pod 10]
                                                   all requests of all pods at once
  fill          --agent IP:PORT [--pods 2000] [--concurrency 50]
                                                   one request for each of many pods
  ports         [--count 1]                        print free loopback ports, one a line

  fake-aws      --addr IP:PORT                     STS AssumeRole and IAM GetRole from templates
  iam-eval      [--seconds 5]                      policy evaluations a second, one thread
  mint-cluster  --dir DIR [--pods 100]             RS256 keys, pod tokens and an agent token
  verify-rate   --dir DIR [--seconds 5]            signature verifications a second, one thread
  associate     --server IP:PORT                   the association the minted tokens map to
  assume-load   --server IP:PORT --dir DIR [--connections 32] [--seconds 10]
                                                   AssumeRoleForPodIdentity under load

The worker threads of the servers follow TOKIO_WORKER_THREADS.";

/// Bad usage exits with 2, as the bench script does; failures while running with 1.
enum Failure {
    Usage(String),
    Run(String),
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let result = match Flags::parse(args) {
        Ok(flags) => dispatch(&command, flags).await,
        Err(error) => Err(Failure::Usage(error)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(error)) => {
            eprintln!("podid-bench: {error}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(error)) => {
            eprintln!("podid-bench {command}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: &str, flags: Flags) -> Result<(), Failure> {
    match command {
        "bare-server" => bare::run(flags).await.map_err(Failure::Run),
        "fake-eks-auth" => fake_eks_auth::run(flags).await.map_err(Failure::Run),
        "mint-token" => mint_token(flags),
        "burst" => burst::run(flags).await.map_err(Failure::Run),
        "fill" => fill::run(flags).await.map_err(Failure::Run),
        "ports" => free_ports(flags),
        "fake-aws" => fake_aws::run(flags).await.map_err(Failure::Run),
        "iam-eval" => iam_eval::run(flags).map_err(Failure::Run),
        "mint-cluster" => control_plane::mint(flags).map_err(Failure::Run),
        "verify-rate" => control_plane::verify_rate(flags).map_err(Failure::Run),
        "associate" => control_plane::associate(flags).await.map_err(Failure::Run),
        "assume-load" => control_plane::assume_load(flags)
            .await
            .map_err(Failure::Run),
        "" | "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
}

fn mint_token(flags: Flags) -> Result<(), Failure> {
    let flags = flags.only(&["pod"]).map_err(Failure::Usage)?;
    let pod: String = flags.required("pod").map_err(Failure::Usage)?;
    println!("{}", token::for_pod(&pod));
    Ok(())
}

/// Ports the kernel hands out for port 0, all held at once so that they differ. They are free
/// again when this exits, and stay so unless something else grabs them in between.
fn free_ports(flags: Flags) -> Result<(), Failure> {
    let flags = flags.only(&["count"]).map_err(Failure::Usage)?;
    let count: usize = flags.optional("count", 1).map_err(Failure::Usage)?;
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Failure::Run(format!("cannot bind a loopback port: {error}")))?;
    for listener in &listeners {
        let port = listener
            .local_addr()
            .map_err(|error| Failure::Run(error.to_string()))?
            .port();
        println!("{port}");
    }
    Ok(())
}
