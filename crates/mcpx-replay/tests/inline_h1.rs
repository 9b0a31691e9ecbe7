//! The recorder's inline HTTP/1.1 path on the wire, between raw clients and a scripted raw
//! upstream: what reaches the upstream (origin form, its own Host, no hop-by-hop headers, a
//! chunked request body de-chunked with its length, `Expect` answered by the proxy), what
//! reaches the client (chunked and close-delimited bodies re-chunked and streamed piece by
//! piece, pipelined requests answered in order, HTTP/1.0 clients closed after their answer),
//! an upstream that closes between requests, and a client that leaves mid-stream ending its
//! exchange in the trace.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use mcpx_replay::{RecordOptions, TraceFileOptions};
use mcpx_trace::{Dir, Kind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Every test ends within this.
const BOUND: Duration = Duration::from_secs(30);

/// What the upstream saw of one request: its head (lowercased) and body.
#[derive(Debug)]
struct Seen {
    head: String,
    body: Vec<u8>,
}

/// Reads one request (head + Content-Length body) from `io`; `None` at EOF.
async fn read_request(io: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                let n = io.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Some(Seen { head, body });
        }
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A scripted upstream: answers by path, reports every request it saw. `/sse` sends one event,
/// then waits for `release` before the next (so a test can check the first arrived alone).
async fn upstream(
    seen: mpsc::UnboundedSender<Seen>,
    release: mpsc::UnboundedReceiver<()>,
) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let release = std::sync::Arc::new(tokio::sync::Mutex::new(release));
    tokio::spawn(async move {
        loop {
            let (mut io, _) = l.accept().await.unwrap();
            let seen = seen.clone();
            let release = release.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(req) = read_request(&mut io, &mut buf).await {
                    let path = req.head.split(' ').nth(1).unwrap_or_default().to_owned();
                    let _ = seen.send(req);
                    match path.as_str() {
                        "/sse" => {
                            io.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                            .await
                            .unwrap();
                            io.write_all(b"f\r\ndata: first\n\n\r\n\r\n").await.unwrap();
                            if release.lock().await.recv().await.is_none() {
                                break;
                            }
                            // The client may be gone by now: errors are expected.
                            let _ = io.write_all(b"10\r\ndata: second\n\n\r\n0\r\n\r\n").await;
                        }
                        "/close" => {
                            // No length: the body ends when the connection does.
                            io.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil close")
                            .await
                            .unwrap();
                            break;
                        }
                        _ => {
                            io.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nkeep-alive: timeout=5\r\ncontent-length: 2\r\n\r\n{}")
                            .await
                            .unwrap();
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/mcp")
}

/// Reads from `io` until `want` has been seen (or EOF), returns everything read.
async fn read_until(io: &mut TcpStream, want: &str) -> String {
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains(want) {
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_http1_path_on_the_wire() {
    tokio::time::timeout(BOUND, async {
        let (seen_tx, mut seen) = mpsc::unbounded_channel();
        let (release, release_rx) = mpsc::unbounded_channel();
        let up = upstream(seen_tx, release_rx).await;
        let up_authority = up.trim_start_matches("http://").trim_end_matches("/mcp").to_owned();
        let dir = std::env::temp_dir().join(format!("mcpx-inline-h1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("t.jsonl");
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = l.local_addr().unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let rec = tokio::spawn(mcpx_replay::record(
            RecordOptions::new(up.clone(), TraceFileOptions::new(&out)),
            l,
            async move {
                let _ = stop_rx.await;
            },
        ));

        // A chunked request body with Expect: 100-continue and a hop-by-hop header.
        let mut c = TcpStream::connect(proxy).await.unwrap();
        c.write_all(b"POST http://ignored.example/mcp?x=1 HTTP/1.1\r\nHost: proxy\r\nExpect: 100-continue\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nMcp-Session-Id: s1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        assert!(read_until(&mut c, "\r\n\r\n").await.starts_with("HTTP/1.1 100 Continue\r\n"));
        c.write_all(b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n").await.unwrap();
        let answer = read_until(&mut c, "{}").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("content-length: 2\r\n"), "{answer}");
        assert!(!answer.contains("keep-alive"), "hop-by-hop header forwarded: {answer}");
        let req = seen.recv().await.unwrap();
        assert!(req.head.starts_with("post /mcp?x=1 http/1.1\r\n"), "{}", req.head);
        assert!(req.head.contains(&format!("host: {up_authority}\r\n")), "{}", req.head);
        assert!(req.head.contains("mcp-session-id: s1\r\n"), "{}", req.head);
        assert!(req.head.contains("content-length: 5\r\n"), "{}", req.head);
        for gone in ["x-hop", "expect", "transfer-encoding", "connection", "host: proxy"] {
            assert!(!req.head.contains(gone), "{gone} forwarded: {}", req.head);
        }
        assert_eq!(req.body, b"hello");

        // Two pipelined requests in one write: both answered, in order, on the same connection.
        c.write_all(b"POST /mcp HTTP/1.1\r\nContent-Length: 1\r\n\r\naPOST /mcp HTTP/1.1\r\nContent-Length: 1\r\n\r\nb")
            .await
            .unwrap();
        let two = read_until(&mut c, "{}HTTP/1.1 200 OK").await;
        let two = if two.matches("{}").count() < 2 {
            two + &read_until(&mut c, "{}").await
        } else {
            two
        };
        assert_eq!(two.matches("HTTP/1.1 200 OK").count(), 2, "{two}");
        assert_eq!(seen.recv().await.unwrap().body, b"a");
        assert_eq!(seen.recv().await.unwrap().body, b"b");

        // A close-delimited answer reaches an HTTP/1.1 client chunked; the upstream's closing
        // does not close the client's connection, whose next request opens a new upstream one.
        c.write_all(b"GET /close HTTP/1.1\r\n\r\n").await.unwrap();
        let chunked = read_until(&mut c, "0\r\n\r\n").await;
        assert!(chunked.contains("transfer-encoding: chunked\r\n"), "{chunked}");
        assert!(chunked.contains("until close"), "{chunked}");
        let _ = seen.recv().await.unwrap();
        c.write_all(b"DELETE /mcp HTTP/1.1\r\n\r\n").await.unwrap();
        assert!(read_until(&mut c, "{}").await.starts_with("HTTP/1.1 200 OK\r\n"));
        let del = seen.recv().await.unwrap();
        assert!(!del.head.contains("content-length"), "a bodiless request stays bodiless: {}", del.head);

        // HTTP/1.0: the same answer, no chunked coding, and the connection closes after it.
        let mut old = TcpStream::connect(proxy).await.unwrap();
        old.write_all(b"GET /close HTTP/1.0\r\n\r\n").await.unwrap();
        let mut all = String::new();
        old.read_to_string(&mut all).await.unwrap();
        assert!(all.ends_with("\r\n\r\nuntil close"), "{all}");
        assert!(all.contains("connection: close\r\n") && !all.contains("chunked"), "{all}");
        let _ = seen.recv().await.unwrap();

        // SSE: the first event arrives while the upstream holds the second; then the client
        // leaves, and the trace ends the exchange on the client's side.
        c.write_all(b"POST /sse HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}").await.unwrap();
        let first = read_until(&mut c, "data: first\n\n").await;
        assert!(first.contains("content-type: text/event-stream\r\n"), "{first}");
        assert!(!first.contains("second"), "{first}");
        let _ = seen.recv().await.unwrap();
        drop(c);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = release.send(());

        // Garbage gets a 400 that the client can read.
        let mut bad = TcpStream::connect(proxy).await.unwrap();
        bad.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
        let mut all = String::new();
        bad.read_to_string(&mut all).await.unwrap();
        assert!(all.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{all}");
        drop(bad);

        let _ = stop_tx.send(());
        let summary = rec.await.unwrap().unwrap();
        assert_eq!(summary.exchanges, 7, "{summary:?}");
        assert_eq!(summary.upstream_errors, 0, "{summary:?}");
        let f = std::fs::File::open(&out).unwrap();
        let events = mcpx_trace::Reader::new(std::io::BufReader::new(f))
            .unwrap()
            .read_all()
            .unwrap();
        // Garbage never became an exchange; the seven others are each a request in the trace.
        assert_eq!(events.iter().filter(|e| e.k == Kind::Req).count(), 7);
        // The SSE exchange: its head, the one event that was sent, then an end by the client.
        let sse = events
            .iter()
            .find(|e| e.k == Kind::Head)
            .and_then(|e| e.x)
            .expect("an SSE head in the trace");
        let of = |k: Kind| events.iter().filter(|e| e.x == Some(sse) && e.k == k).count();
        assert_eq!(of(Kind::Sse), 1, "{events:#?}");
        let end = events
            .iter()
            .find(|e| e.x == Some(sse) && matches!(e.k, Kind::End | Kind::Err))
            .expect("the SSE exchange ended in the trace");
        assert_eq!((end.k, end.d), (Kind::End, Dir::C2s), "{end:?}");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}
