//! Typed views of every MCP method (2025-11-25 and 2026-07-28) through the public API:
//! realistic params and results (several from `shared/traffic/sample-trace.jsonl`), round trips,
//! borrowing, unknown fields and content types, and the hidden dispatchers.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers unwrap like the tests they serve"
)]

use std::borrow::Cow;

use mcpx_wire::mcp::{self, *};
use proptest::prelude::*;

/// Serializes `$v`, deserializes it back as `$ty` and checks equality.
macro_rules! assert_round_trip {
    ($ty:ty, $v:expr) => {{
        let text = serde_json::to_string(&$v).unwrap();
        let back: $ty = serde_json::from_str(&text).unwrap();
        assert_eq!(back, $v, "round trip through {text}");
        text
    }};
}

fn params<'a, R: Request>(json: &'a str) -> R::Params<'a> {
    serde_json::from_str(json).unwrap()
}

fn result<'a, R: Request>(json: &'a str) -> R::Result<'a> {
    serde_json::from_str(json).unwrap()
}

fn nparams<'a, N: Notification>(json: &'a str) -> N::Params<'a> {
    serde_json::from_str(json).unwrap()
}

#[allow(clippy::ptr_arg, reason = "the point is to inspect the Cow")]
fn is_borrowed(c: &Cow<'_, str>) -> bool {
    matches!(c, Cow::Borrowed(_))
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

#[test]
fn initialize_params_from_trace() {
    // sample-trace.jsonl line 14 (claude-code).
    let json = r#"{"protocolVersion":"2025-11-25","capabilities":{"roots":{},"elicitation":{}},"clientInfo":{"name":"claude-code","version":"2.1.274"}}"#;
    let p = params::<Initialize>(json);
    assert_eq!(p.protocol_version, "2025-11-25");
    assert!(is_borrowed(&p.protocol_version));
    assert!(is_borrowed(&p.client_info.name));
    assert_eq!(p.client_info.version, "2.1.274");
    assert_eq!(p.capabilities.roots, Some(ListChangedCapability::default()));
    assert_eq!(
        p.capabilities.elicitation,
        Some(ElicitationCapability::default())
    );
    assert!(p.capabilities.sampling.is_none());
    assert_round_trip!(InitializeRequestParams<'_>, p);
}

#[test]
fn initialize_params_full_2025_11_25() {
    let json = r#"{"protocolVersion":"2025-11-25","capabilities":{"roots":{"listChanged":true},"sampling":{"context":{},"tools":{}},"elicitation":{"form":{},"url":{}},"tasks":{"list":{},"cancel":{}},"experimental":{"x.y/z":{"a":1}}},"clientInfo":{"name":"c","title":"Client","version":"1","description":"d","icons":[{"src":"https://x/i.png","mimeType":"image/png","sizes":["48x48"],"theme":"dark"}],"websiteUrl":"https://x"},"_meta":{"progressToken":"t"},"futureField":[1,2]}"#;
    let p = params::<Initialize>(json);
    let caps = &p.capabilities;
    assert_eq!(caps.roots.as_ref().unwrap().list_changed, Some(true));
    assert_eq!(caps.sampling.as_ref().unwrap().tools.unwrap().get(), "{}");
    assert_eq!(caps.elicitation.as_ref().unwrap().url.unwrap().get(), "{}");
    assert_eq!(caps.tasks.unwrap().get(), r#"{"list":{},"cancel":{}}"#);
    assert_eq!(caps.experimental.unwrap().get(), r#"{"x.y/z":{"a":1}}"#);
    let icon = &p.client_info.icons.as_ref().unwrap()[0];
    assert_eq!(icon.theme, Some(IconTheme::Dark));
    assert!(is_borrowed(&icon.sizes.as_ref().unwrap()[0]));
    assert!(is_borrowed(p.client_info.website_url.as_ref().unwrap()));
    assert_eq!(
        RequestMeta::from_meta(p.meta).unwrap().progress_token,
        Some(ProgressToken::Str(Cow::Borrowed("t")))
    );
    assert_round_trip!(InitializeRequestParams<'_>, p);
}

#[test]
fn initialize_result_from_trace() {
    // sample-trace.jsonl line 3.
    let json = r#"{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true},"prompts":{},"resources":{}},"serverInfo":{"name":"notes-hub","version":"1.8.0"},"instructions":"Notes for one workspace. Search first, then read notes by id. Reports over big folders are slow and report progress."}"#;
    let r = result::<Initialize>(json);
    assert_eq!(r.server_info.name, "notes-hub");
    assert_eq!(
        r.capabilities.tools.as_ref().unwrap().list_changed,
        Some(true)
    );
    assert_eq!(
        r.capabilities.prompts,
        Some(ListChangedCapability::default())
    );
    assert_eq!(
        r.capabilities.resources,
        Some(ResourcesCapability::default())
    );
    assert!(r.capabilities.logging.is_none());
    assert!(is_borrowed(r.instructions.as_ref().unwrap()));
    assert_round_trip!(InitializeResult<'_>, r);
}

#[test]
fn initialized_ping_and_empty_results() {
    let n = nparams::<Initialized>("{}");
    assert_eq!(n, NotificationParams::default());
    let p = params::<Ping>(r#"{"_meta":{"progressToken":1}}"#);
    assert_eq!(p.meta.unwrap().get(), r#"{"progressToken":1}"#);
    let r = result::<Ping>("{}");
    assert_eq!(r, EmptyResult::default());
    assert_eq!(serde_json::to_string(&r).unwrap(), "{}");
    let r = result::<Ping>(r#"{"resultType":"complete"}"#);
    assert_eq!(r.result_type, Some(ResultType::Complete));
}

#[test]
fn server_discover_from_trace() {
    // sample-trace.jsonl lines 47 and 48.
    let json = r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"claude-ai","version":"1.4.2"}}}"#;
    let p = params::<Discover>(json);
    let meta = RequestMeta::from_meta(p.meta).unwrap();
    assert_eq!(meta.protocol_version.as_deref(), Some("2026-07-28"));
    assert!(is_borrowed(meta.protocol_version.as_ref().unwrap()));
    assert_eq!(
        meta.client_capabilities,
        Some(ClientCapabilities::default())
    );
    assert_eq!(meta.client_info.as_ref().unwrap().name, "claude-ai");
    assert_eq!(meta.progress_token, None);
    assert_round_trip!(RequestMeta<'_>, meta);
    assert_round_trip!(RequestParams<'_>, p);

    let json = r#"{"resultType":"complete","supportedVersions":["2026-07-28","2025-11-25","2025-06-18","2025-03-26"],"capabilities":{"tools":{"listChanged":true},"prompts":{},"resources":{}},"instructions":"Notes for one workspace.","ttlMs":3600000,"cacheScope":"public","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"notes-hub","version":"1.8.0"}}}"#;
    let r = result::<Discover>(json);
    assert_eq!(r.result_type, Some(ResultType::Complete));
    assert_eq!(r.supported_versions.len(), 4);
    assert!(r.supported_versions.iter().all(is_borrowed));
    assert_eq!(r.ttl_ms, Some(3_600_000));
    assert_eq!(r.cache_scope, Some(CacheScope::Public));
    let meta = ResultMeta::from_meta(r.meta).unwrap();
    assert_eq!(meta.server_info.unwrap().version, "1.8.0");
    assert_round_trip!(DiscoverResult<'_>, r);
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

const TOOLS_LIST_RESULT: &str = r#"{"tools":[{"name":"search_notes","title":"Search notes","description":"Full-text search across the workspace's notes. Plain words are AND-ed, quoted phrases match exactly.","inputSchema":{"type":"object","properties":{"query":{"type":"string","description":"Search expression, see the tool description.","minLength":1,"maxLength":500},"limit":{"type":"integer","minimum":1,"maximum":50,"default":10}},"required":["query"],"additionalProperties":false},"annotations":{"readOnlyHint":true,"openWorldHint":false}},{"name":"get_note","title":"Read a note","description":"Returns one note by id.","inputSchema":{"type":"object","properties":{"note_id":{"type":"string","pattern":"^n_[0-9]+$"}},"required":["note_id"],"additionalProperties":false},"outputSchema":{"type":"object","properties":{"id":{"type":"string"},"truncated":{"type":"boolean"}},"required":["id","truncated"]},"annotations":{"readOnlyHint":true,"openWorldHint":false}}]}"#;

#[test]
fn tools_list_from_trace() {
    assert_eq!(params::<ListTools>("{}"), PaginatedRequestParams::default());
    let p = params::<ListTools>(r#"{"cursor":"page-2"}"#);
    assert!(is_borrowed(p.cursor.as_ref().unwrap()));

    let r = result::<ListTools>(TOOLS_LIST_RESULT);
    assert_eq!(r.tools.len(), 2);
    let t = &r.tools[0];
    assert!(is_borrowed(&t.name));
    assert!(is_borrowed(t.description.as_ref().unwrap()));
    assert!(
        t.input_schema
            .get()
            .starts_with(r#"{"type":"object","properties":{"query""#)
    );
    let ann = t.annotations.as_ref().unwrap();
    assert_eq!(ann.read_only_hint, Some(true));
    assert_eq!(ann.open_world_hint, Some(false));
    assert_eq!(ann.destructive_hint, None);
    assert!(t.output_schema.is_none());
    assert!(
        r.tools[1]
            .output_schema
            .unwrap()
            .get()
            .contains("truncated")
    );
    assert_eq!(r.next_cursor, None);
    assert_eq!(r.result_type, None);
    let text = assert_round_trip!(ListToolsResult<'_>, r);
    assert_eq!(text, TOOLS_LIST_RESULT);
}

#[test]
fn tools_list_2026_and_2025_extras() {
    let json = r#"{"resultType":"complete","tools":[{"name":"t","inputSchema":{"type":"object","$defs":{"a":{}},"oneOf":[]},"outputSchema":{"type":"array"},"icons":[{"src":"data:image/png;base64,AA=="}],"execution":{"taskSupport":"optional"},"_meta":{"x/y":1},"x-mcp-header":"h"}],"nextCursor":"","ttlMs":300000,"cacheScope":"private"}"#;
    let r = result::<ListTools>(json);
    assert_eq!(r.next_cursor.as_deref(), Some(""));
    assert_eq!(r.cache_scope, Some(CacheScope::Private));
    assert_eq!(r.ttl_ms, Some(300_000));
    let t = &r.tools[0];
    assert_eq!(t.output_schema.unwrap().get(), r#"{"type":"array"}"#);
    assert_eq!(
        t.execution.as_ref().unwrap().task_support,
        Some(TaskSupport::Optional)
    );
    assert_eq!(t.meta.unwrap().get(), r#"{"x/y":1}"#);
    assert_round_trip!(ListToolsResult<'_>, r);
}

#[test]
fn tools_call_with_progress_token_from_trace() {
    // sample-trace.jsonl line 33.
    let json = r#"{"name":"search_notes","arguments":{"query":"onboarding \"access request\"","limit":10},"_meta":{"progressToken":4,"claudecode/toolUseId":"toolu_01DZNVAg9lTphK2GsPOMyWeK"}}"#;
    let p = params::<CallTool>(json);
    assert_eq!(p.name, "search_notes");
    assert!(is_borrowed(&p.name));
    // The arguments are the exact input text, escapes untouched.
    assert_eq!(
        p.arguments.unwrap().get(),
        r#"{"query":"onboarding \"access request\"","limit":10}"#
    );
    let meta = RequestMeta::from_meta(p.meta).unwrap();
    assert_eq!(meta.progress_token, Some(ProgressToken::Int(4)));
    // The unknown `_meta` key is not in the typed view but is still in the raw `_meta`.
    assert!(p.meta.unwrap().get().contains("claudecode/toolUseId"));
    let text = assert_round_trip!(CallToolRequestParams<'_>, p);
    assert_eq!(text, json);
}

#[test]
fn tools_call_2026_mrtr_params() {
    let json = r#"{"name":"deploy","arguments":{},"inputResponses":{"confirm":{"action":"accept","content":{"ok":true}},"model":{"role":"assistant","content":{"type":"text","text":"x"},"model":"m"}},"requestState":"eyJ0IjoxfQ==","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},"io.modelcontextprotocol/logLevel":"info"}}"#;
    let p = params::<CallTool>(json);
    assert!(is_borrowed(p.request_state.as_ref().unwrap()));
    let responses = p.input_responses.as_ref().unwrap();
    assert!(responses.keys().all(is_borrowed));
    let confirm: ElicitResult<'_> = responses["confirm"].parse().unwrap();
    assert_eq!(confirm.action, ElicitAction::Accept);
    assert_eq!(confirm.content.unwrap().get(), r#"{"ok":true}"#);
    let model: CreateMessageResult<'_> = responses["model"].parse().unwrap();
    assert_eq!(model.model, "m");
    let meta = RequestMeta::from_meta(p.meta).unwrap();
    assert_eq!(meta.log_level, Some(LoggingLevel::Info));
    assert!(meta.client_capabilities.unwrap().elicitation.is_some());
    assert_round_trip!(CallToolRequestParams<'_>, p);
}

#[test]
fn tools_call_result_from_trace() {
    // sample-trace.jsonl line 66.
    let json = r#"{"content":[{"type":"text","text":"{\"note_id\":\"n_9240\",\"revision\":1}"}],"isError":false}"#;
    let r = result::<CallTool>(json);
    let c = r.complete().unwrap();
    assert_eq!(c.is_error, Some(false));
    let ContentBlock::Text(t) = &c.content[0] else {
        panic!("expected text, got {:?}", c.content[0])
    };
    // Escaped JSON text must be unescaped, so it is owned.
    assert_eq!(t.text, r#"{"note_id":"n_9240","revision":1}"#);
    assert!(!is_borrowed(&t.text));
    let text = assert_round_trip!(MaybeInputRequired<'_, CallToolResult<'_>>, r);
    assert_eq!(text, json);
}

#[test]
fn tools_call_result_all_content_types_and_unknown() {
    let json = r#"{"resultType":"complete","content":[
        {"type":"text","text":"hi","annotations":{"audience":["user","assistant"],"priority":1,"lastModified":"2025-01-12T15:00:58Z"},"_meta":{"k":1}},
        {"type":"image","data":"iVBORw0KGgo=","mimeType":"image/png"},
        {"type":"audio","data":"UklGRg==","mimeType":"audio/wav"},
        {"type":"resource_link","uri":"file:///a.rs","name":"a.rs","mimeType":"text/x-rust","size":12},
        {"type":"resource","resource":{"uri":"file:///b.txt","mimeType":"text/plain","text":"body"}},
        {"type":"resource","resource":{"uri":"file:///c.bin","blob":"AAEC"}},
        {"type":"hologram","frames":[1,2,3],"text":42},
        {"type":"text","text":"done","novel":{"nested":true}}
    ],"structuredContent":[1,"two"],"isError":true}"#;
    let r = result::<CallTool>(json);
    let c = r.complete().unwrap();
    assert_eq!(c.content.len(), 8);
    assert_eq!(c.result_type, Some(ResultType::Complete));
    let kinds: Vec<_> = c.content.iter().map(|b| b.kind()).collect();
    assert_eq!(
        kinds,
        [
            Some("text"),
            Some("image"),
            Some("audio"),
            Some("resource_link"),
            Some("resource"),
            Some("resource"),
            Some("hologram"),
            Some("text")
        ]
    );
    match &c.content[0] {
        ContentBlock::Text(t) => {
            let a = t.annotations.as_ref().unwrap();
            assert_eq!(
                a.audience.as_deref(),
                Some(&[Role::User, Role::Assistant][..])
            );
            assert_eq!(a.priority, Some(1.0));
            assert!(is_borrowed(a.last_modified.as_ref().unwrap()));
            assert_eq!(t.meta.unwrap().get(), r#"{"k":1}"#);
        }
        other => panic!("{other:?}"),
    }
    match &c.content[1] {
        ContentBlock::Image(i) => {
            assert_eq!(i.mime_type, "image/png");
            assert!(is_borrowed(&i.data));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&c.content[2], ContentBlock::Audio(a) if a.mime_type == "audio/wav"));
    assert!(matches!(&c.content[3], ContentBlock::ResourceLink(l) if l.size == Some(12)));
    match &c.content[4] {
        ContentBlock::Resource(e) => {
            assert_eq!(e.resource.text.as_deref(), Some("body"));
            assert_eq!(e.resource.blob, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&c.content[5], ContentBlock::Resource(e) if e.resource.blob.as_deref() == Some("AAEC"))
    );
    match &c.content[6] {
        ContentBlock::Unknown(raw) => {
            assert_eq!(
                raw.get(),
                r#"{"type":"hologram","frames":[1,2,3],"text":42}"#
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&c.content[7], ContentBlock::Text(t) if t.text == "done"));
    assert_eq!(c.structured_content.unwrap().get(), r#"[1,"two"]"#);
    assert_eq!(c.is_error, Some(true));
    let text = assert_round_trip!(MaybeInputRequired<'_, CallToolResult<'_>>, r);
    assert!(text.contains(r#"{"type":"hologram","frames":[1,2,3],"text":42}"#));
}

#[test]
fn tools_call_input_required_2026() {
    let json = r#"{"resultType":"input_required","inputRequests":{"confirm":{"method":"elicitation/create","params":{"mode":"form","message":"Deploy?","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}},"pick":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"pick"}}],"maxTokens":50}},"where":{"method":"roots/list"}},"requestState":"opaque-1"}"#;
    let r = result::<CallTool>(json);
    let ir = r.input_required().unwrap();
    assert_eq!(ir.result_type, ResultType::InputRequired);
    let reqs = ir.input_requests.as_ref().unwrap();
    assert_eq!(reqs.len(), 3);
    let confirm = &reqs["confirm"];
    assert_eq!(confirm.method, Elicit::METHOD);
    assert!(
        deserialize_params_by_method(&confirm.method, confirm.params.unwrap().get().as_bytes())
            .unwrap()
    );
    let e: ElicitRequestParams<'_> = confirm.params.unwrap().parse().unwrap();
    assert_eq!(e.message, "Deploy?");
    assert!(!e.is_url_mode());
    let s: CreateMessageRequestParams<'_> = reqs["pick"].params.unwrap().parse().unwrap();
    assert_eq!(s.max_tokens, 50);
    assert_eq!(reqs["where"].params, None);
    assert_eq!(ir.request_state.as_deref(), Some("opaque-1"));
    assert_round_trip!(MaybeInputRequired<'_, CallToolResult<'_>>, r);

    // A hand-built interim result serializes with its resultType.
    let built: MaybeInputRequired<'_, CallToolResult<'_>> =
        MaybeInputRequired::InputRequired(InputRequiredResult {
            request_state: Some("s".into()),
            ..InputRequiredResult::default()
        });
    assert_eq!(
        serde_json::to_string(&built).unwrap(),
        r#"{"resultType":"input_required","requestState":"s"}"#
    );
}

#[test]
fn tools_call_result_encodes_for_servers() {
    let r = CallToolResult {
        content: vec![ContentBlock::text("42")],
        structured_content: Some(Json::new(r#"{"answer":42}"#).unwrap()),
        ..CallToolResult::default()
    };
    let mut out = Vec::new();
    serde_json::to_writer(&mut out, &r).unwrap();
    assert_eq!(
        out,
        br#"{"content":[{"type":"text","text":"42"}],"structuredContent":{"answer":42}}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

#[test]
fn resources_list_from_trace() {
    // sample-trace.jsonl line 54 (2026-07-28).
    let json = r#"{"resultType":"complete","resources":[{"uri":"notes://folders","name":"folders","title":"Folder tree","mimeType":"application/json"},{"uri":"notes://tags","name":"tags","title":"All tags with counts","mimeType":"application/json"}],"ttlMs":300000,"cacheScope":"public"}"#;
    let r = result::<ListResources>(json);
    assert_eq!(r.resources.len(), 2);
    assert_eq!(r.resources[1].uri, "notes://tags");
    assert!(is_borrowed(&r.resources[0].uri));
    assert!(is_borrowed(r.resources[0].mime_type.as_ref().unwrap()));
    assert_eq!(r.cache_scope, Some(CacheScope::Public));
    assert_round_trip!(ListResourcesResult<'_>, r);
}

#[test]
fn resource_templates_list() {
    let p = params::<ListResourceTemplates>(r#"{"cursor":"abc"}"#);
    assert_eq!(p.cursor.as_deref(), Some("abc"));
    let json = r#"{"resourceTemplates":[{"uriTemplate":"file:///{path}","name":"project_files","title":"Project Files","description":"Access files","mimeType":"application/octet-stream","icons":[{"src":"https://e/i.svg"}],"annotations":{"priority":0.2}}],"nextCursor":"n"}"#;
    let r = result::<ListResourceTemplates>(json);
    let t = &r.resource_templates[0];
    assert_eq!(t.uri_template, "file:///{path}");
    assert!(is_borrowed(&t.uri_template));
    assert_eq!(t.annotations.as_ref().unwrap().priority, Some(0.2));
    assert_eq!(r.next_cursor.as_deref(), Some("n"));
    assert_round_trip!(ListResourceTemplatesResult<'_>, r);
}

#[test]
fn resources_read_text_blob_and_input_required() {
    let p = params::<ReadResource>(r#"{"uri":"file:///project/src/main.rs","requestState":"x"}"#);
    assert_eq!(p.uri, "file:///project/src/main.rs");
    assert!(is_borrowed(&p.uri));
    assert_round_trip!(ReadResourceRequestParams<'_>, p);

    let json = r#"{"contents":[{"uri":"file:///project/src/main.rs","mimeType":"text/x-rust","text":"fn main() {\n    println!(\"Hello world!\");\n}"},{"uri":"file:///logo.png","mimeType":"image/png","blob":"iVBORw0KGgo=","_meta":{"m":true}}],"ttlMs":0,"cacheScope":"private","resultType":"complete"}"#;
    let r = result::<ReadResource>(json);
    let c = r.complete().unwrap();
    assert_eq!(
        c.contents[0].text.as_deref(),
        Some("fn main() {\n    println!(\"Hello world!\");\n}")
    );
    assert!(!is_borrowed(c.contents[0].text.as_ref().unwrap()));
    assert!(is_borrowed(c.contents[1].blob.as_ref().unwrap()));
    assert_eq!(c.ttl_ms, Some(0));
    assert_round_trip!(MaybeInputRequired<'_, ReadResourceResult<'_>>, r);

    let r = result::<ReadResource>(r#"{"resultType":"input_required","requestState":"s"}"#);
    assert!(r.input_required().is_some());
}

#[test]
fn resources_subscribe_unsubscribe() {
    let p = params::<Subscribe>(r#"{"uri":"file:///project/src/main.rs"}"#);
    assert!(is_borrowed(&p.uri));
    let q = params::<Unsubscribe>(r#"{"uri":"file:///project/src/main.rs"}"#);
    assert_eq!(p, q);
    assert_eq!(result::<Subscribe>("{}"), EmptyResult::default());
    assert_eq!(
        result::<Unsubscribe>(r#"{"_meta":{}}"#).meta.unwrap().get(),
        "{}"
    );
    assert!(serde_json::from_str::<<Subscribe as Request>::Params<'_>>("{}").is_err());
}

// ---------------------------------------------------------------------------------------------
// Prompts
// ---------------------------------------------------------------------------------------------

#[test]
fn prompts_list_from_trace() {
    // sample-trace.jsonl line 52 (2026-07-28).
    let json = r#"{"resultType":"complete","prompts":[{"name":"weekly_summary","title":"Weekly summary","description":"Summarise the notes changed this week in one folder.","arguments":[{"name":"folder","description":"Folder to summarise","required":true}]}],"ttlMs":300000,"cacheScope":"public"}"#;
    let r = result::<ListPrompts>(json);
    let p = &r.prompts[0];
    assert_eq!(p.name, "weekly_summary");
    let arg = &p.arguments.as_ref().unwrap()[0];
    assert_eq!(arg.required, Some(true));
    assert!(is_borrowed(arg.description.as_ref().unwrap()));
    assert_eq!(r.ttl_ms, Some(300_000));
    let text = assert_round_trip!(ListPromptsResult<'_>, r);
    assert_eq!(text, json);
}

#[test]
fn prompts_get_params_and_result() {
    let p = params::<GetPrompt>(
        r#"{"name":"code_review","arguments":{"code":"def hello():\n    print('world')","lang":"py"}}"#,
    );
    let args = p.arguments.as_ref().unwrap();
    assert!(is_borrowed(&args["lang"]));
    assert!(!is_borrowed(&args["code"]));
    assert!(args.keys().all(is_borrowed));
    assert_round_trip!(GetPromptRequestParams<'_>, p);

    let json = r#"{"description":"Code review prompt","messages":[{"role":"user","content":{"type":"text","text":"Please review this Python code"}},{"role":"assistant","content":{"type":"image","data":"AA==","mimeType":"image/png"}},{"role":"user","content":{"type":"resource","resource":{"uri":"resource://example","mimeType":"text/plain","text":"Resource content"}}},{"role":"user","content":{"type":"resource_link","uri":"file:///x","name":"x"}},{"role":"system","content":{"type":"3d-model","uri":"x"}}]}"#;
    let r = result::<GetPrompt>(json);
    let g = r.complete().unwrap();
    assert_eq!(g.messages.len(), 5);
    assert_eq!(g.messages[0].role, Role::User);
    assert!(matches!(g.messages[1].content, ContentBlock::Image(_)));
    assert!(matches!(g.messages[2].content, ContentBlock::Resource(_)));
    assert!(matches!(
        g.messages[3].content,
        ContentBlock::ResourceLink(_)
    ));
    // Unknown role and unknown content type both pass.
    assert_eq!(g.messages[4].role, Role::Unknown(Cow::Borrowed("system")));
    assert!(matches!(g.messages[4].content, ContentBlock::Unknown(_)));
    let text = assert_round_trip!(MaybeInputRequired<'_, GetPromptResult<'_>>, r);
    assert_eq!(text, json);
}

// ---------------------------------------------------------------------------------------------
// Completion
// ---------------------------------------------------------------------------------------------

#[test]
fn completion_complete() {
    let p = params::<Complete>(
        r#"{"ref":{"type":"ref/prompt","name":"code_review"},"argument":{"name":"language","value":"py"},"context":{"arguments":{"framework":"flask"}}}"#,
    );
    match &p.reference {
        CompletionReference::Prompt(r) => assert!(is_borrowed(&r.name)),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.argument.value, "py");
    assert_eq!(
        p.context.as_ref().unwrap().arguments.as_ref().unwrap()["framework"],
        "flask"
    );
    assert_round_trip!(CompleteRequestParams<'_>, p);

    let p = params::<Complete>(
        r#"{"ref":{"type":"ref/resource","uri":"file:///{path}"},"argument":{"name":"path","value":"sr"}}"#,
    );
    assert!(matches!(&p.reference, CompletionReference::Resource(r) if r.uri == "file:///{path}"));
    let p = params::<Complete>(
        r#"{"ref":{"type":"ref/tool","name":"t"},"argument":{"name":"a","value":""}}"#,
    );
    assert!(matches!(p.reference, CompletionReference::Unknown(_)));
    assert_eq!(p.reference.kind(), Some("ref/tool"));
    assert_round_trip!(CompleteRequestParams<'_>, p);

    let r = result::<Complete>(
        r#"{"completion":{"values":["python","pytorch","pyside"],"total":10,"hasMore":true}}"#,
    );
    assert_eq!(r.completion.values, ["python", "pytorch", "pyside"]);
    assert!(r.completion.values.iter().all(is_borrowed));
    assert_eq!(r.completion.total, Some(10));
    assert_eq!(r.completion.has_more, Some(true));
    assert_round_trip!(CompleteResult<'_>, r);
}

// ---------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------

#[test]
fn logging_set_level_and_message() {
    let p = params::<SetLevel>(r#"{"level":"info"}"#);
    assert_eq!(p.level, LoggingLevel::Info);
    assert_round_trip!(SetLevelRequestParams<'_>, p);
    assert_eq!(result::<SetLevel>("{}"), EmptyResult::default());

    let n = nparams::<LoggingMessage>(
        r#"{"level":"error","logger":"database","data":{"error":"Connection failed","details":{"host":"localhost","port":5432}}}"#,
    );
    assert_eq!(n.level, LoggingLevel::Error);
    assert!(is_borrowed(n.logger.as_ref().unwrap()));
    assert_eq!(
        n.data.get(),
        r#"{"error":"Connection failed","details":{"host":"localhost","port":5432}}"#
    );
    assert_round_trip!(LoggingMessageNotificationParams<'_>, n);
    let n = nparams::<LoggingMessage>(r#"{"level":"verbose","data":"s"}"#);
    assert_eq!(n.level.severity(), None);
    assert!(
        serde_json::from_str::<<LoggingMessage as Notification>::Params<'_>>(r#"{"level":"info"}"#)
            .is_err(),
        "data is required"
    );
}

// ---------------------------------------------------------------------------------------------
// Subscriptions (2026-07-28)
// ---------------------------------------------------------------------------------------------

#[test]
fn subscriptions_listen_and_acknowledged() {
    let json = r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}},"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///a","file:///b"]}}"#;
    let p = params::<SubscriptionsListen>(json);
    assert_eq!(p.notifications.tools_list_changed, Some(true));
    assert_eq!(p.notifications.prompts_list_changed, None);
    let subs = p.notifications.resource_subscriptions.as_ref().unwrap();
    assert!(subs.iter().all(is_borrowed));
    assert_round_trip!(SubscriptionsListenRequestParams<'_>, p);

    let r = result::<SubscriptionsListen>(
        r#"{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":7}}"#,
    );
    let meta = ResultMeta::from_meta(r.meta).unwrap();
    assert_eq!(meta.subscription_id, Some(RequestIdRef::Int(7)));
    assert_round_trip!(SubscriptionsListenResult<'_>, r);

    let n = nparams::<SubscriptionsAcknowledged>(
        r#"{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":"listen-1"}}"#,
    );
    assert_eq!(
        NotificationMeta::from_meta(n.meta).unwrap().subscription_id,
        Some(RequestIdRef::Str(Cow::Borrowed("listen-1")))
    );
    assert_round_trip!(SubscriptionsAcknowledgedNotificationParams<'_>, n);
}

// ---------------------------------------------------------------------------------------------
// Client features: sampling, elicitation, roots
// ---------------------------------------------------------------------------------------------

#[test]
fn sampling_create_message() {
    let json = r#"{"messages":[{"role":"user","content":{"type":"text","text":"What is the capital of France?"}},{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","toolUseId":"call_1","content":[{"type":"text","text":"18C"}],"structuredContent":{"t":18},"isError":false}]}],"modelPreferences":{"hints":[{"name":"claude-3-sonnet"}],"intelligencePriority":0.8,"speedPriority":0.5},"systemPrompt":"You are a helpful assistant.","includeContext":"thisServer","temperature":0.2,"maxTokens":100,"stopSequences":["\n\nHuman:"],"metadata":{"k":"v"},"tools":[{"name":"get_weather","inputSchema":{"type":"object"}}],"toolChoice":{"mode":"auto"}}"#;
    let p = params::<CreateMessage>(json);
    assert_eq!(p.max_tokens, 100);
    assert_eq!(p.include_context, Some(IncludeContext::ThisServer));
    assert_eq!(
        p.tool_choice.as_ref().unwrap().mode,
        Some(ToolChoiceMode::Auto)
    );
    assert!(!is_borrowed(&p.stop_sequences.as_ref().unwrap()[0]));
    let prefs = p.model_preferences.as_ref().unwrap();
    assert_eq!(prefs.intelligence_priority, Some(0.8));
    assert!(is_borrowed(
        prefs.hints.as_ref().unwrap()[0].name.as_ref().unwrap()
    ));
    assert!(matches!(
        &p.messages[0].content,
        SamplingContent::One(SamplingContentBlock::Text(t)) if is_borrowed(&t.text)
    ));
    match &p.messages[1].content {
        SamplingContent::Many(v) => match &v[0] {
            SamplingContentBlock::ToolUse(u) => {
                assert_eq!(u.name, "get_weather");
                assert_eq!(u.input.get(), r#"{"city":"Paris"}"#);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    match &p.messages[2].content {
        SamplingContent::Many(v) => match &v[0] {
            SamplingContentBlock::ToolResult(r) => {
                assert_eq!(r.tool_use_id, "call_1");
                assert!(matches!(&r.content[0], ContentBlock::Text(t) if t.text == "18C"));
                assert_eq!(r.structured_content.unwrap().get(), r#"{"t":18}"#);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_round_trip!(CreateMessageRequestParams<'_>, p);

    let r = result::<CreateMessage>(
        r#"{"role":"assistant","content":{"type":"text","text":"The capital of France is Paris."},"model":"claude-3-sonnet-20240307","stopReason":"endTurn"}"#,
    );
    assert_eq!(r.stop_reason, Some(StopReason::EndTurn));
    assert!(is_borrowed(&r.model));
    assert_round_trip!(CreateMessageResult<'_>, r);
    let r = result::<CreateMessage>(
        r#"{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":{}},{"type":"thinking","thinking":"..."}],"model":"m","stopReason":"refusal"}"#,
    );
    assert_eq!(
        r.stop_reason,
        Some(StopReason::Unknown(Cow::Borrowed("refusal")))
    );
    assert!(
        matches!(&r.content, SamplingContent::Many(v) if matches!(v[1], SamplingContentBlock::Unknown(_)))
    );
    assert_round_trip!(CreateMessageResult<'_>, r);
}

#[test]
fn elicitation_create_form_and_url() {
    let json = r#"{"mode":"form","message":"Please provide your contact information","requestedSchema":{"type":"object","properties":{"name":{"type":"string","description":"Your full name"},"email":{"type":"string","format":"email"},"age":{"type":"number","minimum":18}},"required":["name","email"]}}"#;
    let p = params::<Elicit>(json);
    assert_eq!(p.mode, Some(ElicitationMode::Form));
    assert!(
        p.requested_schema
            .unwrap()
            .get()
            .contains(r#""format":"email""#)
    );
    assert_round_trip!(ElicitRequestParams<'_>, p);
    // Mode is optional for form requests.
    let p =
        params::<Elicit>(r#"{"message":"m","requestedSchema":{"type":"object","properties":{}}}"#);
    assert!(!p.is_url_mode());

    let p = params::<Elicit>(
        r#"{"mode":"url","message":"Sign in","url":"https://auth.example/start?x=1","elicitationId":"550e8400-e29b-41d4-a716-446655440000"}"#,
    );
    assert!(p.is_url_mode());
    assert!(is_borrowed(p.url.as_ref().unwrap()));
    assert_eq!(
        p.elicitation_id.as_deref(),
        Some("550e8400-e29b-41d4-a716-446655440000")
    );
    assert_round_trip!(ElicitRequestParams<'_>, p);

    let r = result::<Elicit>(
        r#"{"action":"accept","content":{"name":"Monalisa Octocat","email":"octocat@github.com","age":30,"tags":["a"]}}"#,
    );
    assert_eq!(r.action, ElicitAction::Accept);
    assert!(r.content.unwrap().get().contains("octocat@github.com"));
    assert_round_trip!(ElicitResult<'_>, r);
    let r = result::<Elicit>(r#"{"action":"decline"}"#);
    assert_eq!(r.action, ElicitAction::Decline);
    assert_eq!(r.content, None);

    let n = nparams::<ElicitationComplete>(r#"{"elicitationId":"550e8400"}"#);
    assert_eq!(n.elicitation_id, "550e8400");
}

#[test]
fn roots_list() {
    assert_eq!(params::<ListRoots>("{}"), RequestParams::default());
    let r = result::<ListRoots>(
        r#"{"roots":[{"uri":"file:///home/user/projects/myproject","name":"My Project"},{"uri":"file:///tmp","_meta":{"a":1}}]}"#,
    );
    assert_eq!(r.roots.len(), 2);
    assert!(is_borrowed(&r.roots[0].uri));
    assert_eq!(r.roots[0].name.as_deref(), Some("My Project"));
    assert_eq!(r.roots[1].name, None);
    assert_round_trip!(ListRootsResult<'_>, r);
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

#[test]
fn progress_notification_from_trace() {
    // sample-trace.jsonl line 46.
    let json = r#"{"progressToken":6,"progress":4,"total":14,"message":"read 4 of 14 notes"}"#;
    let n = nparams::<Progress>(json);
    assert_eq!(n.progress_token, ProgressToken::Int(6));
    assert_eq!(n.progress, 4.0);
    assert_eq!(n.total, Some(14.0));
    assert!(is_borrowed(n.message.as_ref().unwrap()));
    assert_round_trip!(ProgressNotificationParams<'_>, n);
    let n = nparams::<Progress>(r#"{"progressToken":"abc123","progress":0.5}"#);
    assert_eq!(
        n.progress_token,
        ProgressToken::Str(Cow::Borrowed("abc123"))
    );
    assert_eq!(n.total, None);
}

#[test]
fn cancelled_notification() {
    let n = nparams::<Cancelled>(r#"{"requestId":"123","reason":"User requested cancellation"}"#);
    assert_eq!(n.request_id, Some(RequestIdRef::Str(Cow::Borrowed("123"))));
    assert!(is_borrowed(n.reason.as_ref().unwrap()));
    assert_round_trip!(CancelledNotificationParams<'_>, n);
    let n = nparams::<Cancelled>(r#"{"requestId":42}"#);
    assert_eq!(n.request_id, Some(RequestIdRef::Int(42)));
    // 2025-11-25 makes requestId optional (tasks are cancelled with tasks/cancel).
    assert_eq!(nparams::<Cancelled>("{}").request_id, None);
}

#[test]
fn list_changed_and_updated_notifications() {
    let meta = r#"{"_meta":{"io.modelcontextprotocol/subscriptionId":3}}"#;
    let a = nparams::<ToolsListChanged>(meta);
    let b = nparams::<ResourcesListChanged>(meta);
    let c = nparams::<PromptsListChanged>(meta);
    let d = nparams::<RootsListChanged>("{}");
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(d, NotificationParams::default());
    assert_eq!(
        NotificationMeta::from_meta(a.meta).unwrap().subscription_id,
        Some(RequestIdRef::Int(3))
    );
    assert_round_trip!(NotificationParams<'_>, a);

    let n = nparams::<ResourceUpdated>(r#"{"uri":"file:///project/src/main.rs","title":"x"}"#);
    assert!(is_borrowed(&n.uri));
    assert_round_trip!(ResourceUpdatedNotificationParams<'_>, n);
}

// ---------------------------------------------------------------------------------------------
// Pass-through and robustness
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_fields_are_ignored_everywhere() {
    let cases: &[(&str, &str)] = &[
        (
            method::INITIALIZE,
            r#"{"protocolVersion":"v","capabilities":{"new":{}},"clientInfo":{"name":"n","version":"1","x":1},"x":[]}"#,
        ),
        (
            method::TOOLS_CALL,
            r#"{"name":"t","x":{"deep":[1,2,{"a":null}]}}"#,
        ),
        (method::TOOLS_LIST, r#"{"x":true}"#),
        (method::RESOURCES_READ, r#"{"uri":"u","x":1}"#),
        (method::PROMPTS_GET, r#"{"name":"p","x":1}"#),
        (
            method::COMPLETION_COMPLETE,
            r#"{"ref":{"type":"ref/prompt","name":"p","x":1},"argument":{"name":"a","value":"v","x":1},"x":1}"#,
        ),
        (
            method::NOTIFICATIONS_PROGRESS,
            r#"{"progressToken":1,"progress":1,"x":1}"#,
        ),
        (
            method::SUBSCRIPTIONS_LISTEN,
            r#"{"notifications":{"futureListChanged":true},"x":1}"#,
        ),
    ];
    for (m, p) in cases {
        assert!(
            deserialize_params_by_method(m, p.as_bytes()).unwrap(),
            "{m}"
        );
    }
}

#[test]
fn escaped_strings_are_owned_plain_ones_borrowed() {
    let p = params::<CallTool>(r#"{"name":"caf\u00e9"}"#);
    assert_eq!(p.name, "café");
    assert!(!is_borrowed(&p.name));
    let p = params::<CallTool>(r#"{"name":"café"}"#);
    assert!(is_borrowed(&p.name));
}

#[test]
fn dispatcher_answers_true_false_err() {
    assert!(deserialize_params_by_method("tools/call", br#"{"name":"x"}"#).unwrap());
    assert!(deserialize_params_by_method("tools/call", br#"{"arguments":{}}"#).is_err());
    assert!(deserialize_params_by_method("tools/call", br#"{"name":1}"#).is_err());
    assert!(deserialize_params_by_method("tools/call", b"").is_err());
    assert!(!deserialize_params_by_method("x/unknown", b"garbage").unwrap());
    assert!(!deserialize_params_by_method("", b"").unwrap());
    assert!(deserialize_result_by_method("tools/list", TOOLS_LIST_RESULT.as_bytes()).unwrap());
    assert!(deserialize_result_by_method("tools/list", b"{}").is_err());
    assert!(!deserialize_result_by_method("notifications/progress", b"{}").unwrap());
    assert!(!deserialize_result_by_method("x/unknown", b"{").unwrap());
    // Every request with all-optional params accepts `{}`.
    for m in [
        method::PING,
        method::SERVER_DISCOVER,
        method::TOOLS_LIST,
        method::RESOURCES_LIST,
        method::RESOURCES_TEMPLATES_LIST,
        method::PROMPTS_LIST,
        method::ROOTS_LIST,
        method::NOTIFICATIONS_INITIALIZED,
        method::NOTIFICATIONS_CANCELLED,
        method::NOTIFICATIONS_TOOLS_LIST_CHANGED,
        method::NOTIFICATIONS_RESOURCES_LIST_CHANGED,
        method::NOTIFICATIONS_PROMPTS_LIST_CHANGED,
        method::NOTIFICATIONS_ROOTS_LIST_CHANGED,
    ] {
        assert!(deserialize_params_by_method(m, b"{}").unwrap(), "{m}");
    }
}

/// Valid params/results per method, used as seeds for truncation and mutation.
fn seeds() -> Vec<(&'static str, bool, &'static str)> {
    vec![
        (
            method::TOOLS_CALL,
            false,
            r#"{"name":"a","arguments":{"q":"\u00e9\"x"},"_meta":{"progressToken":"p"},"inputResponses":{"k":{"action":"accept"}}}"#,
        ),
        (
            method::TOOLS_CALL,
            true,
            r#"{"content":[{"type":"text","text":"a\nb"},{"type":"resource","resource":{"uri":"u","blob":"AA"}},{"type":"zz"}],"isError":false}"#,
        ),
        (
            method::TOOLS_CALL,
            true,
            r#"{"resultType":"input_required","inputRequests":{"a":{"method":"roots/list"}},"requestState":"s"}"#,
        ),
        (method::TOOLS_LIST, true, TOOLS_LIST_RESULT),
        (
            method::SAMPLING_CREATE_MESSAGE,
            false,
            r#"{"messages":[{"role":"user","content":[{"type":"tool_result","toolUseId":"1","content":[{"type":"text","text":"t"}]}]}],"maxTokens":1}"#,
        ),
        (
            method::SAMPLING_CREATE_MESSAGE,
            true,
            r#"{"role":"assistant","content":{"type":"text","text":"x"},"model":"m"}"#,
        ),
        (
            method::COMPLETION_COMPLETE,
            false,
            r#"{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"v"}}"#,
        ),
        (
            method::INITIALIZE,
            false,
            r#"{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"c","version":"1"}}"#,
        ),
        (
            method::PROMPTS_GET,
            true,
            r#"{"messages":[{"role":"user","content":{"type":"text","text":"x"}}]}"#,
        ),
        (
            method::NOTIFICATIONS_PROGRESS,
            false,
            r#"{"progressToken":6,"progress":4,"total":14,"message":"m"}"#,
        ),
    ]
}

fn dispatch(method: &str, is_result: bool, bytes: &[u8]) -> Result<bool, serde_json::Error> {
    if is_result {
        deserialize_result_by_method(method, bytes)
    } else {
        deserialize_params_by_method(method, bytes)
    }
}

#[test]
fn dispatcher_survives_truncation_and_garbage() {
    for (m, is_result, json) in seeds() {
        assert!(
            dispatch(m, is_result, json.as_bytes()).unwrap(),
            "{m}: {json}"
        );
        for cut in 0..json.len() {
            let r = dispatch(m, is_result, &json.as_bytes()[..cut]);
            assert!(r.is_err(), "{m}: truncated at {cut} accepted");
        }
    }
    let deep_array = "[".repeat(100_000);
    let deep_object = r#"{"a":"#.repeat(100_000);
    let deep_content = format!(
        r#"{{"content":[{{"type":"text","text":"x","_meta":{}1{}}}]}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let garbage: Vec<&[u8]> = vec![
        b"",
        b"null",
        b"[]",
        b"\xff\xfe\x00",
        b"{\"name\":\"\xff\"}",
        b"{\"name\":\"a\\ud800\"}",
        b"{\"content\":[{\"type\":\"text\",\"text\":1}]}",
        b"{\"content\":[{\"type\":{\"a\":1}}]}",
        b"{\"content\":[\"text\"]}",
        b"{\"content\":{}}",
        b"{\"resultType\":\"input_required\"}",
        b"{\"resultType\":7,\"content\":[]}",
        b"{\"messages\":[{\"role\":\"user\",\"content\":[[[]]]}],\"maxTokens\":1}",
        deep_array.as_bytes(),
        deep_object.as_bytes(),
        deep_content.as_bytes(),
    ];
    for bytes in garbage {
        for &m in mcp::method::REQUESTS
            .iter()
            .chain(mcp::method::NOTIFICATIONS)
        {
            let _ = deserialize_params_by_method(m, bytes);
            let _ = deserialize_result_by_method(m, bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dispatcher_never_panics_on_mutated_seeds(
        idx in 0usize..10,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        as_other in 0usize..29,
    ) {
        let seeds = seeds();
        let (m, is_result, json) = seeds[idx % seeds.len()];
        let mut bytes = json.as_bytes().to_vec();
        for (pos, b) in edits {
            let i = pos % bytes.len();
            bytes[i] = b;
        }
        let _ = dispatch(m, is_result, &bytes);
        let all: Vec<&str> = mcp::method::REQUESTS
            .iter()
            .chain(mcp::method::NOTIFICATIONS)
            .copied()
            .collect();
        let other = all[as_other % all.len()];
        let _ = deserialize_params_by_method(other, &bytes);
        let _ = deserialize_result_by_method(other, &bytes);
    }

    #[test]
    fn dispatcher_never_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        as_other in 0usize..29,
    ) {
        let all: Vec<&str> = mcp::method::REQUESTS
            .iter()
            .chain(mcp::method::NOTIFICATIONS)
            .copied()
            .collect();
        let m = all[as_other % all.len()];
        let _ = deserialize_params_by_method(m, &bytes);
        let _ = deserialize_result_by_method(m, &bytes);
    }
}
