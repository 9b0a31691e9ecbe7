#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! `/metrics`: Prometheus text format with sessions, streams, requests by method and status,
//! latency histograms, rejections by reason and the replay-log gauge, each moving with the
//! traffic that produced it; the path can be moved or switched off. Loopback only, bounded.

mod hardening_support;

use hardening_support::{BOUND, Conn, Gate, call, get, handlers, metric, start};
use http::StatusCode;
use mcpx_server::Server;

#[tokio::test]
async fn counts_follow_the_traffic() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        gate.open();
        let mut running = start(Server::builder().handlers(handlers(&gate))).await;
        let conn = Conn::tcp_h2(running.addr).await;

        let r = conn.send(get("/metrics", None)).await.unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = r.text();
        for name in [
            "# TYPE mcpx_sessions gauge",
            "# TYPE mcpx_streams gauge",
            "# TYPE mcpx_requests_total counter",
            "# TYPE mcpx_request_duration_seconds histogram",
            "# TYPE mcpx_rejections_total counter",
            "# TYPE mcpx_replay_log_bytes gauge",
            "mcpx_sessions 0",
        ] {
            assert!(text.contains(name), "{name} missing:\n{text}");
        }

        let sid = conn.initialize().await;
        for i in 0..3 {
            let r = conn.post(&call(i, "echo", "x"), Some(&sid)).await.unwrap();
            assert_eq!(r.status, StatusCode::OK);
        }
        // An unknown session: 404, counted as a protocol rejection.
        let r = conn
            .post(&call(9, "echo", "x"), Some("nope"))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let stream = conn.send_head(get("/mcp", Some(&sid))).await.unwrap();
        assert_eq!(stream.status(), StatusCode::OK);

        let m = |s: &'static str| {
            let conn = conn.clone();
            async move { metric(&conn, s).await }
        };
        assert_eq!(m("mcpx_sessions").await, Some(1.0));
        assert_eq!(m("mcpx_streams").await, Some(1.0));
        assert_eq!(
            m("mcpx_requests_total{method=\"tools/call\",status=\"200\"}").await,
            Some(3.0)
        );
        assert_eq!(
            m("mcpx_requests_total{method=\"initialize\",status=\"200\"}").await,
            Some(1.0)
        );
        assert_eq!(
            m("mcpx_requests_total{method=\"notification\",status=\"202\"}").await,
            Some(1.0)
        );
        assert_eq!(
            m("mcpx_requests_total{method=\"refused\",status=\"404\"}").await,
            Some(1.0)
        );
        assert_eq!(
            m("mcpx_rejections_total{reason=\"protocol\"}").await,
            Some(1.0)
        );
        assert_eq!(
            m("mcpx_request_duration_seconds_count{method=\"tools/call\"}").await,
            Some(3.0)
        );
        assert_eq!(
            m("mcpx_request_duration_seconds_bucket{method=\"tools/call\",le=\"+Inf\"}").await,
            Some(3.0)
        );
        assert_eq!(m("mcpx_connections").await, Some(1.0));
        drop(stream);
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn path_can_move_or_be_off() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut moved = start(
            Server::builder()
                .handlers(handlers(&gate))
                .metrics_path(Some("/internal/metrics")),
        )
        .await;
        let conn = Conn::tcp_h1(moved.addr).await;
        let r = conn.send(get("/internal/metrics", None)).await.unwrap();
        assert!(r.text().contains("mcpx_sessions 0"));
        let r = conn.send(get("/metrics", None)).await.unwrap();
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        moved.shutdown();
        moved.task.await.unwrap().unwrap();

        let mut off = start(
            Server::builder()
                .handlers(handlers(&gate))
                .metrics_path(None),
        )
        .await;
        let conn = Conn::tcp_h1(off.addr).await;
        let r = conn.send(get("/metrics", None)).await.unwrap();
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        off.shutdown();
        off.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}
