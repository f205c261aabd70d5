//! `bare-server`: the same response bytes as the agent's cache hit, with no work per request.
//! Its throughput and latency are the practical limit of the agent on the same machine.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use hyper::StatusCode;

use crate::args::Flags;
use crate::server::{respond, serve};

pub async fn run(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["addr", "body-file"])?;
    let address: SocketAddr = flags.required("addr")?;
    let path: PathBuf = flags.required("body-file")?;
    let body =
        std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let body = Bytes::from(body);
    eprintln!("bare-server: {} bytes on {address}", body.len());
    let answer = move |_request| {
        let body = body.clone();
        async move { respond(StatusCode::OK, "application/json", body) }
    };
    serve(address, answer)
        .await
        .map_err(|error| format!("cannot serve on {address}: {error}"))
}
