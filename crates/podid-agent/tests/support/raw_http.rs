//! A deliberately plain HTTP/1.1 client, so tests control every header byte.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `method path` with the given headers (each a full `Name: value` line).
pub async fn send(address: SocketAddr, method: &str, path: &str, headers: &[String]) -> Reply {
    let mut stream = TcpStream::connect(address)
        .await
        .expect("connect to the agent");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read reply");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Reply { status, body }
}

/// A credential request as a pod's SDK sends it.
pub async fn get_credentials(address: SocketAddr, token: Option<&str>) -> Reply {
    let mut headers = vec![format!("Host: {address}")];
    if let Some(token) = token {
        headers.push(format!("Authorization: {token}"));
    }
    send(address, "GET", "/v1/credentials", &headers).await
}
