//! A minimal HTTP/1.1 client for the agent: one keep-alive connection, one request at a time,
//! the way a pod's SDK talks to it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Every request gives up after this long, so that a stuck agent cannot hang the benchmark.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const CREDENTIALS_PATH: &str = "/v1/credentials";

/// An open connection to the agent.
#[derive(Debug)]
pub struct Connection {
    agent: SocketAddr,
    sender: SendRequest<Empty<Bytes>>,
}

/// What one request got: its status (or why it got none) and how long it took.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<StatusCode, String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self.result, Ok(StatusCode::OK))
    }
}

impl Connection {
    pub async fn open(agent: SocketAddr) -> Result<Self, String> {
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(agent))
            .await
            .map_err(|_| format!("connecting to {agent} timed out"))?
            .map_err(|error| format!("cannot connect to {agent}: {error}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP handshake with {agent} failed: {error}"))?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the agent closes; errors show up as requests'.
            let _ = connection.await;
        });
        Ok(Self { agent, sender })
    }

    /// `GET /v1/credentials` with `token`, timed from just before the request is written to
    /// the last byte of the response body.
    pub async fn get_credentials(&mut self, token: &str) -> Outcome {
        let started = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(token))
            .await
            .unwrap_or_else(|_| Err("timed out".to_owned()));
        Outcome {
            result,
            elapsed: started.elapsed(),
        }
    }

    async fn exchange(&mut self, token: &str) -> Result<StatusCode, String> {
        let request = Request::get(CREDENTIALS_PATH)
            .header(HOST, self.agent.to_string())
            .header(AUTHORIZATION, token)
            .body(Empty::new())
            .map_err(|error| format!("cannot build the request: {error}"))?;
        self.sender
            .ready()
            .await
            .map_err(|error| format!("connection closed: {error}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|error| format!("request failed: {error}"))?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("reading the body failed: {error}"))?;
        Ok(status)
    }

    /// Whether the connection can take another request.
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }
}
