//! The `mcpx-scenario/1` model: one typed struct per section of a scenario file, and the parser.
//!
//! Every duration is stored in microseconds (`*_us` fields), every size in bytes; probabilities
//! are checked to lie in `[0, 1]`. Missing sections and keys take the built-in `claude` profile's
//! values (shared sections) or neutral ones (per-family keys); unknown keys are errors.

use crate::limits::{MAX_DURATION_US, MAX_FAMILIES, MAX_FILE_BYTES, MAX_LIST};
use serde_json::Value as Json;
use toml::{Table, Value};

use crate::dist::{Dist, Unit};
use crate::error::ScenarioError;
use crate::reader::{Node, R, type_name};

/// The format name and major version this crate reads.
pub const FORMAT: &str = "mcpx-scenario/1";

/// The built-in `claude` profile, vendored from `shared/traffic/claude.toml`.
pub const CLAUDE_PROFILE_TOML: &str = include_str!("../profiles/claude.toml");

/// A whole scenario: what `mcpx load --scenario FILE` (or `--profile NAME`) runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Scenario {
    /// `[profile]`.
    pub profile: Profile,
    /// `[load]`.
    pub load: Load,
    /// `[auth]`.
    pub auth: Auth,
    /// `[answers]`.
    pub answers: Answers,
    /// `[session]`.
    pub session: SessionShape,
    /// `[think]`.
    pub think: Think,
    /// `[tools]`.
    pub tools: Tools,
    /// `[payload]`.
    pub payload: Payload,
    /// `[[clients]]`, at least one.
    pub clients: Vec<ClientFamily>,
    /// `[target]`: the synthetic server (`mcpx serve --mock`); a load run ignores it.
    pub target: Option<TargetSpec>,
    /// `[scenarios]`: opt-in quirks, all off by default.
    pub scenarios: Quirks,
    /// `[report]`.
    pub report: Report,
    /// Product of the factors given to [`Scenario::scale_time`] (1 for a parsed file).
    pub(crate) time_scale: f64,
}

/// `[profile]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// Profile name (`--profile NAME`).
    pub name: String,
    /// Shown in reports.
    pub description: String,
    /// Master seed (`--seed`).
    pub seed: u64,
}

/// How users (or calls) arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadModel {
    /// Users arrive at `users_per_s` (or following `stages`).
    Open,
    /// `users` concurrent users; each starts a new conversation when its last one ends.
    Closed,
    /// Call-level open model: `calls_per_s` tool calls spread over `sessions` long-lived sessions.
    Calls,
}

/// Inter-arrival law of an open model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arrival {
    /// Exponential gaps.
    Poisson,
    /// Equal gaps.
    Constant,
}

/// One ramp stage (k6 style): over `duration_us`, the rate (open) or user count (closed) moves
/// linearly from the previous stage's target to `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Stage {
    /// Length of the stage.
    pub duration_us: u64,
    /// Rate (users/s or calls/s) or concurrent users at the end of the stage.
    pub target: f64,
}

impl Stage {
    /// A stage (for `--stage` on the command line; see [`crate::parse_stages`]).
    #[must_use]
    pub fn new(duration_us: u64, target: f64) -> Self {
        Self {
            duration_us,
            target,
        }
    }
}

/// `[load]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Load {
    /// Open, closed or call-level.
    pub model: LoadModel,
    /// Open model: Poisson or constant inter-arrivals.
    pub arrival: Arrival,
    /// Open model: new users per second.
    pub users_per_s: f64,
    /// Closed model: concurrent users.
    pub users: u64,
    /// Call-level model: tool calls per second.
    pub calls_per_s: f64,
    /// Call-level model: sessions the calls are spread over.
    pub sessions: u64,
    /// Optional ramp; when present it replaces `users_per_s` / `users` / `calls_per_s`.
    pub stages: Vec<Stage>,
    /// Stop starting users after this long.
    pub duration_us: u64,
    /// Then let in-flight users finish for at most this long.
    pub drain_us: u64,
    /// Stop after this many users (or conversations, or calls) in all (0 = no count bound; the
    /// run is then bounded by its duration only).
    pub max_users: u64,
    /// Start with the steady-state population of long-lived users (families with `lifetime`;
    /// open model without stages).
    pub prefill: bool,
    /// Spread the prefilled users' start sequences over this long.
    pub prefill_ramp_us: u64,
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Auth {
    /// Bearer token on every request (`""` = none).
    pub bearer_token: String,
    /// A file of tokens, one per line, handed round-robin to users (read by the runner).
    pub bearer_tokens_file: String,
}

/// A root advertised by `roots/list` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RootSpec {
    /// URI template (`$root_uri` = a per-user synthetic project folder).
    pub uri: Template,
    /// Display name.
    pub name: String,
}

/// What undeclared server-to-client requests get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Undeclared {
    /// `-32601` method not found.
    MethodNotFound,
    /// No answer at all.
    Ignore,
}

/// `[answers]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Answers {
    /// `roots/list` result.
    pub roots: Vec<RootSpec>,
    /// Share of elicitations accepted.
    pub elicitation_accept_p: f64,
    /// Share declined (the rest are cancelled).
    pub elicitation_decline_p: f64,
    /// Time a person takes to answer, µs.
    pub elicitation_delay: Dist,
    /// Requests for capabilities the family did not declare.
    pub undeclared: Undeclared,
}

/// How steps are assigned to turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepToTurn {
    /// Step 1 to turn 1, every later step to a uniformly chosen turn.
    FirstThenUniform,
    /// Every step to a uniformly chosen turn.
    Uniform,
}

/// `[session]` (also `[clients.session]` per family, key by key).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionShape {
    /// User messages per conversation.
    pub user_turns: Dist,
    /// Tool-using model steps per conversation (if it uses the server).
    pub steps: Dist,
    /// Calls per step.
    pub fan_out: Dist,
    /// Step-to-turn assignment.
    pub step_to_turn: StepToTurn,
    /// Share of calls cancelled if still running after `cancel_after`.
    pub cancel_p: f64,
    /// Delay of a cancel, µs.
    pub cancel_after: Dist,
}

/// What a turn without steps lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoToolTurn {
    /// One `first_call` draw.
    FirstCall,
    /// Nothing.
    Zero,
}

/// `[think]` (also `[clients.think]` per family, key by key). All in µs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Think {
    /// User message -> first call of the turn.
    pub first_call: Dist,
    /// Last result of a step -> next step.
    pub between_steps: Dist,
    /// End of a turn -> next user message.
    pub between_turns: Dist,
    /// A turn without steps.
    pub no_tool_turn: NoToolTurn,
}

/// Where the callable tools come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolSource {
    /// Whatever the target's `tools/list` returns.
    Discover,
    /// Only the `[[tools.override]]` names.
    Listed,
}

/// How tool popularity ranks are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RankMode {
    /// `_meta["dev.mcpx/rank"]` when every tool carries it, else a seeded shuffle.
    Auto,
    /// Always a seeded shuffle.
    Shuffle,
    /// The order of `tools/list`.
    Listed,
}

/// Which calls may run concurrently under `parallel = "read_only"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadOnlyFrom {
    /// `annotations.readOnlyHint`.
    Annotations,
    /// No tool is read-only.
    Never,
}

/// `[[tools.override]]`: pins one tool.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ToolOverride {
    /// Tool name.
    pub name: String,
    /// Replaces the Zipf weight.
    pub weight: Option<f64>,
    /// Fixed arguments (a JSON object) instead of generated ones.
    pub arguments: Option<Json>,
}

/// `[tools]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tools {
    /// Discover or listed.
    pub source: ToolSource,
    /// Zipf exponent of popularity by rank (`choice = { dist = "zipf", s = ... }`).
    pub zipf_s: f64,
    /// Rank source.
    pub rank: RankMode,
    /// Read-only source.
    pub read_only_from: ReadOnlyFrom,
    /// Glob patterns (`*`, `?`) of tool names never called.
    pub exclude: Vec<String>,
    /// Per-tool pinning.
    pub overrides: Vec<ToolOverride>,
}

/// How arguments are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgsGenerator {
    /// Valid against `inputSchema`, longest string padded to the drawn size.
    Schema,
    /// `{}`.
    Empty,
}

/// `[payload]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Payload {
    /// Generator.
    pub args_generator: ArgsGenerator,
    /// Probability of including each optional property.
    pub optional_p: f64,
    /// Serialised argument size, bytes.
    pub args_size: Dist,
    /// Share of calls carrying a large argument.
    pub args_large_p: f64,
    /// Size of those, bytes.
    pub args_large_size: Dist,
}

/// A string that may be a `$generator`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Template {
    /// Used as is.
    Literal(String),
    /// `$id`: this request's JSON-RPC id.
    Id,
    /// `$toolu`: `"toolu_01"` + 22 base62 characters.
    Toolu,
    /// `$traceparent`: a fresh W3C trace context.
    Traceparent,
    /// `$root_uri`: a `file:` URI naming a per-user project folder.
    RootUri,
}

impl Template {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "$id" => Self::Id,
            "$toolu" => Self::Toolu,
            "$traceparent" => Self::Traceparent,
            "$root_uri" => Self::RootUri,
            s if s.starts_with('$') => return None,
            s => Self::Literal(s.to_owned()),
        })
    }
}

/// Wire transport of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// Streamable HTTP.
    StreamableHttp,
    /// Legacy HTTP+SSE.
    HttpSse,
    /// stdio.
    Stdio,
}

/// HTTP version of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2.
    Http2,
}

/// Connection pooling of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Connections {
    /// One keep-alive pool for all users of the family.
    Shared,
    /// One pool per user.
    PerUser,
    /// A new connection per request.
    PerRequest,
}

/// Concurrency of a step's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parallel {
    /// All calls of a batch at once.
    All,
    /// Consecutive read-only calls together; any other call alone, in order.
    ReadOnly,
    /// One call at a time.
    None,
}

/// `clientInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

impl ClientInfo {
    /// A client info.
    #[must_use]
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// A value with a relative weight (weights are normalised when drawn).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Weighted<T> {
    /// The value.
    pub value: T,
    /// Its relative weight.
    pub weight: f64,
}

/// A sequence token (`[clients.sequence]` lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Token {
    /// Legacy: (`server/discover`) `initialize` + `notifications/initialized`; modern: discover.
    Handshake,
    /// `tools/list`, all pages; `bool` = only if advertised.
    ToolsList(bool),
    /// `prompts/list`, all pages; `bool` = only if advertised.
    PromptsList(bool),
    /// `resources/list`, all pages; `bool` = only if advertised.
    ResourcesList(bool),
    /// GET stream (legacy) or `subscriptions/listen` (modern), held until the user ends.
    Stream,
    /// HTTP DELETE of the current session with `delete_p` (legacy only).
    Delete,
}

impl Token {
    fn parse(s: &str) -> Option<Self> {
        let (base, adv) = match s.strip_suffix("?advertised") {
            Some(b) => (b, true),
            None => (s, false),
        };
        Some(match (base, adv) {
            ("handshake", false) => Self::Handshake,
            ("tools/list", a) => Self::ToolsList(a),
            ("prompts/list", a) => Self::PromptsList(a),
            ("resources/list", a) => Self::ResourcesList(a),
            ("stream", false) => Self::Stream,
            ("delete", false) => Self::Delete,
            _ => return None,
        })
    }
}

/// `[clients.sequence]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sequence {
    /// At user start.
    pub on_start: Vec<Token>,
    /// At each user message.
    pub on_turn: Vec<Token>,
    /// Before each call (unless skipped with `reuse_session_p`).
    pub before_call: Vec<Token>,
    /// At the end of the conversation.
    pub on_end: Vec<Token>,
    /// At process exit, with `exit_session_p`.
    pub on_exit: Vec<Token>,
    /// Probability that a `delete` token is sent.
    pub delete_p: f64,
    /// Probability that `before_call` is skipped and the latest session reused.
    pub reuse_session_p: f64,
    /// Probability of running `on_exit`.
    pub exit_session_p: f64,
    /// `false`: follow-up POSTs carry no `Mcp-Session-Id`.
    pub echo_session_id: bool,
}

/// What to do when a GET stream is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnStreamError {
    /// No stream, carry on.
    Stop,
    /// New handshake without the old session id, then reopen.
    Reinitialize,
    /// Retry per `reconnect`.
    Retry,
}

/// Stream reconnect policy.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Reconnect {
    /// First delay, µs.
    pub initial_us: u64,
    /// Multiplier per attempt.
    pub factor: f64,
    /// Attempts before giving up.
    pub attempts: u32,
}

/// `[clients.stream]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamPolicy {
    /// Whether `stream` tokens open anything.
    pub open: bool,
    /// Modern `subscriptions/listen` filter (a JSON object of booleans).
    pub listen_notifications: Json,
    /// On 405.
    pub on_405: OnStreamError,
    /// On 404.
    pub on_404: OnStreamError,
    /// When the server closes the stream.
    pub reconnect: Reconnect,
}

/// What a client deadline does to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnTimeout {
    /// Close the HTTP exchange, nothing else.
    Close,
    /// Legacy: `notifications/cancelled`; modern: close the response stream.
    Cancel,
}

/// `[clients.timeouts]` (µs; `None` = no deadline).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Timeouts {
    /// `initialize` read deadline.
    pub handshake_us: Option<u64>,
    /// Whole startup sequence (`on_start`).
    pub connect_us: Option<u64>,
    /// `tools/call` total deadline.
    pub tool_call_us: Option<u64>,
    /// `tools/call` idle deadline, reset by progress.
    pub tool_idle_us: Option<u64>,
    /// Idle-timer check period (`None` = exact).
    pub idle_check_us: Option<u64>,
    /// Close or cancel.
    pub on_timeout: OnTimeout,
}

/// `[clients.probes]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Probes {
    /// Period of unauthenticated `initialize` probes while active, µs.
    pub unauth_initialize_every: Option<Dist>,
    /// clientInfo of those probes.
    pub unauth_client_info: ClientInfo,
    /// Share of users that start with the Add/Connect verification sequence.
    pub connect_verify_p: f64,
}

/// One `[[clients]]` family.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientFamily {
    /// Family name (`claude_ai`, ...).
    pub name: String,
    /// Share of users (relative).
    pub weight: f64,
    /// Share of users that call tools at all.
    pub calls_tools_p: f64,
    /// Transport.
    pub transport: Transport,
    /// HTTP version.
    pub http_version: HttpVersion,
    /// Pooling.
    pub connections: Connections,
    /// User-Agent.
    pub user_agent: String,
    /// Accept on POSTs.
    pub accept: String,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
    /// Share of post-handshake requests carrying `MCP-Protocol-Version`.
    pub protocol_header_p: f64,
    /// clientInfo variants.
    pub client_info: Vec<Weighted<ClientInfo>>,
    /// Offered protocol versions.
    pub protocol_versions: Vec<Weighted<String>>,
    /// Client capability variants (JSON objects).
    pub capabilities: Vec<Weighted<Json>>,
    /// `_meta` keys on `tools/call`.
    pub call_meta: Vec<(String, Template)>,
    /// Step concurrency.
    pub parallel: Parallel,
    /// Share of users whose first handshake starts with `server/discover`.
    pub modern_p: f64,
    /// Later handshakes that probe again.
    pub reprobe_p: f64,
    /// Initialize even after a successful discover, and stay legacy.
    pub initialize_after_discover_p: f64,
    /// Process lifetime (families holding a session and stream), µs.
    pub lifetime: Option<Dist>,
    /// Sequences.
    pub sequence: Sequence,
    /// Stream policy.
    pub stream: StreamPolicy,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Background probes.
    pub probes: Probes,
    /// Conversation shape (the top-level `[session]`, overridden key by key).
    pub session: SessionShape,
    /// Think times (the top-level `[think]`, overridden key by key).
    pub think: Think,
}

/// Tool class of the mock target: selects a latency distribution.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TargetTool {
    /// Popularity rank, 1 = most called.
    pub rank: u32,
    /// Name.
    pub name: String,
    /// Latency class (a key of `[target.latency]`).
    pub class: String,
    /// `readOnlyHint`.
    pub read_only: bool,
    /// Has an `outputSchema` (results doubled as `structuredContent`).
    pub output_schema: bool,
    /// Size of the tool's JSON in `tools/list`.
    pub def_bytes: u64,
}

/// GET stream handling of the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetStream {
    /// Hold GET streams open.
    Accept,
    /// 405.
    Reject,
}

/// Response mode of the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// JSON unless the call emits progress, then SSE.
    Auto,
    /// Always JSON.
    Json,
    /// Always SSE.
    Sse,
}

/// `[target]`: the synthetic server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TargetSpec {
    /// serverInfo.
    pub server_info: ClientInfo,
    /// Supported protocol versions (`2026-07-28` = the stateless era).
    pub versions: Vec<String>,
    /// Advertised server capabilities.
    pub capabilities: Json,
    /// `prompts/list` size.
    pub prompts: u32,
    /// `resources/list` size.
    pub resources: u32,
    /// GET handling.
    pub get_stream: GetStream,
    /// Idle expiry of legacy sessions, µs.
    pub session_idle_ttl_us: u64,
    /// Response mode.
    pub response_mode: ResponseMode,
    /// Progress period of `long` calls, µs.
    pub progress_interval_us: u64,
    /// Result text size, bytes.
    pub result_size: Dist,
    /// `outputSchema` tools repeat the payload as `structuredContent`.
    pub structured_doubles: bool,
    /// Share of results with `isError: true`.
    pub is_error_p: f64,
    /// Share of `-32603` errors.
    pub jsonrpc_error_p: f64,
    /// Extra delay on each tool's first call, µs.
    pub cold_start_us: u64,
    /// Tools.
    pub tools: Vec<TargetTool>,
    /// Latency per class, µs.
    pub latency: Vec<(String, Dist)>,
}

/// `[scenarios]`: opt-in quirks (PROFILE 2.5), all off by default. The virtual users implement
/// every one but `no_affinity` (source addresses are the runner's); `cc_*`, `accept_json_only_p`,
/// `listen_storm` apply to the family named `claude_code`, `oauth_connect` to `claude_ai`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Quirks {
    /// Claude Code reopens a closed GET at once.
    pub get_reconnect_storm: bool,
    /// Modern Claude Code loops discover + lists + listen.
    pub listen_storm: bool,
    /// GETs with an expired session id until 405.
    pub dead_session_get: bool,
    /// Clients keep stale session ids after a restart.
    pub stale_session: bool,
    /// claude.ai runs the OAuth connect chain first.
    pub oauth_connect: bool,
    /// claude_ai requests from many local source addresses.
    pub no_affinity: bool,
    /// Claude Code sends `Accept: application/json` only.
    pub accept_json_only_p: f64,
    /// Claude Code's old per-request cap, µs (0 = off).
    pub cc_request_cap_us: u64,
    /// `MCP-Protocol-Version` disagrees with the negotiated version.
    pub header_version_mismatch_p: f64,
}

/// Report grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupBy {
    /// Per method.
    Method,
    /// Per tool.
    Tool,
    /// Per client family.
    Client,
}

/// Where latency is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LatencyFrom {
    /// The scheduled send time (no coordinated omission).
    Intended,
    /// The actual send time.
    Actual,
}

/// `[report]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// Histogram grouping.
    pub group_by: Vec<GroupBy>,
    /// Printed percentiles.
    pub percentiles: Vec<f64>,
    /// Latency origin.
    pub latency_from: LatencyFrom,
    /// Interval-log period, µs.
    pub interval_us: u64,
    /// HdrHistogram significant digits (1..=5).
    pub hdr_sigfig: u8,
    /// Trace output path (`""` = none).
    pub record_trace: String,
}

// ------------------------------------------------------------------------------------------------
// Defaults (the built-in profile's values for shared sections).

fn ln_ms(median: f64, sigma: f64, min: f64, max: f64) -> Dist {
    Dist::lognormal(median * 1e3, sigma, min * 1e3, max * 1e3)
}

fn default_session() -> SessionShape {
    SessionShape {
        user_turns: Dist::NegBin {
            offset: 1,
            mean: 2.0,
            r: 1.5,
            max: 50,
        },
        steps: Dist::NegBin {
            offset: 1,
            mean: 4.0,
            r: 1.2,
            max: 100,
        },
        fan_out: Dist::categorical(
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            &[0.72, 0.17, 0.07, 0.03, 0.01],
        )
        .unwrap_or(Dist::Constant(1.0)),
        step_to_turn: StepToTurn::FirstThenUniform,
        cancel_p: 0.003,
        cancel_after: Dist::Uniform { min: 1e6, max: 3e7 },
    }
}

fn default_think() -> Think {
    Think {
        first_call: ln_ms(6000.0, 0.7, 800.0, 120_000.0),
        between_steps: ln_ms(4000.0, 0.75, 300.0, 180_000.0),
        between_turns: ln_ms(40_000.0, 1.1, 3000.0, 1_800_000.0),
        no_tool_turn: NoToolTurn::FirstCall,
    }
}

// ------------------------------------------------------------------------------------------------
// Parsing.

impl Scenario {
    /// Parses a scenario file's text; `file` names it in errors.
    ///
    /// # Errors
    /// TOML syntax, a wrong `format`, unknown keys, values out of range: the error names the file,
    /// the key path and what is allowed.
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        if text.len() > MAX_FILE_BYTES {
            return Err(ScenarioError::new(
                file,
                "",
                format!("file larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            ScenarioError::new(file, "", format!("TOML syntax: {e}"))
        })?;
        Self::from_table(&table, file)
    }

    /// A built-in profile by name (`"claude"`).
    ///
    /// # Errors
    /// An unknown name (the message lists the built-in ones).
    pub fn builtin(name: &str) -> Result<Self, ScenarioError> {
        match name {
            "claude" => Self::parse(CLAUDE_PROFILE_TOML, "<builtin claude>"),
            other => Err(ScenarioError::new(
                "<builtin>",
                "",
                format!("unknown profile {other:?}: one of claude"),
            )),
        }
    }

    /// The product of the factors given to [`Scenario::scale_time`] (1 unless scaled): the
    /// factor applied to the client-side constants of [`crate::VirtualUser`] that have no key
    /// ([`crate::LAST_CALL_GRACE_US`] and the others listed at [`Scenario::scale_time`]).
    #[must_use]
    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// The family named `name`.
    #[must_use]
    pub fn family(&self, name: &str) -> Option<&ClientFamily> {
        self.clients.iter().find(|c| c.name == name)
    }

    fn from_table(table: &Table, file: &str) -> R<Self> {
        let mut root = Node::new(table, String::new(), file);
        let format = root.opt_string("format")?.ok_or_else(|| {
            root.err(
                "format",
                format!("missing: a scenario file starts with format = {FORMAT:?}"),
            )
        })?;
        check_format(&root, &format)?;

        let profile = match root.opt_table("profile")? {
            Some(mut n) => {
                let p = Profile {
                    name: n.string("name", "custom")?,
                    description: n.string("description", "")?,
                    seed: n.uint("seed", 1, u64::MAX >> 1)?,
                };
                n.finish()?;
                p
            }
            None => Profile {
                name: "custom".into(),
                description: String::new(),
                seed: 1,
            },
        };
        let load = parse_load(root.opt_table("load")?)?;
        let auth = match root.opt_table("auth")? {
            Some(mut n) => {
                let a = Auth {
                    bearer_token: n.string("bearer_token", "")?,
                    bearer_tokens_file: n.string("bearer_tokens_file", "")?,
                };
                n.finish()?;
                a
            }
            None => Auth {
                bearer_token: String::new(),
                bearer_tokens_file: String::new(),
            },
        };
        let answers = parse_answers(root.opt_table("answers")?)?;
        let session = parse_session(root.opt_table("session")?, &default_session())?;
        let think = parse_think(root.opt_table("think")?, &default_think())?;
        let tools = parse_tools(root.opt_table("tools")?)?;
        let payload = parse_payload(root.opt_table("payload")?)?;
        let families = root.tables("clients", MAX_FAMILIES)?;
        if families.is_empty() {
            return Err(root.err("clients", "at least one [[clients]] family is required"));
        }
        let mut clients = Vec::with_capacity(families.len());
        for n in families {
            clients.push(parse_family(n, &session, &think)?);
        }
        for (i, c) in clients.iter().enumerate() {
            if clients[..i].iter().any(|o| o.name == c.name) {
                return Err(ScenarioError::new(
                    file,
                    &format!("clients[{i}].name"),
                    format!("duplicate family name {:?}", c.name),
                ));
            }
        }
        if clients.iter().all(|c| c.weight <= 0.0) {
            return Err(root.err("clients", "expected at least one family with weight > 0"));
        }
        let target = root.opt_table("target")?.map(parse_target).transpose()?;
        let scenarios = parse_quirks(root.opt_table("scenarios")?)?;
        let report = parse_report(root.opt_table("report")?)?;
        root.finish()?;
        Ok(Self {
            profile,
            load,
            auth,
            answers,
            session,
            think,
            tools,
            payload,
            clients,
            target,
            scenarios,
            report,
            time_scale: 1.0,
        })
    }
}

fn check_format(root: &Node<'_>, format: &str) -> R<()> {
    let Some(version) = format.strip_prefix("mcpx-scenario/") else {
        return Err(root.err("format", format!("expected {FORMAT:?}, got {format:?}")));
    };
    let major = version.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(root.err(
            "format",
            format!("unsupported major version {format:?}: this mcpx reads {FORMAT} (minor versions 1.x)"),
        ));
    }
    Ok(())
}

fn parse_load(node: Option<Node<'_>>) -> R<Load> {
    let mut load = Load {
        model: LoadModel::Open,
        arrival: Arrival::Poisson,
        users_per_s: 1.0,
        users: 100,
        calls_per_s: 10.0,
        sessions: 10,
        stages: Vec::new(),
        duration_us: 600_000_000,
        drain_us: 120_000_000,
        max_users: 0,
        prefill: true,
        prefill_ramp_us: 60_000_000,
    };
    let Some(mut n) = node else { return Ok(load) };
    load.model = n.choice(
        "model",
        load.model,
        &[
            ("open", LoadModel::Open),
            ("closed", LoadModel::Closed),
            ("calls", LoadModel::Calls),
        ],
    )?;
    load.arrival = n.choice(
        "arrival",
        load.arrival,
        &[
            ("poisson", Arrival::Poisson),
            ("constant", Arrival::Constant),
        ],
    )?;
    // Bounds: far above what one generator process can drive; they catch typos (1e9 users/s).
    load.users_per_s = n.number("users_per_s", load.users_per_s, 0.0, 1e6)?;
    // One slot per closed-model user is kept in memory: 1M is ~24 MB.
    load.users = n.uint("users", load.users, 1_000_000)?;
    load.calls_per_s = n.number("calls_per_s", load.calls_per_s, 0.0, 1e7)?;
    load.sessions = n.uint("sessions", load.sessions, 1_000_000)?;
    load.duration_us = n.duration(
        "duration_ms",
        "duration_s",
        load.duration_us,
        MAX_DURATION_US,
    )?;
    load.drain_us = n.duration("drain_ms", "drain_s", load.drain_us, MAX_DURATION_US)?;
    load.max_users = n.uint("max_users", 0, u64::MAX >> 2)?;
    load.prefill = n.boolean("prefill", load.prefill)?;
    load.prefill_ramp_us = n.duration(
        "prefill_ramp_ms",
        "prefill_ramp_s",
        load.prefill_ramp_us,
        MAX_DURATION_US,
    )?;
    for mut s in n.tables("stages", MAX_LIST)? {
        let duration_us = s.duration("duration_ms", "duration_s", 0, MAX_DURATION_US)?;
        if !s.has("duration_ms") && !s.has("duration_s") {
            return Err(s.err(
                "duration_s",
                "required: the stage's length (duration_s or duration_ms)",
            ));
        }
        let target = s
            .opt_number("target")?
            .ok_or_else(|| s.err("target", "required: rate or users at the end of the stage"))?;
        if !(0.0..=1e6).contains(&target) {
            return Err(s.err(
                "target",
                format!("expected a number in [0, 1000000], got {target}"),
            ));
        }
        s.finish()?;
        load.stages.push(Stage {
            duration_us,
            target,
        });
    }
    n.finish()?;
    Ok(load)
}

fn parse_client_info(n: &mut Node<'_>) -> R<ClientInfo> {
    Ok(ClientInfo {
        name: n.req_string("name")?,
        version: n.string("version", "")?,
    })
}

fn parse_answers(node: Option<Node<'_>>) -> R<Answers> {
    let mut a = Answers {
        roots: vec![RootSpec {
            uri: Template::RootUri,
            name: "project".into(),
        }],
        elicitation_accept_p: 0.9,
        elicitation_decline_p: 0.07,
        elicitation_delay: ln_ms(8000.0, 0.8, 1000.0, 300_000.0),
        undeclared: Undeclared::MethodNotFound,
    };
    let Some(mut n) = node else { return Ok(a) };
    if n.has("roots") {
        a.roots.clear();
        for mut r in n.tables("roots", MAX_LIST)? {
            let uri = r.req_string("uri")?;
            let uri = Template::parse(&uri).ok_or_else(|| r.err("uri", unknown_generator(&uri)))?;
            a.roots.push(RootSpec {
                uri,
                name: r.string("name", "")?,
            });
            r.finish()?;
        }
    } else {
        let _ = n.get("roots");
    }
    a.elicitation_accept_p = n.prob("elicitation_accept_p", a.elicitation_accept_p)?;
    a.elicitation_decline_p = n.prob("elicitation_decline_p", a.elicitation_decline_p)?;
    if a.elicitation_accept_p + a.elicitation_decline_p > 1.0 + 1e-9 {
        return Err(n.err(
            "elicitation_decline_p",
            "expected elicitation_accept_p + elicitation_decline_p <= 1",
        ));
    }
    a.elicitation_delay = n.dist("elicitation_delay", Unit::Duration, a.elicitation_delay)?;
    a.undeclared = n.choice(
        "undeclared",
        a.undeclared,
        &[
            ("method_not_found", Undeclared::MethodNotFound),
            ("ignore", Undeclared::Ignore),
        ],
    )?;
    n.finish()?;
    Ok(a)
}

fn unknown_generator(s: &str) -> String {
    format!("unknown generator {s:?}: one of $id, $toolu, $traceparent, $root_uri")
}

fn parse_session(node: Option<Node<'_>>, base: &SessionShape) -> R<SessionShape> {
    let mut s = base.clone();
    let Some(mut n) = node else { return Ok(s) };
    s.user_turns = n.dist("user_turns", Unit::Count, s.user_turns)?;
    s.steps = n.dist("steps", Unit::Count, s.steps)?;
    s.fan_out = n.dist("fan_out", Unit::Count, s.fan_out)?;
    s.step_to_turn = n.choice(
        "step_to_turn",
        s.step_to_turn,
        &[
            ("first_then_uniform", StepToTurn::FirstThenUniform),
            ("uniform", StepToTurn::Uniform),
        ],
    )?;
    s.cancel_p = n.prob("cancel_p", s.cancel_p)?;
    s.cancel_after = n.dist("cancel_after", Unit::Duration, s.cancel_after)?;
    n.finish()?;
    Ok(s)
}

fn parse_think(node: Option<Node<'_>>, base: &Think) -> R<Think> {
    let mut t = base.clone();
    let Some(mut n) = node else { return Ok(t) };
    t.first_call = n.dist("first_call", Unit::Duration, t.first_call)?;
    t.between_steps = n.dist("between_steps", Unit::Duration, t.between_steps)?;
    t.between_turns = n.dist("between_turns", Unit::Duration, t.between_turns)?;
    t.no_tool_turn = n.choice(
        "no_tool_turn",
        t.no_tool_turn,
        &[
            ("first_call", NoToolTurn::FirstCall),
            ("zero", NoToolTurn::Zero),
        ],
    )?;
    n.finish()?;
    Ok(t)
}

fn parse_tools(node: Option<Node<'_>>) -> R<Tools> {
    let mut t = Tools {
        source: ToolSource::Discover,
        zipf_s: 1.1,
        rank: RankMode::Auto,
        read_only_from: ReadOnlyFrom::Annotations,
        exclude: Vec::new(),
        overrides: Vec::new(),
    };
    let Some(mut n) = node else { return Ok(t) };
    t.source = n.choice(
        "source",
        t.source,
        &[
            ("discover", ToolSource::Discover),
            ("listed", ToolSource::Listed),
        ],
    )?;
    if let Some(c) = n.opt_table("choice")? {
        t.zipf_s = parse_choice(c)?;
    }
    t.rank = n.choice(
        "rank",
        t.rank,
        &[
            ("auto", RankMode::Auto),
            ("shuffle", RankMode::Shuffle),
            ("listed", RankMode::Listed),
        ],
    )?;
    t.read_only_from = n.choice(
        "read_only_from",
        t.read_only_from,
        &[
            ("annotations", ReadOnlyFrom::Annotations),
            ("never", ReadOnlyFrom::Never),
        ],
    )?;
    t.exclude = n.strings("exclude", MAX_LIST)?.unwrap_or_default();
    for mut o in n.tables("override", MAX_LIST)? {
        let name = o.req_string("name")?;
        let weight = match o.opt_number("weight")? {
            Some(w) if w < 0.0 => {
                return Err(o.err("weight", format!("expected a number >= 0, got {w}")));
            }
            w => w,
        };
        let arguments = match o.get("arguments") {
            None => None,
            Some(Value::Table(tbl)) => Some(toml_to_json(&Value::Table(tbl.clone()))),
            Some(v) => {
                return Err(o.err(
                    "arguments",
                    format!(
                        "expected a table (the arguments object), got {}",
                        type_name(v)
                    ),
                ));
            }
        };
        o.finish()?;
        t.overrides.push(ToolOverride {
            name,
            weight,
            arguments,
        });
    }
    if t.source == ToolSource::Listed && t.overrides.is_empty() {
        return Err(n.err(
            "source",
            "source = \"listed\" needs at least one [[tools.override]]",
        ));
    }
    n.finish()?;
    Ok(t)
}

fn parse_choice(mut c: Node<'_>) -> R<f64> {
    let kind = c.req_string("dist")?;
    let s = match kind.as_str() {
        "zipf" => c.number("s", 1.0, 0.0, 100.0)?,
        // Uniform popularity: Zipf with s = 0.
        "uniform" => 0.0,
        other => {
            return Err(c.err(
                "dist",
                format!("unknown choice {other:?}: tools.choice takes zipf (popularity by rank) or uniform"),
            ));
        }
    };
    c.finish()?;
    Ok(s)
}

fn parse_payload(node: Option<Node<'_>>) -> R<Payload> {
    let mut p = Payload {
        args_generator: ArgsGenerator::Schema,
        optional_p: 0.5,
        args_size: Dist::lognormal(120.0, 1.1, 2.0, 65536.0),
        args_large_p: 0.03,
        args_large_size: Dist::lognormal(4096.0, 1.0, 1024.0, 65536.0),
    };
    let Some(mut n) = node else { return Ok(p) };
    p.args_generator = n.choice(
        "args_generator",
        p.args_generator,
        &[
            ("schema", ArgsGenerator::Schema),
            ("empty", ArgsGenerator::Empty),
        ],
    )?;
    p.optional_p = n.prob("optional_p", p.optional_p)?;
    p.args_size = n.dist("args_size", Unit::Bytes, p.args_size)?;
    p.args_large_p = n.prob("args_large_p", p.args_large_p)?;
    p.args_large_size = n.dist("args_large_size", Unit::Bytes, p.args_large_size)?;
    n.finish()?;
    Ok(p)
}

fn parse_tokens(n: &mut Node<'_>, key: &'static str) -> R<Vec<Token>> {
    let Some(list) = n.strings(key, MAX_LIST)? else {
        return Ok(Vec::new());
    };
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            Token::parse(s).ok_or_else(|| {
                ScenarioError::new(
                    n.file(),
                    &format!("{}[{i}]", n.key_path(key)),
                    format!(
                        "unknown sequence token {s:?}: one of handshake, tools/list, prompts/list, \
                         resources/list (each optionally with ?advertised), stream, delete"
                    ),
                )
            })
        })
        .collect()
}

fn parse_templates(n: &mut Node<'_>, key: &'static str) -> R<Vec<(String, Template)>> {
    let Some(tbl) = n.opt_table(key)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (k, v) in tbl_entries(&tbl) {
        let Value::String(s) = v else {
            return Err(tbl.err(k, format!("expected a string, got {}", type_name(v))));
        };
        let t = Template::parse(s).ok_or_else(|| tbl.err(k, unknown_generator(s)))?;
        out.push((k.clone(), t));
    }
    Ok(out)
}

fn tbl_entries<'a>(n: &Node<'a>) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
    n.table_ref().iter()
}

fn parse_weighted<T>(
    n: &mut Node<'_>,
    key: &'static str,
    default: Vec<Weighted<T>>,
    mut item: impl FnMut(&mut Node<'_>) -> R<T>,
) -> R<Vec<Weighted<T>>> {
    if !n.has(key) {
        let _ = n.get(key);
        return Ok(default);
    }
    let mut out = Vec::new();
    for mut t in n.tables(key, MAX_LIST)? {
        let value = item(&mut t)?;
        let weight = t.weight("weight", 1.0)?;
        t.finish()?;
        out.push(Weighted { value, weight });
    }
    if out.is_empty() || out.iter().all(|w| w.weight <= 0.0) {
        return Err(n.err(key, "expected at least one entry with weight > 0"));
    }
    Ok(out)
}

fn optional_duration(n: &mut Node<'_>, ms: &'static str, s: &'static str) -> R<Option<u64>> {
    let present = n.has(ms) || n.has(s);
    let v = n.duration(ms, s, 0, MAX_DURATION_US)?;
    Ok(present.then_some(v))
}

fn parse_family(mut n: Node<'_>, session: &SessionShape, think: &Think) -> R<ClientFamily> {
    let name = n.req_string("name")?;
    let weight = n.weight("weight", 1.0)?;
    let calls_tools_p = n.prob("calls_tools_p", 1.0)?;
    let transport = n.choice(
        "transport",
        Transport::StreamableHttp,
        &[
            ("streamable-http", Transport::StreamableHttp),
            ("http+sse", Transport::HttpSse),
            ("stdio", Transport::Stdio),
        ],
    )?;
    let http_version = n.choice(
        "http_version",
        HttpVersion::Http1,
        &[("1.1", HttpVersion::Http1), ("2", HttpVersion::Http2)],
    )?;
    let connections = n.choice(
        "connections",
        Connections::PerUser,
        &[
            ("shared", Connections::Shared),
            ("per_user", Connections::PerUser),
            ("per_request", Connections::PerRequest),
        ],
    )?;
    let user_agent = n.string("user_agent", "mcpx-load")?;
    let accept = n.string("accept", "application/json, text/event-stream")?;
    let headers = parse_templates(&mut n, "headers")?;
    let protocol_header_p = n.prob("protocol_header_p", 1.0)?;
    let client_info = parse_weighted(
        &mut n,
        "client_info",
        vec![Weighted {
            value: ClientInfo::new("mcpx-load", "0.1.0"),
            weight: 1.0,
        }],
        parse_client_info,
    )?;
    let protocol_versions = parse_weighted(
        &mut n,
        "protocol_versions",
        vec![Weighted {
            value: "2025-11-25".to_owned(),
            weight: 1.0,
        }],
        |t| t.req_string("version"),
    )?;
    let capabilities = parse_weighted(
        &mut n,
        "capabilities",
        vec![Weighted {
            value: Json::Object(serde_json::Map::new()),
            weight: 1.0,
        }],
        |t| match t.get("value") {
            Some(v @ Value::Table(_)) => Ok(toml_to_json(v)),
            Some(v) => Err(t.err(
                "value",
                format!(
                    "expected a table (the capabilities object), got {}",
                    type_name(v)
                ),
            )),
            None => Err(t.err("value", "required key is missing")),
        },
    )?;
    let call_meta = parse_templates(&mut n, "call_meta")?;
    let parallel = n.choice(
        "parallel",
        Parallel::All,
        &[
            ("all", Parallel::All),
            ("read_only", Parallel::ReadOnly),
            ("none", Parallel::None),
        ],
    )?;
    let modern_p = n.prob("modern_p", 0.0)?;
    let reprobe_p = n.prob("reprobe_p", 0.0)?;
    let initialize_after_discover_p = n.prob("initialize_after_discover_p", 0.0)?;
    let lifetime = n.opt_dist("lifetime", Unit::Duration)?;

    let sequence = {
        let node = n.opt_table("sequence")?;
        let mut seq = Sequence {
            on_start: vec![Token::Handshake, Token::ToolsList(false)],
            on_turn: Vec::new(),
            before_call: Vec::new(),
            on_end: Vec::new(),
            on_exit: Vec::new(),
            delete_p: 1.0,
            reuse_session_p: 0.0,
            exit_session_p: 1.0,
            echo_session_id: true,
        };
        if let Some(mut s) = node {
            if s.has("on_start") {
                seq.on_start = parse_tokens(&mut s, "on_start")?;
            } else {
                let _ = s.get("on_start");
            }
            seq.on_turn = parse_tokens(&mut s, "on_turn")?;
            seq.before_call = parse_tokens(&mut s, "before_call")?;
            seq.on_end = parse_tokens(&mut s, "on_end")?;
            seq.on_exit = parse_tokens(&mut s, "on_exit")?;
            seq.delete_p = s.prob("delete_p", seq.delete_p)?;
            seq.reuse_session_p = s.prob("reuse_session_p", seq.reuse_session_p)?;
            seq.exit_session_p = s.prob("exit_session_p", seq.exit_session_p)?;
            seq.echo_session_id = s.boolean("echo_session_id", seq.echo_session_id)?;
            s.finish()?;
        }
        seq
    };

    let stream = {
        let mut st = StreamPolicy {
            open: false,
            listen_notifications: serde_json::json!({
                "toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": true
            }),
            on_405: OnStreamError::Stop,
            on_404: OnStreamError::Reinitialize,
            reconnect: Reconnect {
                initial_us: 1_000_000,
                factor: 2.0,
                attempts: 5,
            },
        };
        if let Some(mut s) = n.opt_table("stream")? {
            st.open = s.boolean("open", st.open)?;
            if let Some(v) = s.get("listen_notifications") {
                if !matches!(v, Value::Table(_)) {
                    return Err(s.err(
                        "listen_notifications",
                        format!("expected a table of booleans, got {}", type_name(v)),
                    ));
                }
                st.listen_notifications = toml_to_json(v);
            }
            let choices = [
                ("stop", OnStreamError::Stop),
                ("reinitialize", OnStreamError::Reinitialize),
                ("retry", OnStreamError::Retry),
            ];
            st.on_405 = s.choice("on_405", st.on_405, &choices)?;
            st.on_404 = s.choice("on_404", st.on_404, &choices)?;
            if let Some(mut r) = s.opt_table("reconnect")? {
                st.reconnect.initial_us = r.duration(
                    "initial_ms",
                    "initial_s",
                    st.reconnect.initial_us,
                    MAX_DURATION_US,
                )?;
                st.reconnect.factor = r.number("factor", st.reconnect.factor, 1.0, 100.0)?;
                // Each attempt is one request: a bound keeps a misconfigured loop finite.
                st.reconnect.attempts =
                    r.uint("attempts", u64::from(st.reconnect.attempts), 1000)? as u32;
                r.finish()?;
            }
            s.finish()?;
        }
        st
    };

    let timeouts = {
        let mut t = Timeouts {
            handshake_us: None,
            connect_us: None,
            tool_call_us: None,
            tool_idle_us: None,
            idle_check_us: None,
            on_timeout: OnTimeout::Close,
        };
        if let Some(mut s) = n.opt_table("timeouts")? {
            t.handshake_us = optional_duration(&mut s, "handshake_ms", "handshake_s")?;
            t.connect_us = optional_duration(&mut s, "connect_ms", "connect_s")?;
            t.tool_call_us = optional_duration(&mut s, "tool_call_ms", "tool_call_s")?;
            t.tool_idle_us = optional_duration(&mut s, "tool_idle_ms", "tool_idle_s")?;
            t.idle_check_us =
                optional_duration(&mut s, "idle_check_ms", "idle_check_s")?.filter(|v| *v > 0);
            t.on_timeout = s.choice(
                "on_timeout",
                t.on_timeout,
                &[("close", OnTimeout::Close), ("cancel", OnTimeout::Cancel)],
            )?;
            s.finish()?;
        }
        t
    };

    let probes = {
        let mut p = Probes {
            unauth_initialize_every: None,
            unauth_client_info: ClientInfo::new("Anthropic/ClaudeAI", "1.0.0"),
            connect_verify_p: 0.0,
        };
        if let Some(mut s) = n.opt_table("probes")? {
            p.unauth_initialize_every = s.opt_dist("unauth_initialize_every", Unit::Duration)?;
            if let Some(mut ci) = s.opt_table("unauth_client_info")? {
                p.unauth_client_info = parse_client_info(&mut ci)?;
                ci.finish()?;
            }
            p.connect_verify_p = s.prob("connect_verify_p", p.connect_verify_p)?;
            s.finish()?;
        }
        p
    };
    let session = parse_session(n.opt_table("session")?, session)?;
    let think = parse_think(n.opt_table("think")?, think)?;
    n.finish()?;
    Ok(ClientFamily {
        name,
        weight,
        calls_tools_p,
        transport,
        http_version,
        connections,
        user_agent,
        accept,
        headers,
        protocol_header_p,
        client_info,
        protocol_versions,
        capabilities,
        call_meta,
        parallel,
        modern_p,
        reprobe_p,
        initialize_after_discover_p,
        lifetime,
        sequence,
        stream,
        timeouts,
        probes,
        session,
        think,
    })
}

fn parse_target(mut n: Node<'_>) -> R<TargetSpec> {
    let server_info = match n.opt_table("server_info")? {
        Some(mut s) => {
            let ci = parse_client_info(&mut s)?;
            s.finish()?;
            ci
        }
        None => ClientInfo::new("mcpx-mock", "1"),
    };
    let versions = n.strings("versions", MAX_LIST)?.unwrap_or_else(|| {
        ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
            .map(str::to_owned)
            .to_vec()
    });
    if versions.is_empty() {
        return Err(n.err("versions", "expected at least one protocol version"));
    }
    let capabilities = match n.get("capabilities") {
        None => serde_json::json!({ "tools": {} }),
        Some(v @ Value::Table(_)) => toml_to_json(v),
        Some(v) => {
            return Err(n.err(
                "capabilities",
                format!("expected a table, got {}", type_name(v)),
            ));
        }
    };
    // Bounds: list sizes a mock can serve in one page without surprising anyone.
    let prompts = n.uint("prompts", 0, 10_000)? as u32;
    let resources = n.uint("resources", 0, 10_000)? as u32;
    let get_stream = n.choice(
        "get_stream",
        GetStream::Accept,
        &[("accept", GetStream::Accept), ("405", GetStream::Reject)],
    )?;
    let session_idle_ttl_us = n.duration(
        "session_idle_ttl_ms",
        "session_idle_ttl_s",
        600_000_000,
        MAX_DURATION_US,
    )?;
    let response_mode = n.choice(
        "response_mode",
        ResponseMode::Auto,
        &[
            ("auto", ResponseMode::Auto),
            ("json", ResponseMode::Json),
            ("sse", ResponseMode::Sse),
        ],
    )?;
    let progress_interval_us = n.duration(
        "progress_interval_ms",
        "progress_interval_s",
        5_000_000,
        MAX_DURATION_US,
    )?;
    if progress_interval_us == 0 {
        return Err(n.err("progress_interval_ms", "expected a period > 0"));
    }
    let result_size = n.dist(
        "result_size",
        Unit::Bytes,
        Dist::lognormal(1536.0, 1.6, 40.0, 4_194_304.0),
    )?;
    let structured_doubles = n.boolean("structured_doubles", true)?;
    let is_error_p = n.prob("is_error_p", 0.0)?;
    let jsonrpc_error_p = n.prob("jsonrpc_error_p", 0.0)?;
    let cold_start_us = n.duration("cold_start_ms", "cold_start_s", 0, MAX_DURATION_US)?;
    let mut tools = Vec::new();
    for mut t in n.tables("tools", MAX_LIST)? {
        let rank = t.uint("rank", 0, u64::from(u32::MAX))? as u32;
        tools.push(TargetTool {
            rank,
            name: t.req_string("name")?,
            class: t.req_string("class")?,
            read_only: t.boolean("read_only", false)?,
            output_schema: t.boolean("output_schema", false)?,
            // A definition above 1 MiB would be a broken mock, not a realistic tool.
            def_bytes: t.uint("def_bytes", 600, 1 << 20)?,
        });
        t.finish()?;
    }
    let mut latency = Vec::new();
    if let Some(l) = n.opt_table("latency")? {
        let path = l.path().to_owned();
        for (k, v) in l.table_ref() {
            let d = crate::reader::parse_dist(
                v,
                &crate::reader::join(&path, k),
                Unit::Duration,
                l.file(),
            )?;
            latency.push((k.clone(), d));
        }
    }
    for (i, t) in tools.iter().enumerate() {
        if !latency.iter().any(|(c, _)| *c == t.class) {
            let classes: Vec<&str> = latency.iter().map(|(c, _)| c.as_str()).collect();
            return Err(ScenarioError::new(
                n.file(),
                &format!("{}[{i}].class", n.key_path("tools")),
                format!(
                    "unknown class {:?}: [target.latency] defines {}",
                    t.class,
                    if classes.is_empty() {
                        "none".to_owned()
                    } else {
                        classes.join(", ")
                    }
                ),
            ));
        }
        if tools[..i].iter().any(|o| o.name == t.name) {
            return Err(ScenarioError::new(
                n.file(),
                &format!("{}[{i}].name", n.key_path("tools")),
                format!("duplicate tool name {:?}", t.name),
            ));
        }
    }
    n.finish()?;
    Ok(TargetSpec {
        server_info,
        versions,
        capabilities,
        prompts,
        resources,
        get_stream,
        session_idle_ttl_us,
        response_mode,
        progress_interval_us,
        result_size,
        structured_doubles,
        is_error_p,
        jsonrpc_error_p,
        cold_start_us,
        tools,
        latency,
    })
}

fn parse_quirks(node: Option<Node<'_>>) -> R<Quirks> {
    let mut q = Quirks {
        get_reconnect_storm: false,
        listen_storm: false,
        dead_session_get: false,
        stale_session: false,
        oauth_connect: false,
        no_affinity: false,
        accept_json_only_p: 0.0,
        cc_request_cap_us: 0,
        header_version_mismatch_p: 0.0,
    };
    let Some(mut n) = node else { return Ok(q) };
    q.get_reconnect_storm = n.boolean("get_reconnect_storm", false)?;
    q.listen_storm = n.boolean("listen_storm", false)?;
    q.dead_session_get = n.boolean("dead_session_get", false)?;
    q.stale_session = n.boolean("stale_session", false)?;
    q.oauth_connect = n.boolean("oauth_connect", false)?;
    q.no_affinity = n.boolean("no_affinity", false)?;
    q.accept_json_only_p = n.prob("accept_json_only_p", 0.0)?;
    q.cc_request_cap_us =
        n.duration("cc_request_cap_ms", "cc_request_cap_s", 0, MAX_DURATION_US)?;
    q.header_version_mismatch_p = n.prob("header_version_mismatch_p", 0.0)?;
    n.finish()?;
    Ok(q)
}

fn parse_report(node: Option<Node<'_>>) -> R<Report> {
    let mut r = Report {
        group_by: vec![GroupBy::Method, GroupBy::Tool, GroupBy::Client],
        percentiles: vec![50.0, 90.0, 99.0, 99.9],
        latency_from: LatencyFrom::Intended,
        interval_us: 1_000_000,
        hdr_sigfig: 3,
        record_trace: String::new(),
    };
    let Some(mut n) = node else { return Ok(r) };
    if let Some(list) = n.strings("group_by", 16)? {
        r.group_by.clear();
        for (i, g) in list.iter().enumerate() {
            r.group_by.push(match g.as_str() {
                "method" => GroupBy::Method,
                "tool" => GroupBy::Tool,
                "client" => GroupBy::Client,
                other => {
                    return Err(ScenarioError::new(
                        n.file(),
                        &format!("{}[{i}]", n.key_path("group_by")),
                        format!("unknown grouping {other:?}: one of method, tool, client"),
                    ));
                }
            });
        }
    }
    if let Some(list) = n.opt_array("percentiles")? {
        r.percentiles.clear();
        for (i, v) in list.iter().enumerate() {
            match crate::reader::as_f64(v) {
                Some(p) if (0.0..=100.0).contains(&p) => r.percentiles.push(p),
                _ => {
                    return Err(ScenarioError::new(
                        n.file(),
                        &format!("{}[{i}]", n.key_path("percentiles")),
                        "expected a percentile in [0, 100]",
                    ));
                }
            }
        }
    }
    r.latency_from = n.choice(
        "latency_from",
        r.latency_from,
        &[
            ("intended", LatencyFrom::Intended),
            ("actual", LatencyFrom::Actual),
        ],
    )?;
    r.interval_us = n.duration("interval_ms", "interval_s", r.interval_us, MAX_DURATION_US)?;
    r.hdr_sigfig = n.number("hdr_sigfig", 3.0, 1.0, 5.0)? as u8;
    r.record_trace = n.string("record_trace", "")?;
    n.finish()?;
    Ok(r)
}

/// TOML to JSON (datetimes become strings).
pub(crate) fn toml_to_json(v: &Value) -> Json {
    match v {
        Value::String(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(d) => Json::String(d.to_string()),
        Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
