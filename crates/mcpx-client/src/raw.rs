//! Raw HTTP exchanges over the client's pool, for callers that own the message bytes (`mcpx
//! replay` sends recorded bodies, ids and headers verbatim): no envelope, no MCP headers, no
//! status handling; the response body is read chunk by chunk as it arrives.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};

use crate::error::Error;
use crate::pool::{HttpClient, Origin, ResponseBody};

/// A response to [`HttpClient::send_raw`]: the head, then the body as it arrives. Read to its
/// end, an HTTP/1.1 connection goes back to the pool; dropped early, it is closed.
pub struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: ResponseBody,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl RawResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The next body chunk; `None` at the end.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when the connection breaks.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.body.chunk().await
    }
}

impl HttpClient {
    /// Sends `req` (an absolute `http(s)://` URI) exactly as given, and returns the response
    /// head. No deadline: wrap it in a timeout.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a URI that is not `http(s)://host`, [`Error::Connect`],
    /// [`Error::Tls`], [`Error::Transport`].
    pub async fn send_raw(&self, req: Request<Bytes>) -> Result<RawResponse, Error> {
        let origin = Origin::of(req.uri())?;
        let (parts, body) = req.into_parts();
        let resp = self.send(&origin, Request::from_parts(parts, body)).await?;
        let (parts, body) = resp.into_parts();
        Ok(RawResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
