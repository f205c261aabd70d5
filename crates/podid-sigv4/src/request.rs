//! The parts of an HTTP request that a signature covers.

use std::fmt;

use http::HeaderMap;

/// A request as the server received it: method, path and query exactly as sent (still
/// percent-encoded), headers, and the whole body.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query, without its `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    pub fn new(
        method: &'a http::Method,
        uri: &'a http::Uri,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        Self {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            headers,
            body,
        }
    }

    /// The parts of an `http::Request` whose body has already been read into `body`.
    pub fn from_http<B>(request: &'a http::Request<B>, body: &'a [u8]) -> Self {
        Self::new(request.method(), request.uri(), request.headers(), body)
    }
}

/// Shows no header value, query or body: they may hold a session token or a web identity token.
impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.keys().map(|name| name.as_str()).collect();
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.map(str::len))
            .field("header_names", &header_names)
            .field("body_len", &self.body.len())
            .finish()
    }
}
