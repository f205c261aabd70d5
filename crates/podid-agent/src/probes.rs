//! Health, readiness and metrics endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hyper::body::Incoming;
use hyper::{Request, Response};
use prometheus_client::registry::Registry;

use crate::metrics::render;
use podid_http::{Body, Handler, respond};

/// `/healthz` answers while the process runs; `/readyz` once every credential listener is bound.
#[derive(Debug, Clone, Default)]
pub struct Probes {
    ready: Arc<AtomicBool>,
}

impl Probes {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

impl Handler for Probes {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        match request.uri().path() {
            "/healthz" => respond(200, "text/plain", "ok\n"),
            "/readyz" if self.ready.load(Ordering::SeqCst) => respond(200, "text/plain", "ok\n"),
            "/readyz" => respond(
                503,
                "text/plain",
                "credential listeners are not bound yet\n",
            ),
            _ => respond(404, "text/plain", "probes are /healthz and /readyz\n"),
        }
    }
}

/// `/metrics` in Prometheus' text format.
#[derive(Debug)]
pub struct MetricsEndpoint {
    registry: Registry,
}

impl MetricsEndpoint {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

impl Handler for MetricsEndpoint {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if request.uri().path() != "/metrics" {
            return respond(404, "text/plain", "metrics are served at /metrics\n");
        }
        respond(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            render(&self.registry),
        )
    }
}
