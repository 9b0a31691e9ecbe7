//! A complete small MCP server: two tools (one with progress), a resource and a prompt, over
//! Streamable HTTP on 127.0.0.1:8090/mcp, both protocol eras. Run it with
//! `cargo run --example server`, then point the MCP Inspector or an SDK client at it.

use mcpx::server::{Content, HandlerError, Handlers, RequestContext, Server, ToolDef, ToolResult};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Add {
    a: f64,
    b: f64,
}

#[derive(Deserialize)]
struct Count {
    to: u32,
}

fn handlers() -> Handlers {
    let mut h = Handlers::new();
    h.tool(
        ToolDef::new("add")
            .description("Adds two numbers")
            .input_schema(json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            })),
        |_ctx, Add { a, b }| async move { Ok(ToolResult::text((a + b).to_string())) },
    );
    h.tool(
        ToolDef::new("count").description("Counts to `to`, reporting progress").input_schema(json!({
            "type": "object", "properties": {"to": {"type": "integer", "minimum": 1, "maximum": 100}}
        })),
        |ctx: RequestContext, Count { to }| async move {
            for i in 1..=to {
                ctx.progress(f64::from(i), Some(f64::from(to)), None).await;
            }
            Ok(ToolResult::text(format!("counted to {to}")))
        },
    );
    h.resource(
        json!({"uri": "memo://readme", "name": "readme", "mimeType": "text/plain"}),
        |_ctx, uri: String| async move {
            Ok(json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": "Hello from mcpx."}]}))
        },
    );
    h.prompt(
        json!({"name": "greet", "description": "Greets someone",
               "arguments": [{"name": "who", "required": true}]}),
        |_ctx, args: Value| async move {
            let who = args.get("who").and_then(Value::as_str).ok_or_else(|| HandlerError::invalid_params("`who` is required"))?;
            Ok(json!({"messages": [{"role": "user", "content": Content::text(format!("Say hello to {who}."))}]}))
        },
    );
    h
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::builder()
        .handlers(handlers())
        .build()
        .map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
    println!("serving http://127.0.0.1:8090/mcp (Ctrl-C stops)");
    server
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
