//! The `podid` binary: flag validation, start-up failures and shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn podid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podid"))
        .args(args)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-west-2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run podid")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs podid with `args`, which it must refuse with the usage status and `message`; its
/// stderr.
fn assert_usage_status(args: &[&str], message: &str) -> String {
    let output = podid(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(64), "{args:?}: {stderr}");
    assert!(
        stderr.contains(message),
        "{args:?}: {stderr:?} lacks {message:?}"
    );
    stderr
}

/// A refusal of podid's own, which says what is wrong in one line.
fn assert_usage_error(args: &[&str], message: &str) {
    let stderr = assert_usage_status(args, message);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
}

#[test]
fn bad_flags_are_refused_before_anything_starts() {
    let cases: &[(&[&str], &str)] = &[
        (&["agent"], "missing --cluster-name (-c)"),
        (
            &["agent", "-c", "bad name"],
            "invalid --cluster-name \"bad name\"",
        ),
        (
            &["agent", "-c", "x", "-b", "localhost"],
            "invalid --bind-hosts \"localhost\"",
        ),
        (
            &[
                "agent",
                "-c",
                "x",
                "--max-credential-retention-before-renewal",
                "3 days",
            ],
            "unknown unit \" days\"",
        ),
        (
            &["agent", "-c", "x", "--max-service-qps", "0"],
            "invalid --max-service-qps 0",
        ),
        (
            &["agent", "-c", "x", "--endpoint", "eks-auth.local"],
            "invalid --endpoint",
        ),
        (
            &["agent", "-c", "x", "-v", "loud"],
            "invalid --verbosity \"loud\"",
        ),
        (
            &["agent", "-c", "x", "--metrics-address", "any"],
            "invalid --metrics-address",
        ),
        (
            &["agent", "-c", "x", "--log-format", "yaml"],
            "invalid --log-format \"yaml\": use text or json",
        ),
        (
            &["agent", "-c", "x", "--rotate-credentials"],
            "--rotate-credentials needs the shared credentials file: set \
             AWS_SHARED_CREDENTIALS_FILE, or HOME",
        ),
        (
            &[
                "agent",
                "-c",
                "x",
                "--rotate-credentials=true",
                "--node-token-file",
                "/var/run/token",
            ],
            "--rotate-credentials and --node-token-file exclude each other",
        ),
    ];
    for (args, message) in cases {
        assert_usage_error(args, message);
    }
}

#[test]
fn flags_the_parser_refuses_end_with_the_usage_status() {
    for (args, message) in [
        (
            &["agent", "-c", "x", "--bogus"][..],
            "unexpected argument '--bogus'",
        ),
        (
            &["agent", "-c", "x", "-p", "eighty"],
            "invalid value 'eighty' for '--port",
        ),
        (
            &["agent", "-c", "x", "--rotate-credentials=maybe"],
            "invalid value 'maybe' for '--rotate-credentials",
        ),
    ] {
        assert_usage_status(args, message);
    }
    let help = podid(&["agent", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--rotate-credentials"));
}

/// The node's build has the agent only: the other commands are unknown to it, and its help
/// does not offer them.
#[cfg(not(any(feature = "server", feature = "sandbox")))]
#[test]
fn a_build_without_the_control_plane_and_sandbox_refuses_their_commands() {
    assert_usage_status(
        &["server", "--config", "podid.toml"],
        "unrecognized subcommand 'server'",
    );
    assert_usage_status(&["sandbox", "up"], "unrecognized subcommand 'sandbox'");
    let help = podid(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("agent"), "{help}");
    assert!(
        !help.contains("sandbox") && !help.contains("server"),
        "{help}"
    );
}

/// The default build has every command.
#[cfg(all(feature = "server", feature = "sandbox"))]
#[test]
fn the_default_build_offers_every_command() {
    let help = podid(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for command in ["agent", "server", "sandbox"] {
        assert!(help.contains(command), "{command} missing from {help}");
    }
}

#[test]
fn an_ipv4_address_missing_from_the_node_stops_the_agent_with_a_hint() {
    // 192.0.2.1 is reserved for documentation and never assigned to a host.
    let port = free_port().to_string();
    let probe = free_port().to_string();
    let output = podid(&[
        "agent",
        "-c",
        "eksdemo1",
        "-b",
        "192.0.2.1",
        "-p",
        &port,
        "--probe-port",
        &probe,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on 192.0.2.1:"), "{stderr}");
    assert!(stderr.contains("run `podid agent init` first"), "{stderr}");
}

/// The agent on loopback ports, with only `env` (and a region, and no instance metadata) for
/// its AWS set-up.
fn agent_with_aws_env(env: &[(&str, &str)]) -> Command {
    let (port, probe, metrics) = (free_port(), free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_podid"));
    command
        .args([
            "agent",
            "-c",
            "eksdemo1",
            "-b",
            "127.0.0.1",
            "--metrics-address",
            "127.0.0.1",
        ])
        .args(["-p", &port.to_string(), "--probe-port", &probe.to_string()])
        .args(["--metrics-port", &metrics.to_string()])
        .env_clear()
        .env("AWS_REGION", "us-west-2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    command
}

#[test]
fn node_credentials_set_up_wrongly_stop_the_start_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("podid-cli-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        "[default]\nrole_arn = arn:aws:iam::111122223333:role/x\nsource_profile = base\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let absent = dir.join("absent");
    let absent = absent.to_str().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("AWS_ACCESS_KEY_ID", "AKIDHALF")],
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
        ),
        (
            &[("AWS_PROFILE", "nosuch"), ("AWS_CONFIG_FILE", absent)],
            "AWS_PROFILE names the profile \"nosuch\", which neither shared file has",
        ),
        (
            &[
                ("AWS_CONFIG_FILE", config),
                ("AWS_SHARED_CREDENTIALS_FILE", absent),
            ],
            "the [default] profile obtains credentials with role_arn, which the podid agent \
             does not support",
        ),
        (
            &[("AWS_WEB_IDENTITY_TOKEN_FILE", absent)],
            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
        ),
        (
            &[(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://10.0.0.5/creds",
            )],
            "is plain HTTP to another host",
        ),
        (
            &[
                ("AWS_EC2_METADATA_DISABLED", "false"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5"),
            ],
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6",
        ),
    ];
    for (env, message) in cases {
        let output = agent_with_aws_env(env).output().expect("run podid");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{env:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{env:?}: {stderr:?} lacks {message:?}"
        );
        assert!(!stderr.contains("agent ready"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_any_node_credentials_the_agent_starts_and_says_why_exchanges_will_fail() {
    let mut child = agent_with_aws_env(&[])
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podid");
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut started = String::new();
    while !started.contains("agent ready") {
        let mut line = String::new();
        if log.read_line(&mut line).unwrap() == 0 {
            break;
        }
        started.push_str(&line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started.contains("agent ready"), "{started}");
    assert!(
        started.contains("the node has no AWS credentials, every exchange will fail"),
        "{started}"
    );
}

/// An agent on loopback ports with the given extra flags; its stderr, read up to the line that
/// says it is ready.
struct RunningAgent {
    child: std::process::Child,
    log: BufReader<std::process::ChildStderr>,
    port: u16,
    started: String,
}

fn start_agent(extra: &[&str]) -> RunningAgent {
    start_agent_with_env(extra, &[])
}

fn start_agent_with_env(extra: &[&str], env: &[(&str, &str)]) -> RunningAgent {
    let (port, probe, metrics) = (free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_podid"))
        .args(["agent", "server", "-c", "eksdemo1", "-b", "127.0.0.1"])
        .args(["-p", &port.to_string(), "--probe-port", &probe.to_string()])
        .args([
            "--metrics-address",
            "127.0.0.1",
            "--metrics-port",
            &metrics.to_string(),
        ])
        .args(extra)
        .env_clear()
        .env("AWS_REGION", "us-west-2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut started = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.contains("agent ready") && Instant::now() < deadline {
        let mut line = String::new();
        if log.read_line(&mut line).unwrap() == 0 {
            break;
        }
        started.push_str(&line);
    }
    assert!(started.contains("agent ready"), "{started}");
    RunningAgent {
        child,
        log,
        port,
        started,
    }
}

impl RunningAgent {
    /// Sends SIGTERM and requires a clean exit; the rest of the log.
    fn stop_cleanly(mut self) -> String {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.log, &mut rest).unwrap();
        assert!(status.success(), "{status}: {rest}");
        rest
    }
}

#[test]
fn sigterm_stops_the_agent_cleanly() {
    let agent = start_agent(&[]);
    let port = agent.port;
    assert!(
        agent.started.contains(&format!("127.0.0.1:{port}")),
        "{}",
        agent.started
    );
    let rest = agent.stop_cleanly();
    assert!(rest.contains("shutting down"), "{rest}");
}

#[test]
fn json_logs_are_one_object_a_line() {
    let agent = start_agent(&["--log-format", "json"]);
    let started = agent.started.clone();
    let rest = agent.stop_cleanly();
    let lines: Vec<&str> = started.lines().chain(rest.lines()).collect();
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON object: {line:?}: {error}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        assert!(event["message"].is_string(), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains("\"message\":\"agent ready\""))
    );
}

#[test]
fn rotate_credentials_reads_the_shared_credentials_file() {
    let dir = std::env::temp_dir().join(format!("podid-cli-rotation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    let file_name = file.to_str().unwrap();
    let env = [("AWS_SHARED_CREDENTIALS_FILE", file_name)];

    // The node's credential service may write the file after the agent starts.
    let agent = start_agent_with_env(&["--rotate-credentials"], &env);
    assert!(
        agent
            .started
            .contains("the shared credentials file is not usable yet: cannot read"),
        "{}",
        agent.started
    );
    agent.stop_cleanly();

    std::fs::write(
        &file,
        "[default]\naws_access_key_id = ASIANODE\naws_secret_access_key = node-secret\n",
    )
    .unwrap();
    let agent = start_agent_with_env(&["--rotate-credentials=true"], &env);
    assert!(
        agent
            .started
            .contains("signing EKS Auth calls with the default profile of "),
        "{}",
        agent.started
    );
    assert!(!agent.started.contains("node-secret"), "{}", agent.started);
    agent.stop_cleanly();
    std::fs::remove_dir_all(&dir).unwrap();
}
