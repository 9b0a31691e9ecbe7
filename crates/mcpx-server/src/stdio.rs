//! The stdio transport: newline-delimited JSON-RPC on a reader and a writer
//! ([`Server::serve_io`], [`Server::serve_stdio`]), one session per connection, through the
//! same session table and handlers as Streamable HTTP (`crate::channel`).
//!
//! Both eras: an `initialize` makes the connection one session-era session (MCP-DIGEST 2.4:
//! scoped to the process); without one, requests carrying the 2026-07-28 `_meta` are served
//! statelessly, and `notifications/cancelled` cancels them (stdio's only way, MCP-DIGEST 7).
//!
//! Framing is `mcpx_wire::stdio`: one message per line, blank lines skipped, a line over the
//! body limit ([`ServerBuilder::max_body_bytes`](crate::ServerBuilder::max_body_bytes))
//! answered with -32600 and skipped (framing resumes after its newline). Nothing but messages
//! is written to the writer: logs go through `tracing`, which the `mcpx` binary sends to
//! stderr.
//!
//! # Bounds
//!
//! - line length: the body limit;
//! - queued output: the per-stream queue bound
//!   (`mcpx_proto::Config::max_queued_events_per_stream`); a full queue makes handlers wait,
//!   and the reader with them (backpressure to the client, no unbounded buffer);
//! - requests in flight: [`limits::DEFAULT_MAX_CHANNEL_IN_FLIGHT`](crate::limits::DEFAULT_MAX_CHANNEL_IN_FLIGHT).
//!
//! # Cancel safety
//!
//! At the end of input, requests in flight get [`limits::STDIO_EOF_DRAIN`] to finish and be
//! written; then the session ends (what still runs is cancelled) and `serve_io` returns after
//! flushing. When `shutdown` resolves first, the session ends at once. Dropping the
//! `serve_io` future ends the session too (a guard closes the channel), losing unwritten
//! output.

use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, header};
use mcpx_wire::stdio::{LineError, LineFramer, encode_line};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::Server;
use crate::channel::Channel;
use crate::limits::{STDIO_EOF_DRAIN, STDIO_READ_CHUNK};

/// Output bytes gathered into one write (and flush) when several messages are queued.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

impl Server {
    /// Serves one client on this process's stdin and stdout until stdin ends (or `shutdown`
    /// resolves): [`serve_io`](Self::serve_io) on them. Log with `tracing` to stderr only:
    /// anything else on stdout corrupts the stream.
    ///
    /// # Errors
    ///
    /// As [`serve_io`](Self::serve_io).
    pub async fn serve_stdio(&self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        self.serve_io(tokio::io::stdin(), tokio::io::stdout(), shutdown)
            .await
    }

    /// Serves one client over newline-delimited JSON-RPC: messages are read from `reader`
    /// and written to `writer`, one per line, until `reader` ends or `shutdown` resolves. The
    /// connection is one session (or, for 2026-07-28 clients, a sequence of stateless
    /// requests), served by the same handlers, limits and response rules as Streamable HTTP;
    /// progress, logs and server-to-client requests are interleaved on `writer`, and the
    /// client's answers and `notifications/cancelled` are read from `reader`. Several
    /// connections may be served at once, each by its own call.
    ///
    /// Returns after the input ended and every request finished (or was cancelled after
    /// [`limits::STDIO_EOF_DRAIN`](crate::limits::STDIO_EOF_DRAIN)) and the output was
    /// flushed.
    ///
    /// # Errors
    ///
    /// A read error, or a write error other than a closed pipe (a client that closed its end
    /// is a normal end).
    pub async fn serve_io<R, W>(
        &self,
        reader: R,
        writer: W,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let (out_tx, out_rx) = mpsc::channel(self.shared.queue_len());
        let channel = Channel::new(self.shared.clone(), out_tx);
        // The session's standalone stream holds the channel alive: end it explicitly, also
        // when this future is dropped before the end.
        let _close = CloseOnDrop(channel.clone());
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let write = write_loop(writer, out_rx, done_rx);
        tokio::pin!(write);
        let read = read_loop(&channel, reader, self.shared.max_body_bytes(), shutdown);
        tokio::pin!(read);
        tokio::select! {
            written = &mut write => {
                // The writer failed (the client closed our output): nobody can be answered.
                channel.close();
                written
            }
            read = &mut read => {
                channel.close();
                let _ = done_tx.send(());
                let written = write.await;
                read.and(written)
            }
        }
    }
}

/// Closes a channel when dropped.
struct CloseOnDrop(Arc<Channel>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Reads and handles lines until the input ends (then waits for the requests in flight, at
/// most [`STDIO_EOF_DRAIN`]) or `shutdown` resolves.
async fn read_loop<R: AsyncRead + Unpin>(
    channel: &Arc<Channel>,
    mut reader: R,
    max_line: usize,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut framer = LineFramer::with_max_line_bytes(max_line);
    let mut buf = BytesMut::with_capacity(STDIO_READ_CHUNK);
    tokio::pin!(shutdown);
    loop {
        while let Some(line) = next_line(channel, &mut framer, &mut buf, false).await {
            handle_line(channel, line).await;
        }
        buf.reserve(STDIO_READ_CHUNK);
        let n = tokio::select! {
            n = reader.read_buf(&mut buf) => n?,
            () = &mut shutdown => return Ok(()),
        };
        if n == 0 {
            break;
        }
    }
    while let Some(line) = next_line(channel, &mut framer, &mut buf, true).await {
        handle_line(channel, line).await;
    }
    tokio::select! {
        () = channel.idle() => {}
        () = tokio::time::sleep(STDIO_EOF_DRAIN) => {
            tracing::debug!("stdin ended; cancelling the requests still running");
        }
        () = &mut shutdown => {}
    }
    Ok(())
}

/// The next complete line, answering oversized ones (-32600) on the way.
async fn next_line(
    channel: &Channel,
    framer: &mut LineFramer,
    buf: &mut BytesMut,
    eof: bool,
) -> Option<Bytes> {
    loop {
        let decoded = if eof {
            framer.decode_eof(buf)
        } else {
            framer.decode(buf)
        };
        match decoded {
            Ok(line) => return line,
            Err(LineError::LineTooLong { limit }) => {
                channel.send_rejection(&channel.too_large(limit)).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "unreadable stdio line");
            }
        }
    }
}

async fn handle_line(channel: &Arc<Channel>, line: Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Err(r) = channel.handle(line, headers).await {
        // No carrier headers on stdio: only a message that cannot be read lands here.
        channel.send_rejection(&r).await;
    }
}

/// Writes queued messages as lines, several per write when they queue up, flushing after each
/// write. Ends when every sender is gone or `done` fires (after writing what is queued).
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<Bytes>,
    mut done: oneshot::Receiver<()>,
) -> io::Result<()> {
    let mut buf = BytesMut::new();
    let mut finishing = false;
    loop {
        let first = if finishing {
            rx.try_recv().ok()
        } else {
            tokio::select! {
                biased;
                m = rx.recv() => m,
                _ = &mut done => {
                    finishing = true;
                    rx.try_recv().ok()
                }
            }
        };
        let Some(first) = first else {
            return finish(&mut writer).await;
        };
        push_line(&mut buf, &first);
        while buf.len() < WRITE_BATCH_BYTES {
            match rx.try_recv() {
                Ok(m) => push_line(&mut buf, &m),
                Err(_) => break,
            }
        }
        if let Err(e) = write_all(&mut writer, &buf).await {
            return closed_is_ok(e);
        }
        buf.clear();
    }
}

async fn write_all<W: AsyncWrite + Unpin>(writer: &mut W, buf: &[u8]) -> io::Result<()> {
    writer.write_all(buf).await?;
    writer.flush().await
}

async fn finish<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    match writer.flush().await {
        Ok(()) => Ok(()),
        Err(e) => closed_is_ok(e),
    }
}

/// A client that closed its end of our output is gone, not failed.
fn closed_is_ok(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

/// Appends one message as a line. A message with a raw line break (pretty-printed JSON from a
/// low-level [`Service`](crate::Service)) has it replaced by a space: in valid JSON a raw
/// line break can only be whitespace between tokens (strings escape theirs), so the message
/// means the same.
fn push_line(buf: &mut BytesMut, message: &[u8]) {
    if encode_line(buf, message).is_err() {
        let flat: Vec<u8> = message
            .iter()
            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
            .collect();
        let _ = encode_line(buf, &flat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_in_a_message_become_spaces() {
        let mut buf = BytesMut::new();
        push_line(&mut buf, b"{\"a\":\r\n 1}");
        push_line(&mut buf, b"{\"b\":2}");
        assert_eq!(&buf[..], b"{\"a\":   1}\n{\"b\":2}\n");
    }
}
