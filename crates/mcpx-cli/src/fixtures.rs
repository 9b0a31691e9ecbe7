//! The fixtures of the official MCP conformance suite: the tools, resources, prompts and
//! completions that `@modelcontextprotocol/conformance` **0.1.16** expects a server under test to
//! serve (its "server scenarios", protocol versions 2025-06-18 and 2025-11-25), plus an `echo`
//! tool for benchmarks.
//!
//! Names, argument names, MIME types and texts follow the suite's scenario descriptions to the
//! letter, including the parts it does not check, so that a stricter future version of a check
//! still passes. `mcpx serve` serves exactly [`conformance_handlers`].

// Scenario -> what the suite checks -> the fixture that serves it (suite 0.1.16; run
// `npx @modelcontextprotocol/conformance list` for the current list).
//
// | scenario                       | checks                                                        | fixture                                   |
// |--------------------------------|---------------------------------------------------------------|-------------------------------------------|
// | server-initialize              | the SDK client connects (initialize + initialized)            | engine                                    |
// | logging-set-level              | `logging/setLevel` "info" answers exactly `{}`                | engine                                    |
// | ping                           | `ping` answers exactly `{}`                                   | engine                                    |
// | completion-complete            | ref/prompt test_prompt_with_arguments, arg1="test": result    | completion handler (`complete`)           |
// |                                | has `completion.values` (an array, may be empty)              |                                           |
// | tools-list                     | every tool has name, description AND inputSchema              | all tools (echo included)                 |
// | tools-call-simple-text         | a text block with non-empty text                              | tool `test_simple_text`                   |
// | tools-call-image               | an image block with data and mimeType                         | tool `test_image_content`                 |
// | tools-call-audio               | an audio block with data, mimeType exactly "audio/wav"        | tool `test_audio_content`                 |
// | tools-call-embedded-resource   | a resource block with uri, mimeType and text or blob          | tool `test_embedded_resource`             |
// | tools-call-mixed-content       | >= 2 blocks including text, image and resource                | tool `test_multiple_content_types`        |
// | tools-call-with-logging        | after setLevel "debug": >= 3 notifications/message received   | tool `test_tool_with_logging`             |
// |                                | by the time the call returns (+200 ms)                        |                                           |
// | tools-call-error               | `isError: true` and content[0].text non-empty (not JSON-RPC   | tool `test_error_handling`                |
// |                                | error)                                                        |                                           |
// | tools-call-with-progress       | progressToken "progress-test-1": >= 3 progress notifications, | tool `test_tool_with_progress`            |
// |                                | the first three non-decreasing                                |                                           |
// | tools-call-sampling            | the server sends sampling/createMessage; result has content   | tool `test_sampling` (arg `prompt`)       |
// | tools-call-elicitation         | the server sends elicitation/create; result has content       | tool `test_elicitation` (arg `message`)   |
// | json-schema-2020-12            | tools/list holds `json_schema_2020_12_tool` whose inputSchema | tool `json_schema_2020_12_tool`           |
// |                                | keeps `$schema` (2020-12 URL), `$defs.address`,               |                                           |
// |                                | `additionalProperties: false`                                 |                                           |
// | elicitation-sep1034-defaults   | requestedSchema: name/age/score/status/verified with types    | tool `test_elicitation_sep1034_defaults`  |
// |                                | and defaults "John Doe"/30/95.5/"active"/true                 |                                           |
// | elicitation-sep1330-enums      | requestedSchema: untitledSingle, titledSingle, legacyEnum,    | tool `test_elicitation_sep1330_enums`     |
// |                                | untitledMulti, titledMulti in the five enum shapes            |                                           |
// | server-sse-polling             | POST tools/call test_reconnection (header mcp-protocol-version| tool `test_reconnection`                  |
// |                                | 2025-03-26); JSON answer = INFO only; SSE answer: priming     |                                           |
// |                                | event (id, empty data) first, `retry:`, close mid-call, resume|                                           |
// |                                | on GET with Last-Event-ID (WARNINGs otherwise)                |                                           |
// | server-sse-multiple-streams    | 3 concurrent POST tools/list on one session all HTTP 200      | engine                                    |
// | resources-list                 | every resource has uri and name                               | the three static resources                |
// | resources-read-text            | test://static-text: contents[0] has uri, mimeType, text       | resource `test://static-text`             |
// | resources-read-binary          | test://static-binary: contents[0] has uri, mimeType, blob     | resource `test://static-binary`           |
// | resources-templates-read       | test://template/123/data: contents[0] has uri and text/blob;  | template `test://template/{id}/data`      |
// |                                | the text contains "123"                                       |                                           |
// | resources-subscribe            | resources/subscribe test://watched-resource succeeds          | engine (+ resource test://watched-resource)|
// | resources-unsubscribe          | subscribe then unsubscribe succeed                            | engine (+ resource test://watched-resource)|
// | prompts-list                   | every prompt has name AND description                         | all prompts                               |
// | prompts-get-simple             | test_simple_prompt: messages non-empty, each role + content   | prompt `test_simple_prompt`               |
// | prompts-get-with-args          | arg1="testValue1", arg2="testValue2" both appear in messages  | prompt `test_prompt_with_arguments`       |
// | prompts-get-embedded-resource  | resourceUri="test://example-resource": a message whose        | prompt `test_prompt_with_embedded_resource`|
// |                                | content.type is "resource"                                    |                                           |
// | prompts-get-with-image         | a message with an image block (data + mimeType)               | prompt `test_prompt_with_image`           |
// | dns-rebinding-protection       | Host/Origin evil.example.com -> HTTP 4xx; localhost -> 2xx    | engine (Origin/Host validation)           |
//
// Not servable by fixtures alone, or only partly:
// - server-sse-polling: its real checks (priming event, `retry:` field, the tool closing its SSE
//   stream mid-call and the result replayed on a GET with Last-Event-ID) need SSE resumability
//   and a way for a handler to close its stream; the handler API has neither. A JSON answer
//   (the auto mode, as `test_reconnection` emits nothing) makes the suite record INFO "not
//   applicable"; an HTTP 400/404 (e.g. rejecting `mcp-protocol-version: 2025-03-26`) is a WARNING.
// - server-sse-multiple-streams: engine only; JSON answers are INFO, SSE answers must each yield
//   an event within 2 s.
// - resources-subscribe/unsubscribe: only the `{}` answers are checked; no
//   notifications/resources/updated is ever sent (the API has no way to emit one), which the
//   suite does not test.
// - dns-rebinding-protection: transport-level (mcpx-proto Origin/Host checks), no fixture.
// - tools-call-sampling / tools-call-elicitation / sep1034 / sep1330 need the session era
//   (`RequestContext::ask` refuses without a session) and an SSE response to carry the request.

use std::time::Duration;

use mcpx_server::{Content, HandlerError, Handlers, RequestContext, ToolDef, ToolResult};
use serde::Deserialize;
use serde_json::{Value, json};

/// A 1x1 red pixel PNG (69 bytes).
const PNG_1X1_RED: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC";

/// A WAV file: PCM, mono, 8 kHz, 8-bit, eight samples of silence (52 bytes).
const WAV_SILENCE: &str =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

/// The JSON Schema 2020-12 dialect URL the `json-schema-2020-12` scenario checks.
const JSON_SCHEMA_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// The pause between the steps of the logging and progress tools (the suite says "~50ms").
const STEP: Duration = Duration::from_millis(50);

/// Everything the conformance suite's server scenarios call, plus `echo`.
pub fn conformance_handlers() -> Handlers {
    let mut handlers = Handlers::new();
    register_tools(&mut handlers);
    register_resources(&mut handlers);
    register_prompts(&mut handlers);
    handlers.completion(complete);
    register_stateless_diagnostics(&mut handlers);
    handlers
}

/// `{"type":"object","properties":{}}`: the input schema of a tool without arguments.
fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

fn register_tools(handlers: &mut Handlers) {
    handlers
        .tool(
            ToolDef::new("echo")
                .description("Echoes `text` back as one text block (for benchmarks)")
                .input_schema(json!({
                    "type": "object",
                    "properties": {"text": {"type": "string", "description": "The text to echo"}},
                    "required": ["text"]
                })),
            echo,
        )
        .tool(
            ToolDef::new("test_simple_text")
                .description("Returns one text block")
                .input_schema(no_arguments()),
            simple_text,
        )
        .tool(
            ToolDef::new("test_image_content")
                .description("Returns one image block (a 1x1 red PNG)")
                .input_schema(no_arguments()),
            image_content,
        )
        .tool(
            ToolDef::new("test_audio_content")
                .description("Returns one audio block (a tiny WAV)")
                .input_schema(no_arguments()),
            audio_content,
        )
        .tool(
            ToolDef::new("test_embedded_resource")
                .description("Returns one embedded text resource")
                .input_schema(no_arguments()),
            embedded_resource,
        )
        .tool(
            ToolDef::new("test_multiple_content_types")
                .description("Returns a text, an image and an embedded resource block")
                .input_schema(no_arguments()),
            multiple_content_types,
        )
        .tool(
            ToolDef::new("test_tool_with_logging")
                .description("Sends three info log notifications, 50 ms apart, while it runs")
                .input_schema(no_arguments()),
            tool_with_logging,
        )
        .tool(
            ToolDef::new("test_tool_with_progress")
                .description("Reports progress 0, 50 and 100 of 100, 50 ms apart")
                .input_schema(no_arguments()),
            tool_with_progress,
        )
        .tool(
            ToolDef::new("test_error_handling")
                .description("Always fails with isError: true")
                .input_schema(no_arguments()),
            error_handling,
        )
        .tool(
            ToolDef::new("test_sampling")
                .description(
                    "Asks the client's LLM (sampling/createMessage) and returns its answer",
                )
                .input_schema(json!({
                    "type": "object",
                    "properties": {
                        "prompt": {"type": "string", "description": "The prompt to send to the LLM"}
                    },
                    "required": ["prompt"]
                })),
            sampling,
        )
        .tool(
            ToolDef::new("test_elicitation")
                .description("Asks the user (elicitation/create) for a username and an email")
                .input_schema(json!({
                    "type": "object",
                    "properties": {
                        "message": {"type": "string", "description": "The message to show the user"}
                    },
                    "required": ["message"]
                })),
            elicitation,
        )
        .tool(
            ToolDef::new("test_elicitation_sep1034_defaults")
                .description(
                    "Elicits fields of every primitive type, each with a default (SEP-1034)",
                )
                .input_schema(no_arguments()),
            elicitation_sep1034_defaults,
        )
        .tool(
            ToolDef::new("test_elicitation_sep1330_enums")
                .description("Elicits fields in all five enum shapes (SEP-1330)")
                .input_schema(no_arguments()),
            elicitation_sep1330_enums,
        )
        .tool(
            ToolDef::new("json_schema_2020_12_tool")
                .description("Tool with JSON Schema 2020-12 features")
                .input_schema(json!({
                    "$schema": JSON_SCHEMA_2020_12,
                    "type": "object",
                    "$defs": {
                        "address": {
                            "type": "object",
                            "properties": {
                                "street": {"type": "string"},
                                "city": {"type": "string"}
                            }
                        }
                    },
                    "properties": {
                        "name": {"type": "string"},
                        "address": {"$ref": "#/$defs/address"}
                    },
                    "additionalProperties": false
                })),
            json_schema_2020_12,
        )
        .tool(
            ToolDef::new("test_reconnection")
                .description(
                    "SSE polling test (SEP-1699): meant to close its SSE stream mid-call; here it \
                     answers at once",
                )
                .input_schema(no_arguments()),
            reconnection,
        );
}

fn register_resources(handlers: &mut Handlers) {
    handlers
        .resource(
            json!({
                "uri": "test://static-text",
                "name": "static-text",
                "title": "Static text",
                "description": "A static text resource",
                "mimeType": "text/plain"
            }),
            read_static_text,
        )
        .resource(
            json!({
                "uri": "test://static-binary",
                "name": "static-binary",
                "title": "Static binary",
                "description": "A static binary resource (a 1x1 red PNG)",
                "mimeType": "image/png"
            }),
            read_static_binary,
        )
        .resource(
            json!({
                "uri": "test://watched-resource",
                "name": "watched-resource",
                "title": "Watched resource",
                "description": "A resource clients may subscribe to",
                "mimeType": "text/plain"
            }),
            read_watched,
        )
        .resource_template(
            json!({
                "uriTemplate": "test://template/{id}/data",
                "name": "template-data",
                "title": "Template data",
                "description": "JSON data for an id, substituted into the URI",
                "mimeType": "application/json"
            }),
            read_template,
        );
}

fn register_prompts(handlers: &mut Handlers) {
    handlers
        .prompt(
            json!({
                "name": "test_simple_prompt",
                "description": "A simple prompt without arguments"
            }),
            simple_prompt,
        )
        .prompt(
            json!({
                "name": "test_prompt_with_arguments",
                "description": "A prompt with two required arguments",
                "arguments": [
                    {"name": "arg1", "description": "First test argument", "required": true},
                    {"name": "arg2", "description": "Second test argument", "required": true}
                ]
            }),
            prompt_with_arguments,
        )
        .prompt(
            json!({
                "name": "test_prompt_with_embedded_resource",
                "description": "A prompt embedding a resource",
                "arguments": [
                    {"name": "resourceUri", "description": "URI of the resource to embed", "required": true}
                ]
            }),
            prompt_with_embedded_resource,
        )
        .prompt(
            json!({
                "name": "test_prompt_with_image",
                "description": "A prompt with an image"
            }),
            prompt_with_image,
        );
}

// ---------------------------------------------------------------------------------------------
// Tools

#[derive(Debug, Deserialize)]
struct EchoArgs {
    #[serde(default)]
    text: Option<String>,
}

async fn echo(_ctx: RequestContext, args: EchoArgs) -> Result<ToolResult, HandlerError> {
    Ok(match args.text {
        Some(text) => ToolResult::text(text),
        None => ToolResult::error("missing argument `text`"),
    })
}

async fn simple_text(_ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::text(
        "This is a simple text response for testing.",
    ))
}

async fn image_content(_ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::new(vec![Content::image(
        PNG_1X1_RED,
        "image/png",
    )]))
}

async fn audio_content(_ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::new(vec![Content::audio(
        WAV_SILENCE,
        "audio/wav",
    )]))
}

async fn embedded_resource(_ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::new(vec![Content::embedded_text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    )]))
}

async fn multiple_content_types(
    _ctx: RequestContext,
    _args: Value,
) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::new(vec![
        Content::text("Multiple content types test:"),
        Content::image(PNG_1X1_RED, "image/png"),
        Content::embedded_text(
            "test://mixed-content-resource",
            "application/json",
            json!({"test": "data", "value": 123}).to_string(),
        ),
    ]))
}

async fn tool_with_logging(ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    let logger = Some("test_tool_with_logging");
    ctx.log("info", logger, json!("Tool execution started"))
        .await;
    tokio::time::sleep(STEP).await;
    ctx.log("info", logger, json!("Tool processing data")).await;
    tokio::time::sleep(STEP).await;
    ctx.log("info", logger, json!("Tool execution completed"))
        .await;
    Ok(ToolResult::text(
        "Tool with logging executed successfully (3 log messages sent)",
    ))
}

async fn tool_with_progress(ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    let steps = [(0.0, "Started"), (50.0, "Halfway"), (100.0, "Completed")];
    for (i, (progress, message)) in steps.into_iter().enumerate() {
        if ctx.is_cancelled() {
            return Ok(ToolResult::error("cancelled"));
        }
        if i > 0 {
            tokio::time::sleep(STEP).await;
        }
        ctx.progress(progress, Some(100.0), Some(message)).await;
    }
    Ok(ToolResult::text(
        "Tool with progress executed successfully (progress 0, 50, 100 of 100)",
    ))
}

async fn error_handling(_ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::error(
        "This tool intentionally returns an error for testing",
    ))
}

#[derive(Debug, Deserialize)]
struct SamplingArgs {
    #[serde(default)]
    prompt: Option<String>,
}

async fn sampling(ctx: RequestContext, args: SamplingArgs) -> Result<ToolResult, HandlerError> {
    let Some(prompt) = args.prompt else {
        return Ok(ToolResult::error("missing argument `prompt`"));
    };
    if !client_declares(&ctx, "sampling") {
        return Ok(ToolResult::error(
            "the client does not support sampling (no `sampling` capability)",
        ));
    }
    let params = json!({
        "messages": [
            {"role": "user", "content": {"type": "text", "text": prompt}}
        ],
        "maxTokens": 100
    });
    match ctx.ask("sampling/createMessage", params).await {
        Ok(result) => Ok(ToolResult::text(format!(
            "LLM response: {}",
            sampled_text(&result)
        ))),
        Err(e) => Ok(ToolResult::error(format!("Sampling failed: {e}"))),
    }
}

/// The text of a `sampling/createMessage` result: its `content` is one block or (2025-11-25)
/// an array of blocks; the text blocks are joined, anything else is shown as JSON.
fn sampled_text(result: &Value) -> String {
    let content = result.get("content").cloned().unwrap_or(Value::Null);
    let blocks = match content {
        Value::Array(blocks) => blocks,
        other => vec![other],
    };
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    if texts.is_empty() {
        result.to_string()
    } else {
        texts.join("\n")
    }
}

#[derive(Debug, Deserialize)]
struct ElicitationArgs {
    #[serde(default)]
    message: Option<String>,
}

async fn elicitation(
    ctx: RequestContext,
    args: ElicitationArgs,
) -> Result<ToolResult, HandlerError> {
    let Some(message) = args.message else {
        return Ok(ToolResult::error("missing argument `message`"));
    };
    let schema = json!({
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"}
        },
        "required": ["username", "email"]
    });
    Ok(match elicit(&ctx, &message, schema).await {
        Ok(answer) => ToolResult::text(format!("User response: {answer}")),
        Err(failure) => failure,
    })
}

async fn elicitation_sep1034_defaults(
    ctx: RequestContext,
    _args: Value,
) -> Result<ToolResult, HandlerError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active"
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": true}
        },
        "required": []
    });
    let message = "Test client default value handling - please accept with defaults";
    Ok(match elicit(&ctx, message, schema).await {
        Ok(answer) => ToolResult::text(format!("Elicitation completed: {answer}")),
        Err(failure) => failure,
    })
}

async fn elicitation_sep1330_enums(
    ctx: RequestContext,
    _args: Value,
) -> Result<ToolResult, HandlerError> {
    // The client SDK parses this with zod unions that drop unknown keys, so each property keeps
    // exactly the shape of its variant (no `enum` next to `oneOf`, no `type` inside `anyOf`
    // items).
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "title": "Untitled single-select",
                "description": "Pick one option",
                "enum": ["option1", "option2", "option3"]
            },
            "titledSingle": {
                "type": "string",
                "title": "Titled single-select",
                "description": "Pick one option",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"}
                ]
            },
            "legacyEnum": {
                "type": "string",
                "title": "Legacy titled enum",
                "description": "Pick one option (deprecated enumNames)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"]
            },
            "untitledMulti": {
                "type": "array",
                "title": "Untitled multi-select",
                "description": "Pick any options",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]}
            },
            "titledMulti": {
                "type": "array",
                "title": "Titled multi-select",
                "description": "Pick any options",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"}
                    ]
                }
            }
        },
        "required": []
    });
    let message = "Test enum schema variants (SEP-1330) - please pick some options";
    Ok(match elicit(&ctx, message, schema).await {
        Ok(answer) => ToolResult::text(format!("Elicitation completed: {answer}")),
        Err(failure) => failure,
    })
}

/// Sends `elicitation/create` (form mode) and describes the answer as
/// `action=<action>, content=<json>`; a failure is the tool's error result.
async fn elicit(
    ctx: &RequestContext,
    message: &str,
    requested_schema: Value,
) -> Result<String, ToolResult> {
    if !client_declares(ctx, "elicitation") {
        return Err(ToolResult::error(
            "the client does not support elicitation (no `elicitation` capability)",
        ));
    }
    let params = json!({"message": message, "requestedSchema": requested_schema});
    match ctx.ask("elicitation/create", params).await {
        Ok(result) => {
            let action = result
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let content = result.get("content").cloned().unwrap_or_else(|| json!({}));
            Ok(format!("action={action}, content={content}"))
        }
        Err(e) => Err(ToolResult::error(format!("Elicitation failed: {e}"))),
    }
}

/// Whether the client declared `capability`; `true` when its capabilities are unknown (the
/// client then answers for itself).
fn client_declares(ctx: &RequestContext, capability: &str) -> bool {
    match ctx.client_capabilities() {
        Some(raw) => serde_json::from_str::<Value>(raw.as_str())
            .ok()
            .is_none_or(|caps| caps.get(capability).is_some_and(|c| !c.is_null())),
        None => true,
    }
}

async fn json_schema_2020_12(
    _ctx: RequestContext,
    args: Value,
) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::text(format!("Received arguments: {args}")))
}

async fn reconnection(_ctx: RequestContext, _args: Value) -> Result<ToolResult, HandlerError> {
    Ok(ToolResult::text("Reconnection test completed successfully"))
}

// ---------------------------------------------------------------------------------------------
// Resources

async fn read_static_text(_ctx: RequestContext, uri: String) -> Result<Value, HandlerError> {
    Ok(json!({"contents": [{
        "uri": uri,
        "mimeType": "text/plain",
        "text": "This is the content of the static text resource."
    }]}))
}

async fn read_static_binary(_ctx: RequestContext, uri: String) -> Result<Value, HandlerError> {
    Ok(json!({"contents": [{
        "uri": uri,
        "mimeType": "image/png",
        "blob": PNG_1X1_RED
    }]}))
}

async fn read_watched(_ctx: RequestContext, uri: String) -> Result<Value, HandlerError> {
    Ok(json!({"contents": [{
        "uri": uri,
        "mimeType": "text/plain",
        "text": "This is a watched resource that can be subscribed to."
    }]}))
}

async fn read_template(_ctx: RequestContext, uri: String) -> Result<Value, HandlerError> {
    let id = uri
        .strip_prefix("test://template/")
        .and_then(|rest| rest.strip_suffix("/data"))
        .filter(|id| !id.is_empty() && !id.contains('/'));
    let Some(id) = id else {
        return Err(HandlerError::resource_not_found(&uri));
    };
    let text = json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
    Ok(json!({"contents": [{
        "uri": uri,
        "mimeType": "application/json",
        "text": text.to_string()
    }]}))
}

// ---------------------------------------------------------------------------------------------
// Prompts

/// A prompt message from `role: user` with this content block.
fn user_message(content: Value) -> Value {
    json!({"role": "user", "content": content})
}

/// A required string argument of a prompt, or -32602.
fn prompt_argument<'a>(args: &'a Value, name: &str) -> Result<&'a str, HandlerError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| HandlerError::invalid_params(format!("missing required argument `{name}`")))
}

async fn simple_prompt(_ctx: RequestContext, _args: Value) -> Result<Value, HandlerError> {
    Ok(json!({"messages": [
        user_message(Content::text("This is a simple prompt for testing."))
    ]}))
}

async fn prompt_with_arguments(_ctx: RequestContext, args: Value) -> Result<Value, HandlerError> {
    let arg1 = prompt_argument(&args, "arg1")?;
    let arg2 = prompt_argument(&args, "arg2")?;
    Ok(json!({"messages": [
        user_message(Content::text(format!(
            "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        )))
    ]}))
}

async fn prompt_with_embedded_resource(
    _ctx: RequestContext,
    args: Value,
) -> Result<Value, HandlerError> {
    let uri = prompt_argument(&args, "resourceUri")?;
    Ok(json!({"messages": [
        user_message(Content::embedded_text(
            uri,
            "text/plain",
            "Embedded resource content for testing.",
        )),
        user_message(Content::text("Please process the embedded resource above."))
    ]}))
}

async fn prompt_with_image(_ctx: RequestContext, _args: Value) -> Result<Value, HandlerError> {
    Ok(json!({"messages": [
        user_message(Content::image(PNG_1X1_RED, "image/png")),
        user_message(Content::text("Please analyze the image above."))
    ]}))
}

// ---------------------------------------------------------------------------------------------
// Completion

/// Candidate values for an argument of a prompt or resource template, by `ref` and argument name.
fn completion_candidates(reference: &Value, argument: &str) -> &'static [&'static str] {
    let kind = reference.get("type").and_then(Value::as_str);
    let name = reference
        .get("name")
        .or_else(|| reference.get("uri"))
        .and_then(Value::as_str);
    match (kind, name, argument) {
        (Some("ref/prompt"), Some("test_prompt_with_arguments"), "arg1") => {
            &["paris", "park", "party", "test", "testValue1"]
        }
        (Some("ref/prompt"), Some("test_prompt_with_arguments"), "arg2") => {
            &["hello", "test", "testValue2", "world"]
        }
        (Some("ref/prompt"), Some("test_prompt_with_embedded_resource"), "resourceUri") => &[
            "test://example-resource",
            "test://static-binary",
            "test://static-text",
            "test://watched-resource",
        ],
        (Some("ref/resource"), Some("test://template/{id}/data"), "id") => &["1", "42", "123"],
        _ => &[],
    }
}

/// `completion/complete`: the candidates starting with the typed value (case-insensitive).
async fn complete(_ctx: RequestContext, params: Value) -> Result<Value, HandlerError> {
    let reference = params.get("ref").cloned().unwrap_or(Value::Null);
    let argument = params.get("argument").cloned().unwrap_or(Value::Null);
    let Some(name) = argument.get("name").and_then(Value::as_str) else {
        return Err(HandlerError::invalid_params("`argument.name` is required"));
    };
    let typed = argument
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let values: Vec<&str> = completion_candidates(&reference, name)
        .iter()
        .copied()
        .filter(|v| v.to_lowercase().starts_with(&typed))
        .collect();
    Ok(json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}))
}

// ---------------------------------------------------------------------------------------------
// 2026-07-28 diagnostics of the conformance suite's prerelease line (0.2.0-alpha.12,
// `--requirements 2026-07-28`); docs/conformance-2026-07-28.md gives each one's contract. In
// the session era the same tools ask through real server-to-client requests.
// ---------------------------------------------------------------------------------------------

fn name_schema(field: &str, kind: &str) -> Value {
    json!({"type": "object", "properties": {field: {"type": kind}}, "required": [field]})
}

fn elicit_params(message: &str, field: &str, kind: &str) -> Value {
    json!({"message": message, "requestedSchema": name_schema(field, kind)})
}

fn sample(text: &str, max_tokens: u32) -> Value {
    json!({"messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens})
}

/// The accepted content's `field`, as text.
fn accepted(answer: &Value, field: &str) -> Option<String> {
    if answer.get("action").and_then(Value::as_str) != Some("accept") {
        return None;
    }
    let v = answer.get("content")?.get(field)?;
    Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
}

fn answer_text(answer: &Value) -> String {
    answer
        .get("content")
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn root_uris(answer: &Value) -> String {
    let uris: Vec<&str> = answer
        .get("roots")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|x| x.get("uri").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    uris.join(", ")
}

fn diagnostic(name: &str, description: &str) -> ToolDef {
    ToolDef::new(name)
        .description(description)
        .input_schema(no_arguments())
}

fn register_stateless_diagnostics(h: &mut Handlers) {
    h.tool(
        diagnostic(
            "test_input_required_result_elicitation",
            "Asks the user's name (multi round-trip elicitation)",
        ),
        |ctx: RequestContext, _: Value| async move {
            let answer = ctx
                .input(
                    "user_name",
                    "elicitation/create",
                    elicit_params("What is your name?", "name", "string"),
                )
                .await?;
            Ok(ToolResult::text(match accepted(&answer, "name") {
                Some(name) => format!("Hello, {name}!"),
                None => "No name given.".to_owned(),
            }))
        },
    );
    h.tool(
        diagnostic(
            "test_input_required_result_sampling",
            "Asks the client's model a question (multi round-trip sampling)",
        ),
        |ctx: RequestContext, _: Value| async move {
            let answer = ctx
                .input(
                    "capital_question",
                    "sampling/createMessage",
                    sample("What is the capital of France?", 100),
                )
                .await?;
            Ok(ToolResult::text(answer_text(&answer)))
        },
    );
    h.tool(
        diagnostic(
            "test_input_required_result_list_roots",
            "Asks the client's roots (multi round-trip roots/list)",
        ),
        |ctx: RequestContext, _: Value| async move {
            let answer = ctx.input("client_roots", "roots/list", json!({})).await?;
            Ok(ToolResult::text(format!("Roots: {}", root_uris(&answer))))
        },
    );
    for name in [
        "test_input_required_result_request_state",
        "test_input_required_result_tampered_state",
    ] {
        h.tool(
            diagnostic(
                name,
                "Asks for confirmation and carries its state in a sealed requestState",
            ),
            |ctx: RequestContext, _: Value| async move {
                let answer = ctx
                    .input(
                        "confirm",
                        "elicitation/create",
                        elicit_params("Please confirm", "ok", "boolean"),
                    )
                    .await?;
                if !ctx.has_request_state() {
                    return Err(HandlerError::invalid_params(
                        "requestState is required on the retry",
                    ));
                }
                Ok(ToolResult::text(format!(
                    "Request state verified: state-ok (ok = {})",
                    accepted(&answer, "ok").unwrap_or_default()
                )))
            },
        );
    }
    h.tool(
        diagnostic(
            "test_input_required_result_multiple_inputs",
            "Asks three questions in one round",
        ),
        |ctx: RequestContext, _: Value| async move {
            // Ask all three before giving up, so one round carries every question.
            let name = ctx
                .input(
                    "user_name",
                    "elicitation/create",
                    elicit_params("What is your name?", "name", "string"),
                )
                .await;
            let greeting = ctx
                .input(
                    "greeting",
                    "sampling/createMessage",
                    sample("Generate a greeting", 50),
                )
                .await;
            let roots = ctx.input("client_roots", "roots/list", json!({})).await;
            let (name, greeting, roots) = (name?, greeting?, roots?);
            Ok(ToolResult::text(format!(
                "{} {} (roots: {})",
                answer_text(&greeting),
                accepted(&name, "name").unwrap_or_default(),
                root_uris(&roots)
            )))
        },
    );
    h.tool(
        diagnostic(
            "test_input_required_result_multi_round",
            "Asks two questions in two rounds",
        ),
        |ctx: RequestContext, _: Value| async move {
            let step1 = ctx
                .input(
                    "step1",
                    "elicitation/create",
                    elicit_params("Step 1: What is your name?", "name", "string"),
                )
                .await?;
            let step2 = ctx
                .input(
                    "step2",
                    "elicitation/create",
                    elicit_params("Step 2: What is your favorite color?", "color", "string"),
                )
                .await?;
            Ok(ToolResult::text(format!(
                "{} likes {}.",
                accepted(&step1, "name").unwrap_or_default(),
                accepted(&step2, "color").unwrap_or_default()
            )))
        },
    );
    h.tool(
        diagnostic(
            "test_input_required_result_capabilities",
            "Asks only what the client declared it can answer",
        ),
        |ctx: RequestContext, _: Value| async move {
            let mut answers = Vec::new();
            if ctx.client_declares("sampling") {
                answers.push(
                    ctx.input(
                        "sampling",
                        "sampling/createMessage",
                        sample("Say hello", 20),
                    )
                    .await,
                );
            }
            if ctx.client_declares("elicitation") {
                answers.push(
                    ctx.input(
                        "elicitation",
                        "elicitation/create",
                        elicit_params("What is your name?", "name", "string"),
                    )
                    .await,
                );
            }
            if ctx.client_declares("roots") {
                answers.push(ctx.input("roots", "roots/list", json!({})).await);
            }
            if answers.is_empty() {
                return Err(mcpx_server::AskError::MissingCapability("sampling").into());
            }
            let answered = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
            Ok(ToolResult::text(format!(
                "{} answers received",
                answered.len()
            )))
        },
    );
    h.tool(
        diagnostic(
            "test_missing_capability",
            "Requires the client's sampling capability (SEP-2575 diagnostic)",
        ),
        |ctx: RequestContext, _: Value| async move {
            let answer = ctx
                .input("sample", "sampling/createMessage", sample("Say hello", 20))
                .await?;
            Ok(ToolResult::text(answer_text(&answer)))
        },
    );
    h.tool(
        diagnostic(
            "test_streaming_elicitation",
            "Asks for confirmation without a server-to-client request in 2026-07-28",
        ),
        |ctx: RequestContext, _: Value| async move {
            let answer = ctx
                .input(
                    "confirm",
                    "elicitation/create",
                    elicit_params("Please confirm", "ok", "boolean"),
                )
                .await?;
            Ok(ToolResult::text(format!(
                "confirmed: {}",
                accepted(&answer, "ok").unwrap_or_default()
            )))
        },
    );
    h.tool(
        diagnostic(
            "test_logging_tool",
            "Logs two lines (only when the request asks for logs) and answers",
        ),
        |ctx: RequestContext, _: Value| async move {
            ctx.log("info", Some("test_logging_tool"), json!("first log line"))
                .await;
            ctx.log(
                "warning",
                Some("test_logging_tool"),
                json!("second log line"),
            )
            .await;
            Ok(ToolResult::text("logged"))
        },
    );
    h.prompt(
        json!({"name": "test_input_required_result_prompt", "description": "A prompt that asks the user for context first"}),
        |ctx: RequestContext, _: Value| async move {
            let answer = ctx.input("user_context", "elicitation/create", elicit_params("What context should the prompt use?", "context", "string")).await?;
            let context = accepted(&answer, "context").unwrap_or_default();
            Ok(json!({"messages": [{"role": "user", "content": {"type": "text", "text": format!("Use this context: {context}")}}]}))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_text_reads_one_block_or_an_array() {
        let one = json!({"role": "assistant", "content": {"type": "text", "text": "hi"}});
        assert_eq!(sampled_text(&one), "hi");
        let many =
            json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]});
        assert_eq!(sampled_text(&many), "a\nb");
    }

    #[test]
    fn completion_candidates_for_the_suite_request() {
        let reference = json!({"type": "ref/prompt", "name": "test_prompt_with_arguments"});
        let values = completion_candidates(&reference, "arg1");
        assert!(values.iter().any(|v| v.starts_with("test")));
        assert!(completion_candidates(&json!({}), "arg1").is_empty());
    }

    #[test]
    fn handlers_build() {
        let handlers = conformance_handlers();
        let caps = handlers.capabilities();
        for key in ["tools", "resources", "prompts", "completions", "logging"] {
            assert!(caps.get(key).is_some(), "missing capability {key}");
        }
    }
}
