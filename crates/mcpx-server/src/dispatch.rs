//! Runs one dispatched request: the MCP methods the handlers serve (tools, resources, prompts,
//! completion, logging), with cursor pagination for the lists.

use std::sync::Arc;

use mcpx_wire::{Message, RawJson};
use serde_json::{Value, json};

use crate::context::RequestContext;
use crate::handler::HandlerError;
use crate::limits::{DEFAULT_LIST_TTL_MS, DEFAULT_PAGE_SIZE};
use crate::mrtr::{BadRound, Round};

/// The only methods that may answer `input_required` (MCP-DIGEST 8.4).
const MRTR_METHODS: &[&str] = &["tools/call", "prompts/get", "resources/read"];
use crate::service::respond;

/// Runs the request to its answer (sent on the request's stream).
pub(crate) async fn run_request(mut ctx: RequestContext, message: Message) {
    if let Some(service) = ctx.handlers.service.clone() {
        match service.call(ctx.clone(), message).await {
            Ok(raw) => crate::service::respond_raw(&ctx, &raw).await,
            Err(e) => respond(&ctx, Err(e)).await,
        }
        return;
    }
    let method = message.method().unwrap_or_default();
    let stateless_round = ctx.version.rules().result_type && MRTR_METHODS.contains(&method);
    // The session era's tools/call (the hot path) reads its params once, borrowed, in
    // `call_tool`; everything else works on a parsed copy.
    let params: Value = if method == "tools/call" && !stateless_round {
        Value::Null
    } else {
        message
            .params_as::<Value>()
            .and_then(Result::ok)
            .unwrap_or_else(|| json!({}))
    };
    // The session era's tools/call, the hot path: the tool's result is serialized straight into
    // the response, without a `serde_json::Value` in between (nothing is added to it here).
    if method == "tools/call" && !stateless_round {
        let raw = message.params();
        match run_tool(&ctx, raw).await {
            Ok(result) => crate::service::respond_typed(&ctx, &result).await,
            Err(e) => respond(&ctx, Err(e)).await,
        }
        return;
    }
    // 2026-07-28: the methods that may answer `input_required` run as rounds (MCP-DIGEST 8.4).
    if stateless_round {
        match Round::from_params(&ctx.shared.state_key, method, &params) {
            Ok(round) => ctx.round = Some(Arc::new(round)),
            Err(BadRound(why)) => {
                respond(&ctx, Err(HandlerError::invalid_params(why))).await;
                return;
            }
        }
    }
    let answer = match method {
        "tools/list" => list(
            &ctx,
            &params,
            "tools",
            ctx.handlers
                .tool_order
                .iter()
                .filter_map(|n| ctx.handlers.tools.get(n).map(|t| t.definition.clone())),
        ),
        "tools/call" => call_tool(&ctx, message.params()).await,
        "resources/list" => list(
            &ctx,
            &params,
            "resources",
            ctx.handlers
                .resources
                .iter()
                .filter(|r| r.template.is_none())
                .map(|r| r.definition.clone()),
        ),
        "resources/templates/list" => list(
            &ctx,
            &params,
            "resourceTemplates",
            ctx.handlers
                .resources
                .iter()
                .filter(|r| r.template.is_some())
                .map(|r| r.definition.clone()),
        ),
        "resources/read" => read_resource(&ctx, &params).await,
        "resources/subscribe" | "resources/unsubscribe" => {
            match params.get("uri").and_then(Value::as_str) {
                Some(uri) => subscribe(&ctx, method == "resources/subscribe", uri),
                None => Err(HandlerError::invalid_params("`uri` is required")),
            }
        }
        "prompts/list" => list(
            &ctx,
            &params,
            "prompts",
            ctx.handlers
                .prompt_order
                .iter()
                .filter_map(|n| ctx.handlers.prompts.get(n).map(|p| p.definition.clone())),
        ),
        "prompts/get" => get_prompt(&ctx, &params).await,
        "completion/complete" => match &ctx.handlers.completion {
            Some(h) => h(ctx.clone(), params).await,
            None => Ok(json!({"completion": {"values": [], "hasMore": false}})),
        },
        "subscriptions/listen" => {
            listen(&ctx, &params).await;
            return;
        }
        "logging/setLevel" => {
            let level = params
                .get("level")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if ctx.shared.set_log_level(ctx.session.as_ref(), level) {
                Ok(json!({}))
            } else {
                Err(HandlerError::invalid_params(format!(
                    "unknown log level {level:?}"
                )))
            }
        }
        other => Err(HandlerError {
            code: mcpx_wire::ErrorCode::METHOD_NOT_FOUND,
            message: format!("method not found: {other}"),
            data: None,
        }),
    };
    // Questions asked this round win over whatever the handler returned after asking.
    let answer = match ctx
        .round
        .as_ref()
        .and_then(|r| r.input_required(&ctx.shared.state_key))
    {
        Some(input_required) => Ok(input_required),
        None => answer.map(|v| with_cache_hints(&ctx, method, v)),
    };
    respond(&ctx, answer).await;
}

/// 2026-07-28: list results and `resources/read` carry `ttlMs` and `cacheScope` (MCP-DIGEST
/// 7.6). The lists come from the server's registry, the same for every user: `public`, fresh for
/// [`DEFAULT_LIST_TTL_MS`]. A read may be user-specific: `private`, `ttlMs: 0`. A handler that
/// sets its own hints keeps them.
fn with_cache_hints(ctx: &RequestContext, method: &str, mut value: Value) -> Value {
    if !ctx.version.rules().cache_hints {
        return value;
    }
    let (ttl, scope) = match method {
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            (DEFAULT_LIST_TTL_MS, "public")
        }
        "resources/read" => (0, "private"),
        _ => return value,
    };
    if let Some(obj) = value.as_object_mut() {
        obj.entry("ttlMs").or_insert_with(|| Value::from(ttl));
        obj.entry("cacheScope")
            .or_insert_with(|| Value::from(scope));
    }
    value
}

/// One page of a list, with an opaque cursor (the offset) for the next.
fn list(
    _ctx: &RequestContext,
    params: &Value,
    key: &str,
    items: impl Iterator<Item = Value>,
) -> Result<Value, HandlerError> {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .parse::<usize>()
            .map_err(|_| HandlerError::invalid_params("invalid cursor"))?,
        Some(_) => return Err(HandlerError::invalid_params("invalid cursor")),
    };
    let mut page: Vec<Value> = items.skip(start).take(DEFAULT_PAGE_SIZE + 1).collect();
    let more = page.len() > DEFAULT_PAGE_SIZE;
    page.truncate(DEFAULT_PAGE_SIZE);
    let mut result = serde_json::Map::new();
    result.insert(key.into(), Value::Array(page));
    if more {
        result.insert(
            "nextCursor".into(),
            Value::from((start + DEFAULT_PAGE_SIZE).to_string()),
        );
    }
    Ok(Value::Object(result))
}

async fn call_tool(ctx: &RequestContext, params: Option<RawJson>) -> Result<Value, HandlerError> {
    let result = run_tool(ctx, params).await?;
    serde_json::to_value(result).map_err(|e| HandlerError::internal(e.to_string()))
}

/// Runs the tool a `tools/call` names, on its raw arguments: `name` and `arguments` are found
/// by mcpx-wire's scanner in the request's own bytes, so the arguments are parsed exactly once,
/// by the tool's own argument type.
async fn run_tool(
    ctx: &RequestContext,
    params: Option<RawJson>,
) -> Result<crate::ToolResult, HandlerError> {
    let [name, arguments] = params.map_or([None, None], |p| p.members(["name", "arguments"]));
    let name = name.as_ref().and_then(RawJson::as_string).ok_or_else(|| {
        HandlerError::invalid_params("invalid tools/call params: `name` must be a string")
    })?;
    // Only the handler (an `Arc`) is taken: the definition stays where it is.
    let handler = ctx
        .handlers
        .tools
        .get(name.as_ref())
        .map(|t| t.handler.clone())
        .ok_or_else(|| HandlerError::invalid_params(format!("Unknown tool: {name}")))?;
    let args = match arguments {
        Some(a) if !a.is_null() => a.into_bytes(),
        _ => bytes::Bytes::from_static(b"{}"),
    };
    handler(ctx.clone(), args).await
}

async fn read_resource(ctx: &RequestContext, params: &Value) -> Result<Value, HandlerError> {
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| HandlerError::invalid_params("`uri` is required"))?;
    let handler = ctx
        .handlers
        .find_resource(uri)
        .map(|r| r.handler.clone())
        .ok_or_else(|| HandlerError::resource_not_found(uri))?;
    handler(ctx.clone(), Value::from(uri)).await
}

async fn get_prompt(ctx: &RequestContext, params: &Value) -> Result<Value, HandlerError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| HandlerError::invalid_params("`name` is required"))?;
    let handler = ctx
        .handlers
        .prompts
        .get(name)
        .map(|p| p.handler.clone())
        .ok_or_else(|| HandlerError::invalid_params(format!("Unknown prompt: {name}")))?;
    let args = params
        .get("arguments")
        .cloned()
        .unwrap_or_else(|| json!({}));
    handler(ctx.clone(), args).await
}

/// Session-era `resources/subscribe` / `resources/unsubscribe`: recorded for the session, so
/// [`ServerHandle::resource_updated`](crate::ServerHandle::resource_updated) reaches its GET
/// stream.
fn subscribe(ctx: &RequestContext, on: bool, uri: &str) -> Result<Value, HandlerError> {
    let Some(session) = ctx.session.as_ref() else {
        return Err(HandlerError::invalid_params(
            "resource subscriptions need a session (2026-07-28: subscriptions/listen)",
        ));
    };
    let mut registry = crate::service::lock(&ctx.shared.registry);
    if on {
        registry.subscribe(session, uri).map_err(|_| {
            HandlerError::invalid_params(format!(
                "at most {} resource subscriptions per session",
                crate::notify::MAX_SUBSCRIPTIONS_PER_CLIENT
            ))
        })?;
    } else {
        registry.unsubscribe(session, uri);
    }
    Ok(json!({}))
}

/// `subscriptions/listen` (2026-07-28, MCP-DIGEST 7.5): a long-lived SSE response whose first
/// message acknowledges the filter the server honours; every notification on it carries the
/// listen request's id as `subscriptionId`. List changes are honoured when the server declares
/// `listChanged` ([`ServerBuilder::list_changed`](crate::ServerBuilder::list_changed)); resource
/// subscriptions always. The subscription ends when the client closes the stream (that cancels
/// the request); the closing result is then written for the core's bookkeeping, though nobody
/// reads it.
async fn listen(ctx: &RequestContext, params: &Value) {
    let Some(filter) = params.get("notifications").and_then(Value::as_object) else {
        respond(
            ctx,
            Err(HandlerError::invalid_params(
                "`notifications` (a SubscriptionFilter object) is required",
            )),
        )
        .await;
        return;
    };
    let lists = ctx.shared.list_changed;
    let asked = |key: &str| lists && filter.get(key).and_then(Value::as_bool) == Some(true);
    let mut honoured = serde_json::Map::new();
    let (tools, prompts, resources) = (
        asked("toolsListChanged"),
        asked("promptsListChanged"),
        asked("resourcesListChanged"),
    );
    for (key, on) in [
        ("toolsListChanged", tools),
        ("promptsListChanged", prompts),
        ("resourcesListChanged", resources),
    ] {
        if on {
            honoured.insert(key.into(), Value::Bool(true));
        }
    }
    let uris: std::collections::HashSet<String> = filter
        .get("resourceSubscriptions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .take(crate::notify::MAX_SUBSCRIPTIONS_PER_CLIENT)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if filter
        .get("resourceSubscriptions")
        .is_some_and(Value::is_array)
    {
        honoured.insert(
            "resourceSubscriptions".into(),
            uris.iter().cloned().map(Value::from).collect(),
        );
    }
    let id = serde_json::to_value(ctx.request_id()).unwrap_or(Value::Null);
    let ack = json!({
        "_meta": {"io.modelcontextprotocol/subscriptionId": id},
        "notifications": Value::Object(honoured),
    });
    ctx.notify("notifications/subscriptions/acknowledged", &ack)
        .await;
    // Registered after the acknowledgement, so it is the first message on the stream.
    let _registered = Listening::new(
        ctx,
        crate::notify::Listener {
            tools,
            prompts,
            resources,
            uris,
            subscription_id: id.clone(),
        },
    );
    ctx.cancelled().await;
    let done =
        json!({"resultType": "complete", "_meta": {"io.modelcontextprotocol/subscriptionId": id}});
    respond(ctx, Ok(done)).await;
}

/// A listen stream's registration, removed however the listen request ends.
struct Listening {
    shared: Arc<crate::service::Shared>,
    stream: mcpx_proto::StreamKey,
}

impl Listening {
    fn new(ctx: &RequestContext, listener: crate::notify::Listener) -> Self {
        // Notifications reach the listen stream from outside its request: through the map.
        crate::service::lock(&ctx.shared.streams).insert(
            ctx.stream,
            crate::service::StreamEntry::new(ctx.own.clone()),
        );
        crate::service::lock(&ctx.shared.registry).listen(ctx.stream, listener);
        Self {
            shared: ctx.shared.clone(),
            stream: ctx.stream,
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        crate::service::lock(&self.shared.registry).unlisten(self.stream);
        crate::service::lock(&self.shared.streams).remove(&self.stream);
    }
}
