//! The server as a [`tower_service::Service`], to mount in an axum, hyper or tonic app beside
//! other routes: every request it is given is an MCP request (the app's router chose it).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mcpx_server::{Handlers, Server};
//! let mut config = mcpx_proto::Config::new();
//! // The router decides the path (axum's `nest_service` strips its prefix).
//! config.any_path();
//! let server = Server::builder().config(config).handlers(Handlers::new()).build()?;
//! let mcp = server.into_service();
//! // axum: Router::new().nest_service("/api/mcp", mcp)
//! # let _ = mcp;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Body;

use crate::handler::BoxFuture;
use crate::service::{ResponseBody, Shared, handle};

/// An MCP endpoint as a `tower` service ([`Server::into_service`](crate::Server::into_service)).
/// Cheap to clone; every clone serves the same sessions. Always ready; never fails (every
/// problem is an HTTP response).
#[derive(Clone)]
pub struct McpService {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for McpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpService").finish_non_exhaustive()
    }
}

/// The response body of every answer: one buffer for JSON, a stream of events for SSE.
pub type McpBody = ResponseBody;

impl<B> tower_service::Service<Request<B>> for McpService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<McpBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<McpBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Overload is answered per request (503/429 with Retry-After), never by back-pressure
        // on the caller.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        Box::pin(handle(self.shared.clone(), req))
    }
}
