//! The handler API: tools, resources, prompts and completions, and the request context a
//! handler uses to report progress, log, ask the client and observe cancellation.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::RequestContext;

/// A boxed future, as handlers are stored type-erased.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a tool handler returns: the `tools/call` result. A failure of the tool itself is a
/// result with `isError: true` (the model sees it), not a JSON-RPC error.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolResult {
    /// Content blocks (see [`ContentBlock`] and [`Content`]).
    pub content: Vec<ContentBlock>,
    /// Structured output (2025-06-18+), matching the tool's output schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// Whether the tool failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl ToolResult {
    /// A result with these content blocks (each a [`ContentBlock`], or a `serde_json::Value`
    /// such as the [`Content`] builders return).
    pub fn new<B: Into<ContentBlock>>(content: impl IntoIterator<Item = B>) -> Self {
        Self {
            content: content.into_iter().map(Into::into).collect(),
            structured_content: None,
            is_error: false,
        }
    }

    /// A result with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new([ContentBlock::Text(text.into())])
    }

    /// A failed tool call: `isError: true` with one text block explaining why.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            is_error: true,
            ..Self::text(message)
        }
    }

    /// Adds structured content.
    pub fn with_structured(mut self, value: Value) -> Self {
        self.structured_content = Some(value);
        self
    }
}

/// One block of a tool result. Text, by far the most common, is kept as a plain string and
/// written straight into the response (a `serde_json::Value` object would cost a map and three
/// more strings per call); any other block is JSON as the MCP `ContentBlock` schema defines it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ContentBlock {
    /// `{"type":"text","text":...}`
    Text(String),
    /// Any other block (image, audio, resource link, embedded resource), as JSON.
    Json(Value),
}

impl ContentBlock {
    /// The block as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Text(text) => json!({"type": "text", "text": text}),
            Self::Json(v) => v.clone(),
        }
    }
}

impl From<Value> for ContentBlock {
    fn from(v: Value) -> Self {
        Self::Json(v)
    }
}

impl From<String> for ContentBlock {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for ContentBlock {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl Serialize for ContentBlock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        match self {
            Self::Text(text) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "text")?;
                m.serialize_entry("text", text)?;
                m.end()
            }
            Self::Json(v) => v.serialize(s),
        }
    }
}

/// Builders for content blocks (MCP `ContentBlock`).
#[derive(Debug)]
#[non_exhaustive]
pub struct Content;

impl Content {
    /// `{"type":"text","text":...}`
    pub fn text(text: impl Into<String>) -> Value {
        json!({"type": "text", "text": text.into()})
    }

    /// `{"type":"image","data":<base64>,"mimeType":...}`
    pub fn image(base64: impl Into<String>, mime_type: &str) -> Value {
        json!({"type": "image", "data": base64.into(), "mimeType": mime_type})
    }

    /// `{"type":"audio","data":<base64>,"mimeType":...}`
    pub fn audio(base64: impl Into<String>, mime_type: &str) -> Value {
        json!({"type": "audio", "data": base64.into(), "mimeType": mime_type})
    }

    /// `{"type":"resource","resource":{"uri","mimeType","text"}}`: an embedded text resource.
    pub fn embedded_text(uri: &str, mime_type: &str, text: impl Into<String>) -> Value {
        json!({"type": "resource", "resource": {"uri": uri, "mimeType": mime_type, "text": text.into()}})
    }
}

/// Why a handler could not answer: becomes a JSON-RPC error response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandlerError {
    /// The JSON-RPC code.
    pub code: mcpx_wire::ErrorCode,
    /// One short sentence.
    pub message: String,
    /// Optional data.
    pub data: Option<Value>,
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.code())
    }
}

impl std::error::Error for HandlerError {}

impl HandlerError {
    /// Any JSON-RPC error code with this message.
    pub fn new(code: mcpx_wire::ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32602 with this message.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self {
            code: mcpx_wire::ErrorCode::INVALID_PARAMS,
            message: message.into(),
            data: None,
        }
    }

    /// -32603 with this message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: mcpx_wire::ErrorCode::INTERNAL_ERROR,
            message: message.into(),
            data: None,
        }
    }

    /// -32002 (resource not found, session era) with the URI as data.
    pub fn resource_not_found(uri: &str) -> Self {
        Self {
            code: mcpx_wire::ErrorCode::RESOURCE_NOT_FOUND,
            message: "Resource not found".into(),
            data: Some(json!({"uri": uri})),
        }
    }
}

/// The low-level alternative to registering tools, resources and prompts, for gateways and
/// proxies: it sees every dispatched request as the raw message (method, id, params exactly as
/// received) and answers with a raw result or an error, while the engine still does everything
/// else (sessions, versions, `initialize`, `ping`, cancellation, response modes, SSE, limits).
///
/// With a service installed ([`Handlers::service`]) the registered tools, resources and prompts
/// are not used. Declare what the server offers yourself: its capabilities with
/// [`Config::capabilities`](mcpx_proto::Config::capabilities) and, for methods beyond the
/// standard ones, [`Config::dispatch_methods`](mcpx_proto::Config::dispatch_methods). Results
/// go out byte for byte: in the 2026-07-28 era they must carry `resultType` themselves
/// ([`RequestContext::version`] says which era a request is in).
pub trait Service: Send + Sync + 'static {
    /// Answers one request. The context can send progress and notifications, observe
    /// cancellation and ask the client, as for any handler.
    fn call(&self, ctx: RequestContext, request: mcpx_wire::Message) -> BoxFuture<ServiceResult>;
}

/// What a [`Service`] answers: the raw `result` object, or a JSON-RPC error.
pub type ServiceResult = Result<mcpx_wire::RawJson, HandlerError>;

/// Tools get their `arguments` as raw JSON bytes, read once by the tool's argument type.
type ToolFn = dyn Fn(RequestContext, bytes::Bytes) -> BoxFuture<Result<ToolResult, HandlerError>>
    + Send
    + Sync;
type ValueFn =
    dyn Fn(RequestContext, Value) -> BoxFuture<Result<Value, HandlerError>> + Send + Sync;

/// A registered tool: its `tools/list` entry and its handler.
#[derive(Clone)]
pub(crate) struct Tool {
    pub(crate) definition: Value,
    pub(crate) handler: Arc<ToolFn>,
}

/// The `tools/list` entry of a tool.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ToolDef {
    /// Unique name.
    pub name: String,
    /// The rest of the entry (`title`, `description`, `inputSchema`, `outputSchema`,
    /// `annotations`).
    pub fields: serde_json::Map<String, Value>,
}

impl ToolDef {
    /// A tool with this name, no arguments (`inputSchema: {"type":"object"}`).
    pub fn new(name: &str) -> Self {
        let mut fields = serde_json::Map::new();
        fields.insert("inputSchema".into(), json!({"type": "object"}));
        Self {
            name: name.into(),
            fields,
        }
    }

    /// Sets `description`.
    pub fn description(mut self, text: &str) -> Self {
        self.fields.insert("description".into(), Value::from(text));
        self
    }

    /// Sets `title`.
    pub fn title(mut self, text: &str) -> Self {
        self.fields.insert("title".into(), Value::from(text));
        self
    }

    /// Sets `inputSchema` (a JSON Schema object).
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.fields.insert("inputSchema".into(), schema);
        self
    }

    /// Sets `outputSchema` (2025-06-18+).
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.fields.insert("outputSchema".into(), schema);
        self
    }

    /// Sets `annotations` (e.g. `{"readOnlyHint": true}`).
    pub fn annotations(mut self, annotations: Value) -> Self {
        self.fields.insert("annotations".into(), annotations);
        self
    }

    fn into_value(self) -> Value {
        let mut entry = serde_json::Map::new();
        entry.insert("name".into(), Value::from(self.name));
        entry.extend(self.fields);
        Value::Object(entry)
    }
}

/// A registered resource or resource template.
#[derive(Clone)]
pub(crate) struct Resource {
    pub(crate) definition: Value,
    /// `Some` for templates: the URI template, matched by its literal prefix and suffix.
    pub(crate) template: Option<(String, String)>,
    pub(crate) uri: String,
    pub(crate) handler: Arc<ValueFn>,
}

/// A registered prompt.
#[derive(Clone)]
pub(crate) struct Prompt {
    pub(crate) definition: Value,
    pub(crate) handler: Arc<ValueFn>,
}

/// Everything a server serves, built once and shared by all connections.
#[derive(Clone, Default)]
pub struct Handlers {
    pub(crate) tools: BTreeMap<String, Tool>,
    pub(crate) tool_order: Vec<String>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) prompts: BTreeMap<String, Prompt>,
    pub(crate) prompt_order: Vec<String>,
    pub(crate) completion: Option<Arc<ValueFn>>,
    /// A low-level service that answers every dispatched request instead of the above.
    pub(crate) service: Option<Arc<dyn Service>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("tools", &self.tool_order)
            .field("resources", &self.resources.len())
            .field("prompts", &self.prompt_order)
            .finish()
    }
}

impl Handlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs a low-level [`Service`] that answers every dispatched request (the registered
    /// tools, resources and prompts are then unused).
    pub fn service(&mut self, service: impl Service) -> &mut Self {
        self.service = Some(Arc::new(service));
        self
    }

    /// Whether a low-level [`Service`] answers requests.
    pub(crate) fn has_service(&self) -> bool {
        self.service.is_some()
    }

    /// Registers a tool whose arguments deserialize into `A` (a missing `arguments` is `{}`).
    /// Arguments that do not match `A` get a -32602 error naming the problem.
    pub fn tool<A, F, Fut>(&mut self, def: ToolDef, handler: F) -> &mut Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(RequestContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolResult, HandlerError>> + Send + 'static,
    {
        let name = def.name.clone();
        let handler = Arc::new(handler);
        let erased: Arc<ToolFn> = Arc::new(move |ctx, args| {
            let handler = handler.clone();
            Box::pin(async move {
                let args: A = serde_json::from_slice(&args)
                    .map_err(|e| HandlerError::invalid_params(format!("invalid arguments: {e}")))?;
                handler(ctx, args).await
            })
        });
        if !self.tools.contains_key(&name) {
            self.tool_order.push(name.clone());
        }
        self.tools.insert(
            name,
            Tool {
                definition: def.into_value(),
                handler: erased,
            },
        );
        self
    }

    /// Registers a resource: `definition` is its `resources/list` entry (must hold `uri`), the
    /// handler returns the `resources/read` result (`{"contents":[...]}`).
    pub fn resource<F, Fut>(&mut self, definition: Value, handler: F) -> &mut Self
    where
        F: Fn(RequestContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
    {
        let uri = definition
            .get("uri")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.resources.push(Resource {
            definition,
            template: None,
            uri,
            handler: value_fn(handler),
        });
        self
    }

    /// Registers a resource template: `definition` is its `resources/templates/list` entry
    /// (must hold `uriTemplate`, e.g. `test://template/{id}/data`); a read of a URI matching it
    /// calls the handler with that URI.
    pub fn resource_template<F, Fut>(&mut self, definition: Value, handler: F) -> &mut Self
    where
        F: Fn(RequestContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
    {
        let template = definition
            .get("uriTemplate")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let (prefix, rest) = template.split_once('{').unwrap_or((template.as_str(), ""));
        let suffix = rest.split_once('}').map_or("", |(_, s)| s);
        let parts = Some((prefix.to_owned(), suffix.to_owned()));
        self.resources.push(Resource {
            definition,
            template: parts,
            uri: template.clone(),
            handler: value_fn(handler),
        });
        self
    }

    /// Registers a prompt: `definition` is its `prompts/list` entry (must hold `name`), the
    /// handler gets the `arguments` object and returns the `prompts/get` result.
    pub fn prompt<F, Fut>(&mut self, definition: Value, handler: F) -> &mut Self
    where
        F: Fn(RequestContext, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
    {
        let name = definition
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !self.prompts.contains_key(&name) {
            self.prompt_order.push(name.clone());
        }
        let handler = Arc::new(handler);
        let erased: Arc<ValueFn> = Arc::new(move |ctx, args| {
            let handler = handler.clone();
            Box::pin(async move { handler(ctx, args).await })
        });
        self.prompts.insert(
            name,
            Prompt {
                definition,
                handler: erased,
            },
        );
        self
    }

    /// Registers the `completion/complete` handler: it gets the request's params and returns
    /// the result (`{"completion":{"values":[...]}}`).
    pub fn completion<F, Fut>(&mut self, handler: F) -> &mut Self
    where
        F: Fn(RequestContext, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.completion = Some(Arc::new(move |ctx, params| {
            let handler = handler.clone();
            Box::pin(async move { handler(ctx, params).await })
        }));
        self
    }

    /// The capabilities these handlers imply, for `initialize` and `server/discover`.
    pub fn capabilities(&self) -> Value {
        let mut caps = serde_json::Map::new();
        caps.insert("logging".into(), json!({}));
        if !self.tools.is_empty() {
            caps.insert("tools".into(), json!({"listChanged": false}));
        }
        if !self.resources.is_empty() {
            caps.insert(
                "resources".into(),
                json!({"subscribe": true, "listChanged": false}),
            );
        }
        if !self.prompts.is_empty() {
            caps.insert("prompts".into(), json!({"listChanged": false}));
        }
        if self.completion.is_some() {
            caps.insert("completions".into(), json!({}));
        }
        Value::Object(caps)
    }

    pub(crate) fn find_resource(&self, uri: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.template.is_none() && r.uri == uri)
            .or_else(|| {
                self.resources.iter().find(|r| {
                    r.template.as_ref().is_some_and(|(pre, suf)| {
                        uri.len() > pre.len() + suf.len()
                            && uri.starts_with(pre.as_str())
                            && uri.ends_with(suf.as_str())
                    })
                })
            })
    }
}

fn value_fn<F, Fut>(handler: F) -> Arc<ValueFn>
where
    F: Fn(RequestContext, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |ctx, uri| {
        let handler = handler.clone();
        let uri = uri.as_str().unwrap_or_default().to_owned();
        Box::pin(async move { handler(ctx, uri).await })
    })
}
