//! The synthetic target as data (`[target]`, PROFILE 2.3): tool, prompt and resource
//! definitions, and per-call behaviour draws, so `mcpx serve --mock claude` needs no logic of
//! its own; plus [`ToolInfo`], the tool facts a [`crate::Plan`] needs from any `tools/list`.
//!
//! How a server uses [`MockTarget`]:
//! - `initialize` / `server/discover`: answer with `spec().server_info`, `spec().capabilities`
//!   and [`MockTarget::versions`] (2026-07-28 listed only when [`MockTarget::is_modern`]).
//! - `tools/list`, `prompts/list`, `resources/list`: [`MockTarget::tools_json`],
//!   [`MockTarget::prompts_json`], [`MockTarget::resources_json`] (one page each).
//! - `tools/call`: `draw_call(tool_index(name), &mut rng)` with an [`Rng`] from
//!   `Rng::derive(seed, DOMAIN_TARGET, n)` (n = a per-server call counter, or the session's
//!   ordinal): wait `latency_us` (+ [`MockTarget::cold_start_us`] on a tool's first call),
//!   sending `notifications/progress` every `progress_interval_us` over SSE when `sse`, then
//!   the [`CallReply`] (a text of `text_bytes`, doubled as `structuredContent` when
//!   `structured`, or a JSON-RPC error).
//! - GET streams: [`MockTarget::get_stream_policy`]; legacy sessions idle out after
//!   `spec().session_idle_ttl_us`.
//!
//! [`DOMAIN_TARGET`]: crate::DOMAIN_TARGET

use serde_json::{Map, Value as Json, json};

use crate::dist::Dist;
use crate::format::{ResponseMode, TargetSpec};
use crate::rng::Rng;

/// The stateless protocol version (no `initialize`, no sessions).
pub const MODERN_VERSION: &str = "2026-07-28";

/// The facts about one tool that virtual users need (from any server's `tools/list`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ToolInfo {
    /// Tool name.
    pub name: String,
    /// `annotations.readOnlyHint`.
    pub read_only: bool,
    /// `annotations.destructiveHint`.
    pub destructive: bool,
    /// `inputSchema`.
    pub input_schema: Json,
    /// `_meta["dev.mcpx/rank"]`, when present.
    pub rank: Option<u32>,
}

impl ToolInfo {
    /// Reads one entry of a `tools/list` result; `None` without a string `name`.
    #[must_use]
    pub fn from_json(tool: &Json) -> Option<Self> {
        let name = tool.get("name")?.as_str()?.to_owned();
        let hint = |k: &str| {
            tool.get("annotations")
                .and_then(|a| a.get(k))
                .and_then(Json::as_bool)
        };
        Some(Self {
            name,
            read_only: hint("readOnlyHint").unwrap_or(false),
            // MCP's default for destructiveHint is true (when not read-only).
            destructive: hint("destructiveHint").unwrap_or(true),
            input_schema: tool
                .get("inputSchema")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"})),
            rank: tool
                .get("_meta")
                .and_then(|m| m.get("dev.mcpx/rank"))
                .and_then(Json::as_u64)
                .and_then(|r| u32::try_from(r).ok()),
        })
    }
}

/// What the server advertised (initialize result or discover result capabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerCaps {
    /// `prompts` capability present.
    pub prompts: bool,
    /// `resources` capability present.
    pub resources: bool,
    /// `tools` capability present.
    pub tools: bool,
}

impl ServerCaps {
    /// Reads a `capabilities` object.
    #[must_use]
    pub fn from_json(caps: &Json) -> Self {
        Self {
            prompts: caps.get("prompts").is_some(),
            resources: caps.get("resources").is_some(),
            tools: caps.get("tools").is_some(),
        }
    }

    /// Everything advertised.
    #[must_use]
    pub fn all() -> Self {
        Self {
            prompts: true,
            resources: true,
            tools: true,
        }
    }
}

/// How the mock answers one `tools/call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallReply {
    /// A result: `text_bytes` of text content, repeated as `structuredContent` when
    /// `structured`, with `isError` as given.
    Result {
        /// Size of the text content.
        text_bytes: u64,
        /// Also sent as `structuredContent` (doubles the payload).
        structured: bool,
        /// `isError: true`.
        is_error: bool,
    },
    /// A JSON-RPC error with this code (`-32603`).
    Error(i32),
}

/// One drawn `tools/call` behaviour of the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallBehaviour {
    /// Server-side time before the reply, µs.
    pub latency_us: u64,
    /// `notifications/progress` period while running (`long` tools), µs.
    pub progress_interval_us: Option<u64>,
    /// Answer as SSE (progress first) rather than JSON.
    pub sse: bool,
    /// The reply.
    pub reply: CallReply,
}

impl CallBehaviour {
    /// The "null" behaviour: an immediate, small, successful result (for `--mock null`).
    #[must_use]
    pub fn null() -> Self {
        Self {
            latency_us: 0,
            progress_interval_us: None,
            sse: false,
            reply: CallReply::Result {
                text_bytes: 2,
                structured: false,
                is_error: false,
            },
        }
    }

    /// Number of `notifications/progress` sent before the reply.
    #[must_use]
    pub fn progress_count(&self) -> u64 {
        match self.progress_interval_us {
            Some(p) if p > 0 => self.latency_us.saturating_sub(1) / p,
            _ => 0,
        }
    }

    /// Approximate payload bytes of the reply (text, doubled when structured).
    #[must_use]
    pub fn payload_bytes(&self) -> u64 {
        match self.reply {
            CallReply::Result {
                text_bytes,
                structured,
                ..
            } => {
                if structured {
                    text_bytes * 2
                } else {
                    text_bytes
                }
            }
            CallReply::Error(_) => 60,
        }
    }
}

/// How the mock answers GET streams and `subscriptions/listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetStreamPolicy {
    /// Hold them open.
    Accept,
    /// 405 Method Not Allowed.
    Reject405,
}

/// One mock tool: its definition and behaviour parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockTool {
    /// The `tools/list` entry.
    pub definition: Json,
    /// Index into the latency classes.
    class: usize,
    /// Class name.
    pub class_name: String,
    /// Has `outputSchema`.
    pub output_schema: bool,
}

/// The synthetic target of `[target]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockTarget {
    spec: TargetSpec,
    tools: Vec<MockTool>,
    latency: Vec<Dist>,
    modern: bool,
}

/// Input schema of a mock tool, by name (the profile's 12 tools), or a generic one.
fn input_schema(name: &str) -> Json {
    let id = json!({"type": "string", "format": "uuid", "description": "Record id"});
    let collection = json!({"type": "string", "enum": ["tasks", "contacts", "tickets", "docs"]});
    match name {
        "search_notes" => json!({"type": "object", "properties": {
            "query": {"type": "string", "description": "Words to search for"},
            "folder": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 50}},
            "required": ["query"]}),
        "get_record" => json!({"type": "object", "properties": {
            "id": id, "fields": {"type": "array", "items": {"type": "string"}, "maxItems": 10}},
            "required": ["id"]}),
        "web_search" => json!({"type": "object", "properties": {
            "query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1, "maximum": 20},
            "recency": {"type": "string", "enum": ["day", "week", "month", "any"]}}, "required": ["query"]}),
        "list_records" => json!({"type": "object", "properties": {
            "collection": collection, "cursor": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "updated_since": {"type": "string", "format": "date-time"}, "filter": {"type": "string"}},
            "required": ["collection"]}),
        "update_record" => json!({"type": "object", "properties": {
            "id": id, "fields": {"type": "object", "properties": {
                "title": {"type": "string"}, "status": {"type": "string", "enum": ["open", "done", "blocked"]},
                "due": {"type": "string", "format": "date"}, "notes": {"type": "string"}}}},
            "required": ["id", "fields"]}),
        "build_report" => json!({"type": "object", "properties": {
            "folder": {"type": "string"}, "format": {"type": "string", "enum": ["pdf", "html", "markdown"]},
            "since": {"type": "string", "format": "date"}, "instructions": {"type": "string"}},
            "required": ["folder"]}),
        "fetch_page" => json!({"type": "object", "properties": {
            "url": {"type": "string", "format": "uri"}, "max_bytes": {"type": "integer", "minimum": 1024, "maximum": 1048576},
            "selector": {"type": "string"}}, "required": ["url"]}),
        "create_record" => json!({"type": "object", "properties": {
            "collection": collection, "title": {"type": "string", "minLength": 1}, "body": {"type": "string"},
            "assignee": {"type": "string", "format": "email"}}, "required": ["collection", "title"]}),
        "add_comment" => json!({"type": "object", "properties": {
            "record_id": id, "text": {"type": "string", "minLength": 1}}, "required": ["record_id", "text"]}),
        "list_members" => json!({"type": "object", "properties": {
            "team": {"type": "string"}, "email": {"type": "string", "format": "email"}}}),
        "save_draft" => json!({"type": "object", "properties": {
            "title": {"type": "string"}, "body": {"type": "string"}}, "required": ["body"]}),
        "set_label" => json!({"type": "object", "properties": {
            "record_id": id, "label": {"type": "string", "minLength": 1, "maxLength": 40}},
            "required": ["record_id", "label"]}),
        _ => {
            json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})
        }
    }
}

fn tool_definition(t: &crate::format::TargetTool) -> Json {
    let mut def = Map::new();
    def.insert("name".into(), Json::String(t.name.clone()));
    def.insert("description".into(), Json::String(String::new()));
    def.insert("inputSchema".into(), input_schema(&t.name));
    if t.output_schema {
        def.insert(
            "outputSchema".into(),
            json!({"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]}),
        );
    }
    def.insert(
        "annotations".into(),
        json!({"readOnlyHint": t.read_only, "destructiveHint": !t.read_only && t.name.starts_with("update")}),
    );
    def.insert("_meta".into(), json!({"dev.mcpx/rank": t.rank}));
    let mut def = Json::Object(def);
    // Pad the description so the tool's JSON is def_bytes long (PROFILE 1.4: definitions are
    // ~1 KB, mostly prose); a schema already longer keeps a one-sentence description.
    let base = serde_json::to_string(&def).map_or(0, |s| s.len()) as u64;
    let sentence = format!("Mock tool {} ({} class). ", t.name, t.class);
    let mut desc = sentence.clone();
    const FILL: &str =
        "Returns matching items with their fields; use the arguments to narrow the result. ";
    while base + (desc.len() as u64) < t.def_bytes {
        desc.push_str(FILL);
    }
    let over = (base + desc.len() as u64).saturating_sub(t.def_bytes) as usize;
    let keep = desc
        .len()
        .saturating_sub(over)
        .max(sentence.len().min(desc.len()));
    desc.truncate(keep);
    if let Some(d) = def.get_mut("description") {
        *d = Json::String(desc);
    }
    def
}

impl MockTarget {
    /// The mock described by `spec` (the `[target]` section), both eras enabled as listed.
    #[must_use]
    pub fn new(spec: &TargetSpec) -> Self {
        let mut by_rank: Vec<&crate::format::TargetTool> = spec.tools.iter().collect();
        by_rank.sort_by_key(|t| t.rank);
        let tools = by_rank
            .into_iter()
            .map(|t| MockTool {
                definition: tool_definition(t),
                class: spec
                    .latency
                    .iter()
                    .position(|(c, _)| *c == t.class)
                    .unwrap_or(0),
                class_name: t.class.clone(),
                output_schema: t.output_schema,
            })
            .collect();
        Self {
            latency: spec.latency.iter().map(|(_, d)| d.clone()).collect(),
            modern: spec.versions.iter().any(|v| v == MODERN_VERSION),
            spec: spec.clone(),
            tools,
        }
    }

    /// The same mock with the stateless era (2026-07-28) switched on or off (off = the
    /// "legacy target" of PROFILE 2.4).
    #[must_use]
    pub fn with_modern(mut self, on: bool) -> Self {
        self.modern = on;
        self
    }

    /// The same mock `factor` times faster (< 1) or slower (> 1): the server side of
    /// `--time-scale F`, for [`crate::sim`] (`mcpx serve --mock --time-scale F` scales at serve
    /// time instead; use one or the other, not both).
    ///
    /// Multiplies every server-side duration of the spec: the `[target.latency]` distributions
    /// (exactly, see [`Dist::scaled`]), `progress_interval`, `cold_start` and
    /// `session_idle_ttl` (rounded to the microsecond; a non-zero one stays at least 1 µs), so
    /// [`MockTarget::draw_call`] draws the same behaviours with `factor` times the latency and
    /// progress period, and the same number of progress notifications.
    ///
    /// # Errors
    /// `factor` not a finite number > 0, a scaled duration above one week, or a latency
    /// distribution that overflows; the error names the key.
    pub fn with_time_scale(mut self, factor: f64) -> Result<Self, crate::ScenarioError> {
        crate::scale::scale_target(&mut self.spec, factor)?;
        self.latency = self.spec.latency.iter().map(|(_, d)| d.clone()).collect();
        Ok(self)
    }

    /// Whether `server/discover` lists 2026-07-28.
    #[must_use]
    pub fn is_modern(&self) -> bool {
        self.modern
    }

    /// The `[target]` section.
    #[must_use]
    pub fn spec(&self) -> &TargetSpec {
        &self.spec
    }

    /// Supported versions, as answered by `server/discover`.
    #[must_use]
    pub fn versions(&self) -> Vec<&str> {
        self.spec
            .versions
            .iter()
            .map(String::as_str)
            .filter(|v| self.modern || *v != MODERN_VERSION)
            .collect()
    }

    /// Tools in rank order.
    #[must_use]
    pub fn tools(&self) -> &[MockTool] {
        &self.tools
    }

    /// The `tools` array of `tools/list` (one page).
    #[must_use]
    pub fn tools_json(&self) -> Json {
        Json::Array(self.tools.iter().map(|t| t.definition.clone()).collect())
    }

    /// The facts users need, as a runner would read them from `tools/list`.
    #[must_use]
    pub fn tool_infos(&self) -> Vec<ToolInfo> {
        self.tools
            .iter()
            .filter_map(|t| ToolInfo::from_json(&t.definition))
            .collect()
    }

    /// The `prompts` array of `prompts/list`.
    #[must_use]
    pub fn prompts_json(&self) -> Json {
        let names = ["summarize_thread", "draft_reply", "weekly_review", "triage"];
        Json::Array(
            (0..self.spec.prompts as usize)
                .map(|i| {
                    let name = names.get(i).map_or_else(|| format!("prompt_{i}"), |n| (*n).to_owned());
                    json!({"name": name, "description": format!("Mock prompt {name}"),
                        "arguments": [{"name": "topic", "description": "What it is about", "required": true}]})
                })
                .collect(),
        )
    }

    /// The `resources` array of `resources/list`.
    #[must_use]
    pub fn resources_json(&self) -> Json {
        Json::Array(
            (0..self.spec.resources as usize)
                .map(|i| {
                    let (uri, mime) = match i {
                        0 => ("mock://docs/readme".to_owned(), "text/markdown"),
                        1 => ("mock://config/settings.json".to_owned(), "application/json"),
                        2 => ("mock://logs/today.txt".to_owned(), "text/plain"),
                        n => (format!("mock://item/{n}"), "text/plain"),
                    };
                    json!({"uri": uri, "name": format!("resource {i}"), "mimeType": mime})
                })
                .collect(),
        )
    }

    /// Advertised capabilities.
    #[must_use]
    pub fn caps(&self) -> ServerCaps {
        ServerCaps::from_json(&self.spec.capabilities)
    }

    /// How GET streams are answered.
    #[must_use]
    pub fn get_stream_policy(&self) -> GetStreamPolicy {
        match self.spec.get_stream {
            crate::format::GetStream::Reject => GetStreamPolicy::Reject405,
            _ => GetStreamPolicy::Accept,
        }
    }

    /// Extra delay of each tool's first call after start, µs (the server keeps the "first" state).
    #[must_use]
    pub fn cold_start_us(&self) -> u64 {
        self.spec.cold_start_us
    }

    /// Draws the behaviour of one call of the tool at rank index `tool` (0-based, as
    /// [`MockTarget::tools`]); unknown tools behave like [`CallBehaviour::null`].
    pub fn draw_call(&self, tool: usize, rng: &mut Rng) -> CallBehaviour {
        let Some(t) = self.tools.get(tool) else {
            return CallBehaviour::null();
        };
        let latency_us = self.latency.get(t.class).map_or(0, |d| d.sample_u64(rng));
        let progress = (t.class_name == "long").then_some(self.spec.progress_interval_us);
        let reply = if rng.bernoulli(self.spec.jsonrpc_error_p) {
            CallReply::Error(-32603)
        } else {
            CallReply::Result {
                text_bytes: self.spec.result_size.sample_u64(rng),
                structured: t.output_schema && self.spec.structured_doubles,
                is_error: rng.bernoulli(self.spec.is_error_p),
            }
        };
        let sse = match self.spec.response_mode {
            ResponseMode::Auto => progress.is_some(),
            ResponseMode::Json => false,
            ResponseMode::Sse => true,
        };
        CallBehaviour {
            latency_us,
            progress_interval_us: progress,
            sse,
            reply,
        }
    }

    /// Index of a tool by name.
    #[must_use]
    pub fn tool_index(&self, name: &str) -> Option<usize> {
        self.tools
            .iter()
            .position(|t| t.definition.get("name").and_then(Json::as_str) == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Scenario, Zipf};

    fn mock() -> MockTarget {
        MockTarget::new(
            Scenario::builtin("claude")
                .unwrap()
                .target
                .as_ref()
                .unwrap(),
        )
    }

    #[test]
    fn definitions_have_the_profile_sizes() {
        let m = mock();
        assert_eq!(m.tools().len(), 12);
        let mut total = 0;
        for (t, spec) in m.tools().iter().zip([
            1136, 989, 1812, 1522, 2265, 3324, 859, 1308, 620, 738, 496, 338,
        ]) {
            let n = serde_json::to_string(&t.definition).unwrap().len();
            assert!(
                n.abs_diff(spec) <= 2 || n < 700,
                "{n} vs {spec}: {}",
                t.definition
            );
            total += n;
        }
        // tools/list ~ 15.4 KB.
        assert!((15_000..16_000).contains(&total), "{total}");
        let infos = m.tool_infos();
        assert_eq!(infos.iter().filter(|t| t.read_only).count(), 6);
        assert_eq!(infos[0].rank, Some(1));
        assert_eq!(m.prompts_json().as_array().unwrap().len(), 2);
        assert_eq!(m.resources_json().as_array().unwrap().len(), 3);
        assert!(m.caps().prompts && m.caps().resources);
    }

    #[test]
    fn class_mix_under_zipf() {
        // PROFILE 2.3: local 40 %, api 40 %, web 15 %, long 5 % (call-weighted, Zipf 1.1).
        let m = mock();
        let z = Zipf::new(1.1, 12).unwrap();
        let mut share = std::collections::HashMap::new();
        for (i, t) in m.tools().iter().enumerate() {
            *share.entry(t.class_name.as_str()).or_insert(0.0) += z.probability(i);
        }
        for (class, want) in [
            ("local", 0.40),
            ("api", 0.40),
            ("web", 0.15),
            ("long", 0.05),
        ] {
            let got = share[class];
            assert!((got - want).abs() < 0.025, "{class}: {got}");
        }
    }

    #[test]
    fn call_draws() {
        let m = mock();
        let mut rng = Rng::from_seed(5);
        let long = m.tool_index("build_report").unwrap();
        let n = 50_000;
        let (mut errs, mut rpc, mut over60) = (0, 0, 0);
        for _ in 0..n {
            let b = m.draw_call(long, &mut rng);
            assert_eq!(b.progress_interval_us, Some(5_000_000));
            match b.reply {
                CallReply::Result { is_error, .. } => errs += usize::from(is_error),
                CallReply::Error(c) => {
                    assert_eq!(c, -32603);
                    rpc += 1;
                }
            }
            over60 += usize::from(b.latency_us > 60_000_000);
        }
        let share = |c: usize| c as f64 / n as f64;
        assert!((share(errs) - 0.04).abs() < 0.005);
        assert!((share(rpc) - 0.005).abs() < 0.0015);
        // "~14 % of long calls exceed claude.ai's 60 s".
        assert!((share(over60) - 0.137).abs() < 0.01, "{}", share(over60));
        let g = m.draw_call(m.tool_index("get_record").unwrap(), &mut rng);
        assert!(g.progress_interval_us.is_none() && !g.sse);
        assert_eq!(CallBehaviour::null().latency_us, 0);
    }
}
