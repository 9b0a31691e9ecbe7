//! The client the official MCP conformance suite drives (`conformance client --command ...`):
//! it connects to the URL in its last argument with era discovery, lists the tools and calls
//! each (with the scenario context's `toolCalls` when `MCP_CONFORMANCE_CONTEXT` has them, else
//! with arguments made from each tool's input schema), reads every resource, gets every prompt,
//! and closes. Elicitation is answered with the schema's defaults, sampling with a fixed
//! message, roots with an empty list.
//!
//! Usage: `MCP_CONFORMANCE_SCENARIO=<name> conformance_client <server-url>`; exits non-zero with
//! the error on failure.

use std::sync::Arc;
use std::time::Duration;

use mcpx_client::{Client, ClientHandler, ClientOptions, HandlerFuture, Session};
use mcpx_wire::RawJson;
use serde_json::{Map, Value, json};

struct Answers;

fn raw(v: &Value) -> Result<RawJson, mcpx_client::HandlerError> {
    RawJson::from_serialize(v).map_err(|e| {
        mcpx_client::HandlerError::new(mcpx_wire::ErrorCode::INTERNAL_ERROR, e.to_string())
    })
}

impl ClientHandler for Answers {
    fn elicit(&self, params: Option<RawJson>) -> HandlerFuture {
        let params: Value = params
            .and_then(|p| p.deserialize().ok())
            .unwrap_or(Value::Null);
        Box::pin(async move {
            // Accept, filling every field that has a default (SEP-1034).
            let mut content = Map::new();
            if let Some(props) = params["requestedSchema"]["properties"].as_object() {
                for (k, schema) in props {
                    if let Some(d) = schema.get("default") {
                        content.insert(k.clone(), d.clone());
                    }
                }
            }
            raw(&json!({"action": "accept", "content": content}))
        })
    }

    fn create_message(&self, _params: Option<RawJson>) -> HandlerFuture {
        Box::pin(async {
            raw(
                &json!({"role": "assistant", "content": {"type": "text", "text": "ok"},
                "model": "mcpx-conformance", "stopReason": "endTurn"}),
            )
        })
    }

    fn list_roots(&self, _params: Option<RawJson>) -> HandlerFuture {
        Box::pin(async { raw(&json!({"roots": []})) })
    }
}

/// Minimal arguments satisfying a tool's `inputSchema` (required properties only).
fn arguments_for(schema: &Value) -> Value {
    let mut args = Map::new();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for name in required {
        let prop = &schema["properties"][name];
        let v = match prop["type"].as_str() {
            Some("number" | "integer") => json!(1),
            Some("boolean") => json!(true),
            Some("object") => json!({}),
            Some("array") => json!([]),
            _ => prop["enum"].get(0).cloned().unwrap_or(json!("test")),
        };
        args.insert(name.to_owned(), v);
    }
    Value::Object(args)
}

async fn run(url: &str) -> Result<(), mcpx_client::Error> {
    let mut opts = ClientOptions::new();
    opts.client_info("mcpx-conformance-client", "0.1.0")
        .handler(Arc::new(Answers))
        .background_stream(true)
        .request_timeout(Duration::from_secs(20));
    opts.capabilities(
        RawJson::from_serialize(&json!({"elicitation": {}, "sampling": {}, "roots": {}}))
            .map_err(|e| mcpx_client::Error::InvalidArgument(e.to_string()))?,
    )?;
    let session = Client::connect(url, opts).await?;
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let tools = session.list_tools().await?;
    if let Some(calls) = context["toolCalls"].as_array() {
        for call in calls {
            let name = call["name"].as_str().unwrap_or_default();
            report(name, session.call_tool(name, &call["arguments"]).await);
        }
    } else if let Some(echo) = tools
        .iter()
        .find(|t| t.input_schema.as_str().contains("\"schema\""))
    {
        // Schema preservation: hand another tool's input schema back, byte for byte.
        for other in tools.iter().filter(|t| t.name != echo.name) {
            let mut args = b"{\"schema\":".to_vec();
            args.extend_from_slice(other.input_schema.as_bytes());
            args.push(b'}');
            let args = RawJson::from_bytes(args.into()).map_err(mcpx_client::Error::Decode)?;
            report(
                &echo.name,
                session.call_tool_raw(&echo.name, Some(args)).await,
            );
        }
    } else {
        for tool in &tools {
            let schema: Value = tool.input_schema.deserialize().unwrap_or(Value::Null);
            report(
                &tool.name,
                session.call_tool(&tool.name, &arguments_for(&schema)).await,
            );
        }
    }
    optional_features(&session).await;
    session.close().await
}

/// Resources and prompts, when the server has them (errors are reported, not fatal).
async fn optional_features(session: &Session) {
    if let Ok(resources) = session.list_resources().await {
        for r in resources {
            let v: Value = r.deserialize().unwrap_or(Value::Null);
            if let Some(uri) = v["uri"].as_str() {
                let _ = session.read_resource(uri).await;
            }
        }
    }
    if let Ok(prompts) = session.list_prompts().await {
        for p in prompts {
            let v: Value = p.deserialize().unwrap_or(Value::Null);
            let Some(name) = v["name"].as_str() else {
                continue;
            };
            let mut args = Map::new();
            for a in v["arguments"].as_array().into_iter().flatten() {
                if let Some(n) = a["name"].as_str() {
                    args.insert(n.to_owned(), json!("test"));
                }
            }
            let args = RawJson::from_serialize(&Value::Object(args)).ok();
            let _ = session.get_prompt(name, args).await;
        }
    }
}

fn report(name: &str, r: Result<mcpx_client::ToolOutput, mcpx_client::Error>) {
    match r {
        Ok(out) => eprintln!("tool {name}: isError={} {}", out.is_error, out.text),
        Err(e) => eprintln!("tool {name}: {e}"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: MCP_CONFORMANCE_SCENARIO=<name> conformance_client <server-url>");
        std::process::exit(2);
    };
    if let Err(e) = run(&url).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
