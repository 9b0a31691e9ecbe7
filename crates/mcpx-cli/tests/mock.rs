//! `mcpx serve --mock`: the Claude-like target and the null target, driven by mcpx-client over
//! loopback, in both eras (the dual-era target is discovered as stateless; the legacy target
//! makes the client fall back to `initialize`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use mcpx_cli::mock::{MockKind, MockOptions, mock_builder};
use mcpx_client::{Client, ClientOptions, Error};
use serde_json::json;
use tokio::net::TcpListener;

const BOUND: Duration = Duration::from_secs(20);

async fn start(opts: MockOptions) -> String {
    let server = mock_builder(None, &opts).unwrap().build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(server.serve(listener, std::future::pending()));
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_mock_in_both_eras() {
    tokio::time::timeout(BOUND, async {
        for modern in [true, false] {
            let url = start(MockOptions {
                kind: MockKind::Claude,
                modern,
                // Latencies of ms..minutes become us..ms.
                time_scale: 0.001,
                seed: 7,
            })
            .await;
            let session = Client::connect(&url, ClientOptions::new()).await.unwrap();
            assert_eq!(session.is_stateless(), modern, "modern={modern}");
            let tools = session.list_tools().await.unwrap();
            assert_eq!(tools.len(), 12);
            assert_eq!(tools[0].name, "search_notes");
            let (mut ok, mut is_error, mut rpc_errors, mut bytes) = (0, 0, 0, 0usize);
            for i in 0..60 {
                let name = &tools[i % tools.len()].name;
                match session.call_tool(name, &json!({"query": "x"})).await {
                    Ok(out) if out.is_error => is_error += 1,
                    Ok(out) => {
                        ok += 1;
                        bytes += out.text.len();
                    }
                    Err(Error::JsonRpc { code, .. }) => {
                        assert_eq!(code.code(), -32603);
                        rpc_errors += 1;
                    }
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            assert!(ok > 45, "ok={ok} isError={is_error} -32603={rpc_errors}");
            // Results follow LN(1.5 KB, 1.6): a mean well above 40 bytes.
            assert!(bytes / ok > 200, "mean result {} bytes", bytes / ok);
            let unknown = session.call_tool("no_such_tool", &json!({})).await;
            assert!(matches!(unknown, Err(Error::JsonRpc { .. })), "{unknown:?}");
            assert_eq!(session.list_prompts().await.unwrap().len(), 2);
            let resources = session.list_resources().await.unwrap();
            assert_eq!(resources.len(), 3);
            let first = resources[0].member("uri").unwrap();
            let uri = first.as_string().unwrap();
            assert!(session.read_resource(&uri).await.is_ok());
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn null_mock_answers_at_once() {
    tokio::time::timeout(BOUND, async {
        let url = start(MockOptions {
            kind: MockKind::Null,
            ..MockOptions::default()
        })
        .await;
        let session = Client::connect(&url, ClientOptions::new()).await.unwrap();
        let started = std::time::Instant::now();
        for _ in 0..50 {
            // `build_report` is a `long` tool (25 s median) in the claude mock.
            let out = session.call_tool("build_report", &json!({})).await.unwrap();
            assert!(!out.is_error);
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    })
    .await
    .unwrap();
}
