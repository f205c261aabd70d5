//! The control plane's benchmark tools: a cluster's keys and tokens, the association, the
//! `AssumeRoleForPodIdentity` load, and the raw signature verification rate to compare with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use podid_core::eks_auth::NODE_TOKEN_HEADER;
use podid_core::token::POD_IDENTITY_AUDIENCE;
use podid_server::tokens::{Expectations, Issuer, jwks_of, parse_jwks, verify};
use serde_json::json;
use tokio::net::TcpStream;

use crate::args::Flags;
use crate::client::Outcome;
use crate::stats::Summary;
use crate::token::now_unix;

pub const ISSUER: &str = "https://oidc.bench.podid.test/id/BENCH";
const CLUSTER: &str = "bench";

/// Writes `jwks.json`, `tokens` (one pod token a line) and `agent-token` into `--dir`.
pub fn mint(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["dir", "pods"])?;
    let dir: PathBuf = flags.required("dir")?;
    let pods: usize = flags.optional("pods", 100)?;
    let issuer = Issuer::generate_rsa()?;
    let tokens = (0..pods)
        .map(|index| {
            issuer.sign(&claims(
                &format!("pod-{index}"),
                POD_IDENTITY_AUDIENCE,
                "bench",
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let agent = issuer.sign(&claims("podid-agent-node-1", "podid", "podid-agent"))?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))
    };
    write("jwks.json", jwks_of(&[&issuer]))?;
    write("tokens", tokens.join("\n"))?;
    write("agent-token", agent)?;
    println!(
        "minted {pods} pod tokens signed {} into {}",
        issuer.algorithm(),
        dir.display()
    );
    Ok(())
}

fn claims(pod: &str, audience: &str, service_account: &str) -> serde_json::Value {
    let namespace = if service_account == "podid-agent" {
        "kube-system"
    } else {
        "default"
    };
    let now = now_unix();
    json!({
        "iss": ISSUER, "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
        "aud": [audience], "iat": now, "nbf": now, "exp": now + 86_400,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": service_account, "uid": "sa-uid"},
            "pod": {"name": pod, "uid": format!("{pod}-uid")},
            "node": {"name": "node-1", "uid": "node-1-uid"}
        }
    })
}

fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Signature verifications a second on this thread, over the minted tokens in turn.
pub fn verify_rate(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["dir", "seconds"])?;
    let dir: PathBuf = flags.required("dir")?;
    let seconds: f64 = flags.optional("seconds", 5.0)?;
    let keys = parse_jwks(&std::fs::read(dir.join("jwks.json")).map_err(|e| e.to_string())?)?;
    let tokens = read_lines(&dir.join("tokens"))?;
    let expect = Expectations {
        issuer: ISSUER,
        audience: POD_IDENTITY_AUDIENCE,
        now: now_unix(),
        leeway: 30,
    };
    let started = Instant::now();
    let mut verified = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        for token in &tokens {
            verify(token, &keys, &expect).map_err(|e| format!("a minted token failed: {e}"))?;
            verified += 1;
        }
    }
    let rate = verified as f64 / started.elapsed().as_secs_f64();
    println!("verifications={verified} verify_per_second={rate:.0}");
    Ok(())
}

/// Creates the association every minted pod token maps to.
pub async fn associate(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["server"])?;
    let server: SocketAddr = flags.required("server")?;
    let body = json!({
        "namespace": "default", "serviceAccount": "bench",
        "roleArn": "arn:aws:iam::111122223333:role/bench"
    });
    let path = format!("/clusters/{CLUSTER}/pod-identity-associations");
    let (status, answer) = post(server, &path, body.to_string()).await?;
    if status != StatusCode::OK {
        return Err(format!("creating the association: HTTP {status}: {answer}"));
    }
    Ok(())
}

/// Keeps `--connections` keep-alive connections busy with exchanges for `--seconds`.
pub async fn assume_load(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["server", "dir", "connections", "seconds"])?;
    let server: SocketAddr = flags.required("server")?;
    let dir: PathBuf = flags.required("dir")?;
    let connections: usize = flags.optional("connections", 32)?;
    let seconds: f64 = flags.optional("seconds", 10.0)?;
    let tokens = Arc::new(read_lines(&dir.join("tokens"))?);
    let agent = Arc::new(read_lines(&dir.join("agent-token"))?.concat());

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (tokens, agent, stop) = (Arc::clone(&tokens), Arc::clone(&agent), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            load_one_connection(server, worker, &tokens, &agent, &stop).await
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = Summary::of(&outcomes);
    println!("{} rps={:.0}", summary.line(), summary.ok as f64 / elapsed);
    Ok(())
}

async fn load_one_connection(
    server: SocketAddr,
    worker: usize,
    tokens: &[String],
    agent: &str,
    stop: &AtomicBool,
) -> Result<Vec<Outcome>, String> {
    let stream = TcpStream::connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let path = format!("/clusters/{CLUSTER}/assume-role-for-pod-identity");
    let mut outcomes = Vec::new();
    let mut index = worker;
    while !stop.load(Ordering::Relaxed) {
        let body = json!({"token": tokens[index % tokens.len()]}).to_string();
        index += 1;
        let request = Request::post(&path)
            .header(hyper::header::HOST, server.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(NODE_TOKEN_HEADER, agent)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let result = async {
            sender.ready().await.map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(status)
        }
        .await;
        outcomes.push(Outcome {
            result,
            elapsed: started.elapsed(),
        });
    }
    Ok(outcomes)
}

/// One POST on a fresh connection; returns the status and body.
async fn post(
    server: SocketAddr,
    path: &str,
    body: String,
) -> Result<(StatusCode, String), String> {
    let stream = TcpStream::connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::post(path)
        .header(hyper::header::HOST, server.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
