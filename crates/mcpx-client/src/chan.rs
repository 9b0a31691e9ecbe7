//! Transports whose replies do not come back on the request: legacy HTTP+SSE (2024-11-05: one
//! `GET` SSE stream carries every server message, requests go by `POST` to the `endpoint`) and
//! stdio (a child process, newline-delimited JSON). A reader task routes each incoming message:
//! responses and progress to the waiting request's queue (by id; progress tokens are request
//! ids), server requests to the handler, everything else to the standalone queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Uri};
use mcpx_wire::mcp::method;
use mcpx_wire::sse::SseDecoder;
use mcpx_wire::stdio::LineFramer;
use mcpx_wire::{DecodeOptions, Message, MessageKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, Phase};
use crate::exchange::is_event_stream;
use crate::handler;
use crate::limits;
use crate::pool::{HttpClient, Origin, ResponseBody};
use crate::session::{Client, SessionCore};

enum Outbound {
    Legacy {
        http: HttpClient,
        origin: Origin,
        post_url: Uri,
    },
    Stdio {
        stdin: tokio::sync::Mutex<Option<ChildStdin>>,
        child: tokio::sync::Mutex<Option<Child>>,
    },
}

/// The dispatcher and writer of one legacy or stdio session.
pub(crate) struct Channel {
    pending: Mutex<HashMap<i64, mpsc::Sender<Message>>>,
    standalone_tx: mpsc::Sender<Message>,
    standalone_rx: Mutex<Option<mpsc::Receiver<Message>>>,
    cap: usize,
    out: Outbound,
    reader: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    opts: Arc<crate::ClientOptions>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        if let Ok(mut r) = self.reader.lock()
            && let Some(h) = r.take()
        {
            h.abort();
        }
    }
}

impl Channel {
    fn new(out: Outbound, opts: Arc<crate::ClientOptions>) -> Arc<Self> {
        let cap = opts.max_queued_events;
        let (tx, rx) = mpsc::channel(cap);
        Arc::new(Self {
            pending: Mutex::new(HashMap::new()),
            standalone_tx: tx,
            standalone_rx: Mutex::new(Some(rx)),
            cap,
            out,
            reader: Mutex::new(None),
            closed: AtomicBool::new(false),
            opts,
        })
    }

    /// A queue for the replies to request `id`.
    pub(crate) fn register(&self, id: i64) -> mpsc::Receiver<Message> {
        let (tx, rx) = mpsc::channel(self.cap);
        if !self.closed.load(Ordering::Relaxed)
            && let Ok(mut p) = self.pending.lock()
        {
            p.insert(id, tx);
        }
        // When closed the sender is dropped here: the exchange sees `Error::Closed`.
        rx
    }

    pub(crate) fn forget(&self, id: i64) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
    }

    pub(crate) fn take_standalone(&self) -> Option<mpsc::Receiver<Message>> {
        self.standalone_rx.lock().ok()?.take()
    }

    /// Writes one message to the server.
    pub(crate) async fn send(&self, core: &SessionCore, body: Bytes) -> Result<(), Error> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        match &self.out {
            Outbound::Legacy {
                http,
                origin,
                post_url,
            } => {
                let mut req = Request::new(body);
                *req.method_mut() = Method::POST;
                *req.uri_mut() = post_url.clone();
                let h = req.headers_mut();
                for (k, v) in &core.opts.headers {
                    h.append(k, v.clone());
                }
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                let resp = http.send(origin, req).await?;
                let (parts, mut body) = resp.into_parts();
                let text = body
                    .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES)
                    .await;
                if !parts.status.is_success() {
                    return Err(Error::HttpStatus {
                        status: parts.status,
                        body: text,
                    });
                }
                Ok(())
            }
            Outbound::Stdio { stdin, .. } => {
                let mut line = BytesMut::with_capacity(body.len() + 1);
                mcpx_wire::stdio::encode_line(&mut line, &body)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                let mut guard = stdin.lock().await;
                let w = guard.as_mut().ok_or(Error::Closed)?;
                w.write_all(&line).await.map_err(Error::Io)?;
                w.flush().await.map_err(Error::Io)
            }
        }
    }

    /// Routes one message from the server.
    async fn route(self: &Arc<Self>, core_handler: &Arc<dyn crate::ClientHandler>, msg: Message) {
        match msg.kind() {
            MessageKind::Request => {
                let chan = Arc::downgrade(self);
                let handler = core_handler.clone();
                tokio::spawn(async move {
                    let Some(reply) = handler::answer(&*handler, &msg).await else {
                        return;
                    };
                    if let Some(chan) = chan.upgrade()
                        && let Err(e) = chan.send_bare(reply).await
                    {
                        tracing::warn!(error = %e, "could not answer a server request");
                    }
                });
            }
            _ if msg.is_response() || msg.is_error_response() => {
                let tx = msg
                    .id()
                    .and_then(mcpx_wire::RequestId::as_i64)
                    .and_then(|id| self.pending.lock().ok()?.remove(&id));
                match tx {
                    // Responses are never dropped: wait for room (the reader slows down).
                    Some(tx) => {
                        let _ = tx.send(msg).await;
                    }
                    None => tracing::debug!("response to an unknown request id"),
                }
            }
            _ => {
                let token = (msg.method() == Some(method::NOTIFICATIONS_PROGRESS))
                    .then(|| progress_token(&msg))
                    .flatten();
                let tx = token.and_then(|t| self.pending.lock().ok()?.get(&t).cloned());
                let target = tx.unwrap_or_else(|| self.standalone_tx.clone());
                if target.try_send(msg).is_err() {
                    tracing::warn!("event queue full: a notification was dropped");
                }
            }
        }
    }

    /// Sends without a session (the answer path of the reader).
    async fn send_bare(&self, body: Bytes) -> Result<(), Error> {
        match &self.out {
            Outbound::Legacy {
                http,
                origin,
                post_url,
            } => {
                let mut req = Request::new(body);
                *req.method_mut() = Method::POST;
                *req.uri_mut() = post_url.clone();
                let h = req.headers_mut();
                for (k, v) in &self.opts.headers {
                    h.append(k, v.clone());
                }
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                let resp = http.send(origin, req).await?;
                let (_, mut body) = resp.into_parts();
                let _ = body
                    .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES)
                    .await;
                Ok(())
            }
            Outbound::Stdio { stdin, .. } => {
                let mut line = BytesMut::with_capacity(body.len() + 1);
                mcpx_wire::stdio::encode_line(&mut line, &body)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                let mut guard = stdin.lock().await;
                let w = guard.as_mut().ok_or(Error::Closed)?;
                w.write_all(&line).await.map_err(Error::Io)?;
                w.flush().await.map_err(Error::Io)
            }
        }
    }

    /// The server side is gone: every waiting request fails with `Error::Closed`.
    fn shut(&self) {
        self.closed.store(true, Ordering::Relaxed);
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
    }

    pub(crate) async fn close(&self) {
        self.shut();
        if let Ok(mut r) = self.reader.lock()
            && let Some(h) = r.take()
        {
            h.abort();
        }
        if let Outbound::Stdio { stdin, child } = &self.out {
            // Close stdin, give the child a grace period, then kill it (MCP-DIGEST 5).
            drop(stdin.lock().await.take());
            if let Some(mut c) = child.lock().await.take()
                && tokio::time::timeout(limits::STDIO_EXIT_GRACE, c.wait())
                    .await
                    .is_err()
            {
                let _ = c.kill().await;
            }
        }
    }

    fn set_reader(&self, h: JoinHandle<()>) {
        if let Ok(mut r) = self.reader.lock() {
            *r = Some(h);
        }
    }
}

fn progress_token(msg: &Message) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct P {
        #[serde(rename = "progressToken")]
        token: Option<i64>,
    }
    msg.params()?.deserialize::<P>().ok()?.token
}

/// Legacy HTTP+SSE: `GET` the URL, wait for the `endpoint` event, start the reader.
pub(crate) async fn connect_legacy(base: &crate::session::Base) -> Result<Arc<Channel>, Error> {
    let opts = base.client.opts.clone();
    let origin = base
        .origin
        .clone()
        .ok_or_else(|| Error::InvalidArgument("not an HTTP URL".into()))?;
    let mut req = Request::new(Bytes::new());
    *req.uri_mut() = base.url.clone();
    let h = req.headers_mut();
    for (k, v) in &opts.headers {
        h.append(k, v.clone());
    }
    h.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    let http = base.client.http.clone();
    let deadline = tokio::time::Instant::now() + opts.discovery_timeout;
    let resp = tokio::time::timeout_at(deadline, http.send(&origin, req))
        .await
        .map_err(|_| Error::Timeout(Phase::Discovery))??;
    let (parts, mut body) = resp.into_parts();
    if !parts.status.is_success() {
        let text = body
            .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES)
            .await;
        return Err(Error::HttpStatus {
            status: parts.status,
            body: text,
        });
    }
    if !is_event_stream(
        parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(http::HeaderValue::as_bytes),
    ) {
        return Err(Error::protocol(
            "legacy SSE endpoint did not answer with text/event-stream",
        ));
    }
    let mut dec = SseDecoder::with_max_event_bytes(opts.max_sse_event_bytes);
    let mut buf = BytesMut::new();
    let endpoint = tokio::time::timeout_at(deadline, async {
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(ev)) if ev.event_type() == "endpoint" => {
                    return String::from_utf8(ev.data().to_vec())
                        .map_err(|_| Error::protocol("endpoint is not UTF-8"));
                }
                Ok(Some(_)) | Err(_) => continue,
                Ok(None) => {}
            }
            match body.chunk().await? {
                Some(c) => buf.extend_from_slice(&c),
                None => {
                    return Err(Error::protocol(
                        "SSE stream ended before the endpoint event",
                    ));
                }
            }
        }
    })
    .await
    .map_err(|_| Error::Timeout(Phase::Discovery))??;
    let post_url = resolve(&base.url, endpoint.trim())?;
    let post_origin = Origin::of(&post_url)?;
    if post_origin != origin {
        // The spec's endpoint is on the same server; a different origin would leak requests.
        return Err(Error::protocol("legacy endpoint is on another origin"));
    }
    let chan = Channel::new(
        Outbound::Legacy {
            http,
            origin,
            post_url,
        },
        opts.clone(),
    );
    let weak = Arc::downgrade(&chan);
    let handler = opts.handler.clone();
    let task = tokio::spawn(legacy_reader(weak, handler, body, dec, buf));
    chan.set_reader(task);
    Ok(chan)
}

/// Resolves the `endpoint` data against the SSE URL.
fn resolve(base: &Uri, endpoint: &str) -> Result<Uri, Error> {
    let bad = |e: http::Error| Error::protocol(format!("bad endpoint {endpoint:?}: {e}"));
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        return endpoint.parse::<Uri>().map_err(|e| bad(e.into()));
    }
    let path = if endpoint.starts_with('/') {
        endpoint.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{endpoint}")
    };
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(
        path.parse()
            .map_err(|e: http::uri::InvalidUri| bad(e.into()))?,
    );
    Uri::from_parts(parts).map_err(|e| bad(e.into()))
}

async fn legacy_reader(
    chan: Weak<Channel>,
    handler: Arc<dyn crate::ClientHandler>,
    mut body: ResponseBody,
    mut dec: SseDecoder,
    mut buf: BytesMut,
) {
    let opts = DecodeOptions::new();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(ev)) => {
                if ev.data().is_empty() || ev.event_type() != "message" {
                    continue;
                }
                let Some(c) = chan.upgrade() else { return };
                match mcpx_wire::decode(ev.into_data(), &opts) {
                    Ok(msg) => c.route(&handler, msg).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable message on the legacy SSE stream")
                    }
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "legacy SSE event skipped");
                continue;
            }
        }
        match body.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    if let Some(c) = chan.upgrade() {
        c.shut();
    }
}

/// Spawns the stdio child and its reader.
pub(crate) fn spawn_stdio(
    client: &Client,
    mut command: tokio::process::Command,
) -> Result<Arc<Channel>, Error> {
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(Error::Io)?;
    let stdin = child.stdin.take().ok_or(Error::Closed)?;
    let stdout = child.stdout.take().ok_or(Error::Closed)?;
    let chan = Channel::new(
        Outbound::Stdio {
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            child: tokio::sync::Mutex::new(Some(child)),
        },
        client.opts.clone(),
    );
    let task = tokio::spawn(stdio_reader(
        Arc::downgrade(&chan),
        client.opts.handler.clone(),
        stdout,
        client.opts.max_response_body_bytes,
    ));
    chan.set_reader(task);
    Ok(chan)
}

async fn stdio_reader(
    chan: Weak<Channel>,
    handler: Arc<dyn crate::ClientHandler>,
    mut stdout: ChildStdout,
    max_line: usize,
) {
    let mut framer = LineFramer::with_max_line_bytes(max_line);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let opts = DecodeOptions::new();
    let mut eof = false;
    loop {
        let line = if eof {
            framer.decode_eof(&mut buf)
        } else {
            framer.decode(&mut buf)
        };
        match line {
            Ok(Some(line)) => {
                let Some(c) = chan.upgrade() else { return };
                match mcpx_wire::decode(line, &opts) {
                    Ok(msg) => c.route(&handler, msg).await,
                    Err(e) => tracing::warn!(error = %e, "undecodable line from the stdio server"),
                }
                continue;
            }
            Ok(None) if eof => break,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "stdio line skipped");
                continue;
            }
        }
        buf.reserve(8 * 1024);
        match stdout.read_buf(&mut buf).await {
            Ok(0) | Err(_) => eof = true,
            Ok(_) => {}
        }
    }
    if let Some(c) = chan.upgrade() {
        c.shut();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_resolution() {
        let base: Uri = "http://127.0.0.1:9/sse".parse().unwrap();
        assert_eq!(
            resolve(&base, "/messages?sessionId=1").unwrap().to_string(),
            "http://127.0.0.1:9/messages?sessionId=1"
        );
        assert_eq!(
            resolve(&base, "messages/?session_id=a")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9/messages/?session_id=a"
        );
        let base: Uri = "http://127.0.0.1:9/a/sse".parse().unwrap();
        assert_eq!(
            resolve(&base, "m").unwrap().to_string(),
            "http://127.0.0.1:9/a/m"
        );
    }
}
