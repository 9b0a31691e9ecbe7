//! Load shedding and the per-request meter: the server-wide bound on HTTP requests in flight,
//! the refusal (503 + `Retry-After`) past it or while shutting down, and the bookkeeping that
//! feeds [`crate::metrics`] once a request is answered.
//!
//! Refusing at once is the point: a request over the bound costs one atomic add and a small
//! pre-sized answer, before its body is read or any table is locked, so the requests already
//! admitted keep their latency while the excess is told to come back later. The per-client
//! share is the core's: one session over `Config::max_in_flight_per_session` gets 429 with
//! `Retry-After` while other sessions go on (`mcpx_proto::ProtocolError::TooManyInFlight`).
//!
//! A request counts from its arrival to the end of its answer: a JSON answer frees its slot
//! when the head is ready, a streamed (SSE) answer carries the slot in its body until the
//! stream ends or the client goes away. GET streams and DELETEs do not count (the core bounds
//! streams per session).
//!
//! Cost per request: one `fetch_add` and one `fetch_sub` on a shared counter, two clock reads
//! (the latency), and the metric increments; no lock and no allocation (a streamed answer adds
//! one box for its slot-holding body).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method as HttpMethod, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Frame, SizeHint};
use mcpx_proto::{ProtocolError, Rejection, Routed};

use crate::metrics::{Method, Metrics, Reason};
use crate::service::{ResponseBody, Shared};

/// The server-wide admission state (one per server).
pub(crate) struct Shed {
    in_flight: AtomicUsize,
    max: usize,
    retry_after: Duration,
    draining: AtomicBool,
}

impl Shed {
    pub(crate) fn new(max: usize, retry_after: Duration) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            max: max.max(1),
            retry_after,
            draining: AtomicBool::new(false),
        }
    }

    /// Requests admitted and not yet answered.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The bound.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// From now on every new request is refused with 503 (graceful shutdown).
    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Admits a request or says why not. GET and DELETE open or end streams and sessions
    /// (bounded per session by the core), so only POSTs, which start work, count against the
    /// bound; while draining, everything is refused.
    #[allow(
        clippy::result_large_err,
        reason = "the refusal goes straight back to hyper by value; a box would add an \
                  allocation to every refusal"
    )]
    pub(crate) fn admit<'a>(
        &'a self,
        metrics: &'a Metrics,
        method: &HttpMethod,
    ) -> Result<Meter<'a>, Response<ResponseBody>> {
        let started = Instant::now();
        if self.is_draining() {
            metrics.rejected(Reason::ShuttingDown);
            metrics.request(
                Method::Refused,
                StatusCode::SERVICE_UNAVAILABLE,
                started.elapsed(),
            );
            return Err(self.refusal());
        }
        let counted = *method == HttpMethod::POST;
        if counted {
            // Add first, then check: two racing requests can never both take the last slot.
            let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
            if before >= self.max {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                metrics.rejected(Reason::Overloaded);
                metrics.request(
                    Method::Refused,
                    StatusCode::SERVICE_UNAVAILABLE,
                    started.elapsed(),
                );
                return Err(self.refusal());
            }
        }
        Ok(Meter {
            shed: self,
            metrics,
            counted,
            started,
            method: Method::Http,
        })
    }

    /// 503 with `Retry-After` and the core's own `Overloaded` body (-32603), so clients see the
    /// same refusal whether the core or this bound said no.
    fn refusal(&self) -> Response<ResponseBody> {
        let mut buf = BytesMut::new();
        Rejection::new(ProtocolError::Overloaded, None, None).encode_body(&mut buf);
        let mut resp = Response::new(Full::new(Bytes::from(buf)).boxed_unsync());
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after.as_secs().max(1)),
        );
        resp
    }
}

/// Ends every standalone GET and listen stream (graceful shutdown): their queues' senders are
/// dropped, so each SSE body ends cleanly after the events already queued, and its client
/// reconnects (to another replica). Requests' own streams end with their answers.
pub(crate) fn close_streams(shared: &crate::service::Shared) {
    // Taken out under the lock, dropped after it: a body's guard locks the map as it ends.
    let streams = std::mem::take(&mut *crate::service::lock(&shared.streams));
    drop(streams);
}

/// One admitted request: holds its in-flight slot until dropped, and records its method,
/// status and latency when [`finish`](Self::finish)ed.
pub(crate) struct Meter<'a> {
    shed: &'a Shed,
    metrics: &'a Metrics,
    counted: bool,
    started: Instant,
    method: Method,
}

impl Meter<'_> {
    /// The core routed the request.
    pub(crate) fn routed(&mut self, routed: &Routed) {
        self.method = Method::of(routed);
    }

    /// The core (or the body limit) refused the request.
    pub(crate) fn rejected(&mut self, rejection: &Rejection) {
        self.method = Method::Refused;
        self.metrics.rejected(Reason::of(rejection));
    }

    /// The answer's head is ready: count it. A streamed answer (SSE: the handler still runs)
    /// takes the request's in-flight slot along in its body, which frees it when the stream
    /// ends or is dropped; a JSON answer frees it now. Only streamed answers pay for the
    /// wrapper (one box).
    pub(crate) fn finish(
        mut self,
        resp: Response<ResponseBody>,
        shared: &Arc<Shared>,
    ) -> Response<ResponseBody> {
        self.metrics
            .request(self.method, resp.status(), self.started.elapsed());
        // A complete body knows its exact length; a stream does not.
        if self.counted && resp.body().size_hint().exact().is_none() {
            self.counted = false;
            let slot = Slot(shared.clone());
            return resp.map(|body| HeldBody { body, _slot: slot }.boxed_unsync());
        }
        resp
    }
}

/// An in-flight slot held by a streamed answer.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.shed.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A streamed answer's body with the request's in-flight slot.
struct HeldBody {
    body: ResponseBody,
    _slot: Slot,
}

impl Body for HeldBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.shed.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
