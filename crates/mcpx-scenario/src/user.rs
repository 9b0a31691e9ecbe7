//! Virtual users (PROFILE 2.1): one conversation or one Claude Code process as a clock-driven
//! state machine that says which MCP operation to start when, and reacts to what came back.
//!
//! ```text
//!   [connect verify] -> on_start -> turn 1 .. turn N -> on_end -> [hold lifetime]
//!                                   |                               -> close stream
//!   turn: [between_turns] on_turn first_call step (between_steps step)*   -> [on_exit] -> Finished
//!   step: B calls, grouped by `parallel`; each call = before_call tokens + tools/call
//!   background: stream reconnects, unauthenticated probes, answers, deadlines, cancels
//! ```

use crate::limits::{MAX_CHAINS, MAX_PENDING_ANSWERS, MAX_RECORDED_THINKS, MAX_RECORDED_TURNS};
use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::args::{generate_arguments, generate_value};
use crate::dist::pick_cumulative;
use crate::format::{
    ArgsGenerator, ClientFamily, ClientInfo, NoToolTurn, OnStreamError, OnTimeout, Parallel,
    StepToTurn, Template, Token, Undeclared,
};
use crate::plan::Plan;
use crate::rng::Rng;
use crate::target::{MODERN_VERSION, ServerCaps};

/// Grace after the last call before a long-lived user may end (PROFILE 2.1 step 7: "≥ 5 s
/// after its last call"). This and the other client-side `*_US` constants below are
/// multiplied by [`crate::Scenario::time_scale`].
pub const LAST_CALL_GRACE_US: u64 = 5_000_000;
/// A stream open at least this long counts as healthy: its end starts a fresh series of
/// reconnect attempts (`[clients.stream] reconnect.attempts` bounds each series, so a server
/// that closes every stream at once sees at most that many GETs, then none).
pub const STREAM_HEALTHY_US: u64 = 60_000_000;
/// Reopen delay under `[scenarios] get_reconnect_storm` (PROFILE 1.2: "~5 GET/s per idle
/// client").
pub const STORM_REOPEN_US: u64 = 200_000;
/// The family `[scenarios] oauth_connect` applies to.
pub const CLAUDE_AI_FAMILY: &str = "claude_ai";
/// Domain of the streams of a user's chains: chain n of user k draws from
/// `(seed of (profile.seed, k), DOMAIN_CHAIN, n)` (see [`VirtualUser`]'s `chain_seed`).
const DOMAIN_CHAIN: u64 = 0x6368_6e73; // "chns"
/// Domain of the streams of a user's background chains (reactions to what the server did:
/// re-initialisations, injected calls), numbered apart so they never shift the program's, and
/// (index = the user) of its background stream (answers, probes, stream reconnects).
const DOMAIN_BACKGROUND_CHAIN: u64 = 0x6267_6368; // "bgch"
/// Period of the re-GETs on a dead session under `[scenarios] dead_session_get` (PROFILE 1.2:
/// "endless GETs on a dead session (~18 req/s)").
pub const DEAD_SESSION_GET_US: u64 = 55_000;
/// Pause between the cycles of `[scenarios] listen_storm` (PROFILE 1.2: "an all-day listen +
/// discover + lists loop", ~5-6 req/s per user: 5 requests per cycle).
pub const LISTEN_STORM_CYCLE_US: u64 = 1_000_000;
/// The family the `cc_*` and `accept_json_only_p` quirks of `[scenarios]` apply to.
pub const CLAUDE_CODE_FAMILY: &str = "claude_code";
/// Gap between the two `initialize` requests of the Add/Connect sequence (PROFILE 1.1: "two
/// `initialize` ~2 s apart").
pub const CONNECT_PROBE_GAP_US: u64 = 2_000_000;

/// Identifies one operation of one user (unique per user, increasing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::exhaustive_structs, reason = "a plain id newtype")]
pub struct OpId(pub u64);

/// A legacy session of one user (the runner binds it to the `Mcp-Session-Id` the server issued
/// in the `initialize` that created it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::exhaustive_structs, reason = "a plain id newtype")]
pub struct SessionRef(pub u32);

/// The runner's handle of a server-to-client request (its JSON-RPC id, or an index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::exhaustive_structs, reason = "a plain id newtype")]
pub struct ServerRequestId(pub u64);

/// The protocol era of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_enums, reason = "MCP has exactly these two eras")]
pub enum Era {
    /// 2025-11-25 and older: sessions, `initialize`.
    Legacy,
    /// 2026-07-28: no session; `_meta` identity and `Mcp-Method`/`Mcp-Name` headers on every
    /// request.
    Modern,
}

/// A `_meta` value of a `tools/call`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaValue {
    /// This request's JSON-RPC id (`$id`, e.g. `progressToken`).
    RequestId,
    /// A literal string.
    Text(String),
}

/// The answer to a server-to-client request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// Elicitation accepted with this content.
    Accept(Json),
    /// Elicitation declined.
    Decline,
    /// Elicitation cancelled.
    Cancel,
    /// `roots/list` result (`{"roots": [...]}`).
    Roots(Json),
    /// An empty result (`ping`).
    Empty,
    /// JSON-RPC error `-32601`.
    MethodNotFound,
}

/// What an operation does on the wire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OpKind {
    /// `server/discover`.
    Discover,
    /// `initialize` (the runner binds the issued session id to [`Op::session`] if any).
    Initialize {
        /// clientInfo.
        client_info: ClientInfo,
        /// Offered protocol version.
        protocol_version: String,
        /// Client capabilities.
        capabilities: Json,
    },
    /// `notifications/initialized`.
    Initialized,
    /// `tools/list`, all pages.
    ToolsList,
    /// `prompts/list`, all pages.
    PromptsList,
    /// `resources/list`, all pages.
    ResourcesList,
    /// Legacy: GET listening stream; modern: `subscriptions/listen` with this filter.
    /// Report [`Outcome::StreamOpen`] once the server accepted it; it stays open until the user
    /// cancels it ([`CancelReason::Close`]) or the server ends it (report `Done`/`Failed`).
    OpenStream {
        /// The modern `notifications` filter.
        listen: Json,
    },
    /// HTTP DELETE of the session.
    Delete,
    /// `tools/call`.
    CallTool {
        /// Index into [`Plan::tools`].
        tool: usize,
        /// Tool name (shared with the plan's [`crate::CallableTool`]).
        name: Arc<str>,
        /// Serialised `arguments` object (shared with the plan's when the scenario fixes them:
        /// no copy per call).
        arguments: Arc<str>,
        /// `params._meta` entries.
        meta: Vec<(String, MetaValue)>,
    },
    /// `notifications/cancelled` for an earlier request (legacy).
    Cancelled {
        /// The cancelled request.
        request: OpId,
    },
    /// One step of the OAuth connect chain (`[scenarios] oauth_connect`), not an MCP request.
    OAuth(OAuthStep),
    /// The response to a server-to-client request.
    Answer {
        /// Which request.
        request: ServerRequestId,
        /// What to answer.
        answer: Answer,
    },
}

impl OpKind {
    /// The JSON-RPC method or HTTP verb, for counting and reports.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            Self::Discover => "server/discover",
            Self::Initialize { .. } => "initialize",
            Self::Initialized => "notifications/initialized",
            Self::ToolsList => "tools/list",
            Self::PromptsList => "prompts/list",
            Self::ResourcesList => "resources/list",
            Self::OpenStream { .. } => "GET",
            Self::Delete => "DELETE",
            Self::CallTool { .. } => "tools/call",
            Self::Cancelled { .. } => "notifications/cancelled",
            Self::Answer { .. } => "response",
            Self::OAuth(step) => step.name(),
        }
    }
}

/// The OAuth steps claude.ai runs before connecting (PROFILE 1.1, `[scenarios] oauth_connect`):
/// after an `initialize` without credentials answered 401, it reads the metadata, registers,
/// and fetches a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthStep {
    /// `GET /.well-known/oauth-protected-resource` (RFC 9728).
    ProtectedResourceMetadata,
    /// `GET /.well-known/oauth-authorization-server` (RFC 8414) of the advertised server.
    AuthorizationServerMetadata,
    /// `POST` dynamic client registration (RFC 7591).
    Register,
    /// `POST` to the token endpoint.
    Token,
}

impl OAuthStep {
    /// A short name for counting and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ProtectedResourceMetadata => "oauth/protected-resource",
            Self::AuthorizationServerMetadata => "oauth/authorization-server",
            Self::Register => "oauth/register",
            Self::Token => "oauth/token",
        }
    }
}

/// One operation to start now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Op {
    /// Its id (report outcomes with it).
    pub id: OpId,
    /// What to send.
    pub kind: OpKind,
    /// Legacy: the session it belongs to (for `initialize`: the session it creates; `None` =
    /// discard the issued id). Always `None` for modern and sessionless requests.
    pub session: Option<SessionRef>,
    /// Era of this request.
    pub era: Era,
    /// Send `Authorization` (false only for the unauthenticated probes).
    pub authenticated: bool,
    /// Send `MCP-Protocol-Version` (post-handshake legacy requests draw `protocol_header_p`;
    /// the runner omits it anyway below 2025-06-18).
    pub protocol_header: bool,
    /// Send `Mcp-Session-Id` (`echo_session_id = false` families omit it).
    pub echo_session_id: bool,
    /// Send an `MCP-Protocol-Version` that disagrees with the negotiated version
    /// (`[scenarios] header_version_mismatch_p`).
    pub version_mismatch: bool,
    /// Extra headers, generators resolved.
    pub headers: Vec<(String, String)>,
    /// The intended send time, µs: measure latency from here.
    pub intended_us: u64,
}

/// Which client deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deadline {
    /// `handshake_ms` on `initialize`.
    Handshake,
    /// `connect_ms` on the start sequence.
    Connect,
    /// `tool_call_ms`.
    ToolCall,
    /// `tool_idle_ms` (no response and no progress).
    ToolIdle,
}

/// Why an operation is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// A client deadline: count a `timeout` error.
    Timeout(Deadline),
    /// The user cancelled the call (`cancel_p`).
    User,
    /// The user is done with a held stream (or ends with the op in flight).
    Close,
}

/// What the runner must do next.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Send this operation now.
    Start(Op),
    /// Stop waiting for `op` and close its exchange (response stream); later outcomes for it are
    /// ignored. A legacy cancel is followed by a separate [`OpKind::Cancelled`] start.
    Cancel {
        /// The operation.
        op: OpId,
        /// Why.
        reason: CancelReason,
    },
    /// The user is done; drop it.
    Finished,
}

/// A successful completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Done {
    /// `server/discover` listed 2026-07-28.
    pub modern: bool,
    /// Capabilities the server advertised (discover / initialize results).
    pub caps: Option<ServerCaps>,
    /// `tools/call` result had `isError: true`.
    pub is_error: bool,
}

impl Done {
    /// A plain success (lists, notifications accepted, DELETE, stream ended by the server).
    #[must_use]
    pub fn ok() -> Self {
        Self::default()
    }

    /// A `server/discover` result.
    #[must_use]
    pub fn discover(lists_modern: bool, caps: ServerCaps) -> Self {
        Self {
            modern: lists_modern,
            caps: Some(caps),
            is_error: false,
        }
    }

    /// An `initialize` result.
    #[must_use]
    pub fn initialize(caps: ServerCaps) -> Self {
        Self {
            modern: false,
            caps: Some(caps),
            is_error: false,
        }
    }

    /// A `tools/call` result.
    #[must_use]
    pub fn tool(is_error: bool) -> Self {
        Self {
            modern: false,
            caps: None,
            is_error,
        }
    }
}

/// A failed completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// HTTP status (400, 401, 404, 405, 406, 5xx...).
    Http(u16),
    /// JSON-RPC error code.
    JsonRpc(i32),
    /// Connect, TLS, reset, decode.
    Transport,
    /// A runner-side timeout (the user's own deadlines arrive as [`Action::Cancel`]).
    Timeout,
}

/// A server-to-client request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerRequest {
    /// `elicitation/create` with this `requestedSchema`.
    Elicitation {
        /// The form schema.
        requested_schema: Json,
    },
    /// `roots/list`.
    RootsList,
    /// `sampling/createMessage`.
    Sampling,
    /// `ping`.
    Ping,
    /// Anything else.
    Other,
}

/// What happened to an operation (fed back with [`VirtualUser::on_outcome`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Completed successfully.
    Done(Done),
    /// Completed with an error.
    Failed(Failure),
    /// `notifications/progress` arrived (resets the idle deadline).
    Progress,
    /// The stream was accepted (200 with an event stream) and stays open.
    StreamOpen,
    /// The server sent a request in this operation's context; the user answers later with an
    /// [`OpKind::Answer`].
    ServerRequest(ServerRequestId, ServerRequest),
}

/// The three think times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_enums, reason = "the profile's three think times")]
pub enum ThinkKind {
    /// User message -> first call.
    FirstCall,
    /// Step result -> next step.
    BetweenSteps,
    /// Turn end -> next message.
    BetweenTurns,
}

/// Counters of one user, for reports and the oracle.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UserStats {
    /// Start time, µs.
    pub start_us: u64,
    /// Turns drawn.
    pub turns: u32,
    /// Steps drawn (0 without calls).
    pub steps: u32,
    /// Fan-out of each step run.
    pub fan_outs: Vec<u8>,
    /// `tools/call` started.
    pub calls: u32,
    /// Sessions created by authenticated `initialize`s.
    pub sessions: u32,
    /// End of the last turn, µs (set once the conversation is over).
    pub conversation_end_us: Option<u64>,
    /// Duration of each finished turn, µs: from the user's message (`on_turn`) to the answer
    /// of its last step (the start of the next think between turns, or the conversation's
    /// end). At most [`MAX_RECORDED_TURNS`](crate::MAX_RECORDED_TURNS).
    pub turn_us: Vec<u64>,
    /// Think samples (only with [`VirtualUser::record_details`]).
    pub thinks: Vec<(ThinkKind, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EraState {
    Unknown,
    Legacy,
    Modern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seq {
    Start,
    Turn,
    End,
    Exit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instr {
    OAuthConnect,
    ConnectVerify,
    Seq(Seq),
    Think(ThinkKind),
    /// The `n` steps of a turn, separated by between-step thinks: one entry however many steps
    /// a user draws (a program the size of its steps would cost memory per user proportional
    /// to its calls, up to `MAX_COUNT` each).
    Steps(u32),
    EndConversation,
    Hold,
    CloseStream,
    Finish,
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitVariant {
    User,
    /// Connect probe 1: `Anthropic/1.0.0`, `{}` (PROFILE 1.1).
    ConnectPlain,
    /// Connect probe 2: `Anthropic/ClaudeAI/1.0.0` + the UI extension.
    ConnectUi,
    /// The OAuth chain's first `initialize`, without credentials (expects 401).
    Unauth,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Token(Token),
    Discover,
    AfterDiscover,
    Initialize { bind: bool, variant: InitVariant },
    Initialized,
    List(&'static str),
    Stream,
    Delete { always: bool },
    Call(usize),
    Wait(u64),
    OAuth(OAuthStep),
}

/// How many buffers of each kind [`Spare`] keeps, and the largest it keeps (a buffer that grew
/// for a rare wide fan-out is dropped, not held by every user for the rest of its life).
const SPARE_BUFFERS: usize = 8;
const SPARE_MAX_LEN: usize = 16;

/// Emptied buffers kept for reuse (see `VirtualUser::spare`).
#[derive(Debug, Clone, Default)]
struct Spare {
    ids: Vec<Vec<usize>>,
    items: Vec<VecDeque<Item>>,
    groups: Option<VecDeque<Vec<usize>>>,
}

/// A buffer that [`Spare`] can keep: emptied, and judged by its capacity.
trait Reusable: Default {
    fn capacity(&self) -> usize;
    fn clear(&mut self);
}

impl<T> Reusable for Vec<T> {
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

impl<T> Reusable for VecDeque<T> {
    fn capacity(&self) -> usize {
        VecDeque::capacity(self)
    }
    fn clear(&mut self) {
        VecDeque::clear(self);
    }
}

/// A kept buffer from `shelf`, or a new empty one.
fn take_spare<T: Reusable>(shelf: &mut Vec<T>) -> T {
    shelf.pop().unwrap_or_default()
}

/// Keeps `v`, emptied, on `shelf` unless the shelf is full or `v` grew past the bound.
fn keep_spare<T: Reusable>(shelf: &mut Vec<T>, mut v: T) {
    if shelf.len() < SPARE_BUFFERS && v.capacity() <= SPARE_MAX_LEN {
        v.clear();
        shelf.push(v);
    }
}

impl Spare {
    fn ids(&mut self) -> Vec<usize> {
        take_spare(&mut self.ids)
    }

    fn give_ids(&mut self, v: Vec<usize>) {
        keep_spare(&mut self.ids, v);
    }

    fn items(&mut self) -> VecDeque<Item> {
        take_spare(&mut self.items)
    }

    fn give_items(&mut self, v: VecDeque<Item>) {
        keep_spare(&mut self.items, v);
    }

    fn groups(&mut self) -> VecDeque<Vec<usize>> {
        self.groups.take().unwrap_or_default()
    }

    fn give_groups(&mut self, mut v: VecDeque<Vec<usize>>) {
        if v.capacity() <= SPARE_MAX_LEN {
            for g in v.drain(..) {
                self.give_ids(g);
            }
            self.groups = Some(v);
        }
    }
}

#[derive(Debug, Clone)]
struct Chain {
    items: VecDeque<Item>,
    in_flight: Option<OpId>,
    /// When its next item is due, µs: the chain's start, then the arrival of each answer (plus
    /// the drawn wait of an [`Item::Wait`]). The operation launched next is intended at this
    /// time, whenever the runner gets to it (the wrk2 rule: the generator's lateness, a coarse
    /// timer's or a busy task's, counts in latency and in the report's lag, never hides).
    wait_until: u64,
    session: Option<SessionRef>,
    /// `on_exit`: its handshake always opens a session ("/exit opens one more short session").
    force_session: bool,
    /// Abandon the chain at this time (`connect_ms`).
    deadline: Option<u64>,
    /// Nobody waits for it; freed when done.
    background: bool,
    /// Its own random stream (set by `add_chain`): the parallel chains of a fan-out advance in
    /// the order their responses arrive, which the server decides, so drawing from the user's
    /// shared stream would make the workload depend on timing (and `--shard i/n` runs differ
    /// from the single run).
    rng: Rng,
}

impl Chain {
    /// A chain whose first item is due at `at` µs.
    fn new(items: VecDeque<Item>, at: u64) -> Self {
        Self {
            items,
            in_flight: None,
            wait_until: at,
            session: None,
            force_session: false,
            deadline: None,
            background: false,
            // Every chain gets its stream in `add_chain`.
            rng: Rng::unseeded(),
        }
    }

    fn is_done(&self) -> bool {
        self.items.is_empty() && self.in_flight.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Chain(usize),
    Stream,
    Detached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Discover,
    Initialize { bound: bool },
    Stream,
    Call,
    Other,
}

#[derive(Debug, Clone)]
struct InFlight {
    id: OpId,
    owner: Owner,
    tag: Tag,
    era: Era,
    session: Option<SessionRef>,
    started: u64,
    deadline: Option<(u64, Deadline)>,
    /// (idle period, check period, last activity).
    idle: Option<(u64, Option<u64>, u64)>,
    cancel_at: Option<u64>,
}

impl InFlight {
    fn due(&self) -> Option<(u64, Deadline)> {
        let mut best = self.deadline;
        if let Some((idle, check, last)) = self.idle {
            let due = last.saturating_add(idle);
            let due = match check {
                Some(c) if c > 0 => {
                    let ticks = due.saturating_sub(self.started).div_ceil(c);
                    self.started.saturating_add(ticks.saturating_mul(c))
                }
                _ => due,
            };
            if best.is_none_or(|(b, _)| due < b) {
                best = Some((due, Deadline::ToolIdle));
            }
        }
        best
    }
}

#[derive(Debug, Clone)]
enum Running {
    /// A session driver between injected calls: wakes only on [`VirtualUser::inject_call`].
    Idle,
    Until(u64),
    Chains(Vec<usize>),
    Step {
        groups: VecDeque<Vec<usize>>,
        chains: Vec<usize>,
    },
    Finished,
}

/// One virtual user. See the crate docs for the driving protocol.
#[derive(Debug, Clone)]
pub struct VirtualUser {
    plan: Arc<Plan>,
    index: u64,
    family: usize,
    /// The program's stream: everything drawn in program order (the user's shape, turns,
    /// steps, fan-outs and tools, think times).
    rng: Rng,
    /// Draws made when the server's timing decides (outcomes, timers: answers, probes, stream
    /// reconnects), apart from the program's stream.
    background_rng: Rng,
    /// Seed of the chains' streams, and how many program and background chains were created.
    chain_seed: u64,
    program_chains: u64,
    background_chains: u64,
    client_info: usize,
    version: usize,
    caps: usize,
    probing: bool,
    init_after_discover: bool,
    exit_session: bool,
    lifetime_end: Option<u64>,
    era: EraState,
    handshaken: bool,
    last_discover_modern: bool,
    server_caps: ServerCaps,
    next_session: u32,
    latest_session: Option<SessionRef>,
    next_op: u64,
    program: VecDeque<Instr>,
    running: Option<Running>,
    chains: Vec<Option<Chain>>,
    /// Buffers of finished steps and chains, for the next ones: a step would otherwise allocate
    /// (and free) four small ones, its tools, groups, chain ids and each chain's items.
    spare: Spare,
    in_flight: Vec<InFlight>,
    out: VecDeque<Action>,
    /// The `now` at which the last [`advance`](Self::advance) ended on a pass without progress.
    /// Such a pass changes nothing, so until an outcome, a new chain, a shutdown or a later
    /// `now`, another one would find nothing either: [`poll`](Self::poll) skips it (the poll
    /// that follows every action otherwise ran a whole pass for nothing).
    settled_at: Option<u64>,
    answers: Vec<(u64, Op)>,
    stream: Option<OpId>,
    stream_attempts: u32,
    stream_opened_at: u64,
    stream_reopen_at: Option<u64>,
    stream_closed_by_user: bool,
    probe_next: Option<u64>,
    active: bool,
    last_call_end: Option<u64>,
    /// When the turn in progress began (its `on_turn`), for [`UserStats::turn_us`].
    turn_started: Option<u64>,
    /// When the program reached its current point, µs: the user's arrival, the arrival of the
    /// last answer of a finished sequence or step, the end of a think. What the program starts
    /// next is due then (a think ends at this time + the drawn wait), not when the runner
    /// happened to poll: its requests are intended from there.
    prog_at: u64,
    now: u64,
    record: bool,
    accept_json_only: bool,
    stats: UserStats,
}

fn family_of(plan: &Plan, i: usize) -> &ClientFamily {
    let c = &plan.scenario().clients;
    &c[i.min(c.len().saturating_sub(1))]
}

fn pick<T>(list: &[crate::format::Weighted<T>], cum: &[f64], rng: &mut Rng) -> usize {
    if list.len() <= 1 {
        0
    } else {
        pick_cumulative(cum, rng.f64()).min(list.len() - 1)
    }
}

impl VirtualUser {
    /// User `index` of a run: family drawn by weight, everything from the RNG of
    /// (`profile.seed`, `index`), starting at `now_us`.
    #[must_use]
    pub fn new(plan: &Arc<Plan>, index: u64, now_us: u64) -> Self {
        let mut rng = Rng::for_user(plan.scenario().profile.seed, index);
        let family = plan.draw_family(&mut rng);
        Self::build(plan, index, family, now_us, rng, None)
    }

    /// User `index` of a given family (index into `scenario.clients`; out of range = family 0).
    #[must_use]
    pub fn with_family(plan: &Arc<Plan>, index: u64, family: usize, now_us: u64) -> Self {
        let mut rng = Rng::for_user(plan.scenario().profile.seed, index);
        let _ = plan.draw_family(&mut rng); // keep the draw sequence identical to `new`
        let family = if family < plan.scenario().clients.len() {
            family
        } else {
            0
        };
        Self::build(plan, index, family, now_us, rng, None)
    }

    /// A prefilled long-lived user (PROFILE 2.1 "Prefill"): runs `on_start`, holds its session
    /// and stream for `remaining_us`, then ends like any other (no conversation).
    #[must_use]
    pub fn prefilled(
        plan: &Arc<Plan>,
        index: u64,
        family: usize,
        now_us: u64,
        remaining_us: u64,
    ) -> Self {
        let mut rng = Rng::for_user(plan.scenario().profile.seed, index);
        let _ = plan.draw_family(&mut rng);
        let family = if family < plan.scenario().clients.len() {
            family
        } else {
            0
        };
        Self::build(plan, index, family, now_us, rng, Some(remaining_us))
    }

    /// A session driver for the call-level open model (`[load] model = "calls"`): runs
    /// `on_start`, then waits; each [`VirtualUser::inject_call`] runs one call (with
    /// `before_call`), concurrently with earlier ones; [`VirtualUser::shutdown`] ends it.
    #[must_use]
    pub fn session_driver(plan: &Arc<Plan>, index: u64, family: usize, now_us: u64) -> Self {
        let mut u = Self::prefilled(plan, index, family, now_us, 0);
        u.lifetime_end = None;
        u.probe_next = None;
        u.program = [Instr::Seq(Seq::Start), Instr::Idle].into_iter().collect();
        u
    }

    /// Starts one tool call now (session drivers; on other users it runs alongside the
    /// conversation), due since `at_us`: its arrival in the call-rate schedule, from which its
    /// first request's latency counts. Ignored once the user is finishing.
    pub fn inject_call(&mut self, at_us: u64) {
        self.now = self.now.max(at_us);
        if self.stream_closed_by_user || matches!(self.running, Some(Running::Finished)) {
            return;
        }
        let plan = Arc::clone(&self.plan);
        let Some(tool) = plan.draw_tool(&mut self.rng) else {
            return;
        };
        if self.chains.iter().flatten().count() >= MAX_CHAINS {
            return;
        }
        let f = family_of(&plan, self.family);
        let reuse =
            !f.sequence.before_call.is_empty() && self.rng.bernoulli(f.sequence.reuse_session_p);
        let mut items: VecDeque<Item> = VecDeque::new();
        if !reuse {
            items.extend(f.sequence.before_call.iter().map(|t| Item::Token(*t)));
        }
        items.push_back(Item::Call(tool));
        // Due at its arrival in the schedule: the time until the user task took it up is the
        // generator's, counted in its latency.
        let mut ch = Chain::new(items, at_us);
        ch.background = true;
        self.add_chain(ch);
    }

    /// Ends the user at the next poll: held streams close, in-flight requests are abandoned
    /// ([`CancelReason::Close`]), then [`Action::Finished`] (the run's drain deadline).
    pub fn shutdown(&mut self, now_us: u64) {
        self.now = self.now.max(now_us);
        self.settled_at = None;
        if matches!(self.running, Some(Running::Finished)) {
            return;
        }
        self.active = false;
        self.prog_at = self.prog_at.max(now_us);
        self.chains.clear();
        for f in &mut self.in_flight {
            f.owner = Owner::Detached;
        }
        self.running = None;
        self.program = [Instr::CloseStream, Instr::Finish].into_iter().collect();
    }

    fn build(
        plan: &Arc<Plan>,
        index: u64,
        family: usize,
        now: u64,
        mut rng: Rng,
        prefill: Option<u64>,
    ) -> Self {
        let fp = plan.families.get(family).cloned();
        let f =
            &plan.scenario().clients[family.min(plan.scenario().clients.len().saturating_sub(1))];
        let (info_cum, ver_cum, caps_cum) =
            fp.map(|p| (p.info, p.version, p.caps)).unwrap_or_default();
        let client_info = pick(&f.client_info, &info_cum, &mut rng);
        let version = pick(&f.protocol_versions, &ver_cum, &mut rng);
        let caps = pick(&f.capabilities, &caps_cum, &mut rng);
        let probing = rng.bernoulli(f.modern_p);
        let init_after_discover = rng.bernoulli(f.initialize_after_discover_p);
        let calls_tools = rng.bernoulli(f.calls_tools_p) && !plan.tools().is_empty();
        let turns = f
            .session
            .user_turns
            .sample_u64(&mut rng)
            .clamp(1, crate::limits::MAX_COUNT) as u32;
        let steps = if calls_tools {
            f.session
                .steps
                .sample_u64(&mut rng)
                .min(crate::limits::MAX_COUNT) as u32
        } else {
            0
        };
        let mut per_turn = vec![0u32; turns as usize];
        if turns == 1 {
            // Every step is in the one turn: the same stream as drawing each step's turn
            // (`below(1)` takes one draw; the first step draws none under first_then_uniform),
            // without a division per step (a million per user in the generator benchmark).
            let fixed = steps > 0 && f.session.step_to_turn == StepToTurn::FirstThenUniform;
            rng.discard(u64::from(steps) - u64::from(fixed));
            if let Some(c) = per_turn.first_mut() {
                *c = steps;
            }
        } else {
            for s in 0..steps {
                let t = if s == 0 && f.session.step_to_turn == StepToTurn::FirstThenUniform {
                    0
                } else {
                    rng.below(u64::from(turns)) as usize
                };
                if let Some(c) = per_turn.get_mut(t) {
                    *c += 1;
                }
            }
        }
        let exit_session =
            !f.sequence.on_exit.is_empty() && rng.bernoulli(f.sequence.exit_session_p);
        let connect_verify = rng.bernoulli(f.probes.connect_verify_p);
        let lifetime = match prefill {
            Some(rem) => Some(rem),
            None => f.lifetime.as_ref().map(|d| d.sample_u64(&mut rng)),
        };
        let probe_next = match (&f.probes.unauth_initialize_every, prefill) {
            (Some(d), None) => Some(now.saturating_add(d.sample_u64(&mut rng))),
            _ => None,
        };

        let accept_json_only = f.name == CLAUDE_CODE_FAMILY
            && rng.bernoulli(plan.scenario().scenarios.accept_json_only_p);
        let mut program = VecDeque::new();
        if prefill.is_none() {
            if f.name == CLAUDE_AI_FAMILY && plan.scenario().scenarios.oauth_connect {
                program.push_back(Instr::OAuthConnect);
            }
            if connect_verify {
                program.push_back(Instr::ConnectVerify);
            }
            program.push_back(Instr::Seq(Seq::Start));
            for (t, n) in per_turn.iter().enumerate() {
                if t > 0 {
                    program.push_back(Instr::Think(ThinkKind::BetweenTurns));
                }
                program.push_back(Instr::Seq(Seq::Turn));
                if *n > 0 || f.think.no_tool_turn == NoToolTurn::FirstCall {
                    program.push_back(Instr::Think(ThinkKind::FirstCall));
                }
                if *n > 0 {
                    program.push_back(Instr::Steps(*n));
                }
            }
            program.push_back(Instr::EndConversation);
            program.push_back(Instr::Seq(Seq::End));
        } else {
            program.push_back(Instr::Seq(Seq::Start));
            program.push_back(Instr::EndConversation);
        }
        program.push_back(Instr::Hold);
        program.push_back(Instr::CloseStream);
        if exit_session {
            program.push_back(Instr::Seq(Seq::Exit));
        }
        program.push_back(Instr::Finish);

        Self {
            plan: Arc::clone(plan),
            index,
            family,
            rng,
            background_rng: Rng::derive(
                plan.scenario().profile.seed,
                DOMAIN_BACKGROUND_CHAIN,
                index,
            ),
            chain_seed: Rng::derive(plan.scenario().profile.seed, DOMAIN_CHAIN, index).next_u64(),
            program_chains: 0,
            background_chains: 0,
            client_info,
            version,
            caps,
            probing,
            init_after_discover,
            exit_session,
            lifetime_end: lifetime.map(|l| now.saturating_add(l)),
            era: EraState::Unknown,
            handshaken: false,
            last_discover_modern: false,
            server_caps: ServerCaps::all(),
            next_session: 0,
            latest_session: None,
            next_op: 0,
            program,
            running: None,
            chains: Vec::new(),
            spare: Spare::default(),
            in_flight: Vec::new(),
            out: VecDeque::new(),
            settled_at: None,
            answers: Vec::new(),
            stream: None,
            stream_attempts: 0,
            stream_opened_at: 0,
            stream_reopen_at: None,
            stream_closed_by_user: false,
            probe_next,
            active: true,
            last_call_end: None,
            turn_started: None,
            prog_at: now,
            now,
            record: false,
            accept_json_only,
            stats: UserStats {
                start_us: now,
                turns,
                steps,
                ..UserStats::default()
            },
        }
    }

    /// Records think samples in [`UserStats::thinks`] (off by default: costs memory per user).
    pub fn record_details(&mut self, on: bool) {
        self.record = on;
    }

    /// The user's index in the run.
    #[must_use]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Index of the user's family in `scenario.clients`.
    #[must_use]
    pub fn family_index(&self) -> usize {
        self.family
    }

    /// The user's family.
    #[must_use]
    pub fn family(&self) -> &ClientFamily {
        family_of(&self.plan, self.family)
    }

    /// A built-in client-side duration (`*_US` constants) under `--time-scale`.
    fn scaled(&self, us: u64) -> u64 {
        crate::scale::scale_us(us, self.plan.scenario().time_scale())
    }

    /// The drawn clientInfo (used in `initialize` and in modern `_meta`).
    #[must_use]
    pub fn client_info(&self) -> &ClientInfo {
        let f = self.family();
        &f.client_info[self.client_info.min(f.client_info.len().saturating_sub(1))].value
    }

    /// The offered legacy protocol version; modern requests use [`MODERN_VERSION`].
    #[must_use]
    pub fn protocol_version(&self) -> &str {
        let f = self.family();
        &f.protocol_versions[self
            .version
            .min(f.protocol_versions.len().saturating_sub(1))]
        .value
    }

    /// The drawn client capabilities.
    #[must_use]
    pub fn capabilities(&self) -> &Json {
        let f = self.family();
        &f.capabilities[self.caps.min(f.capabilities.len().saturating_sub(1))].value
    }

    /// The `Accept` header of the user's POSTs (`[scenarios] accept_json_only_p` makes some
    /// Claude Code users send `application/json` only).
    #[must_use]
    pub fn accept(&self) -> &str {
        if self.accept_json_only {
            "application/json"
        } else {
            &self.family().accept
        }
    }

    /// Whether the user speaks the stateless era now.
    #[must_use]
    pub fn is_modern(&self) -> bool {
        self.era == EraState::Modern
    }

    /// Whether the user runs `on_exit` at the end.
    #[must_use]
    pub fn exits_with_session(&self) -> bool {
        self.exit_session
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> &UserStats {
        &self.stats
    }

    /// Hands the fan-outs recorded so far ([`UserStats::fan_outs`]) to `f` and forgets them,
    /// keeping the buffer. A runner calls it now and then so that a long-lived user's memory
    /// does not grow with its steps (one byte each, up to [`MAX_COUNT`](crate::limits::MAX_COUNT)
    /// a user otherwise); the rest are in the stats when the user finishes.
    pub fn drain_fan_outs(&mut self, f: impl FnOnce(&[u8])) {
        f(&self.stats.fan_outs);
        self.stats.fan_outs.clear();
    }

    /// Whether [`Action::Finished`] was returned.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.running, Some(Running::Finished)) && self.out.is_empty()
    }

    /// The next action due at `now_us`, or `None` when nothing is due (then sleep until
    /// [`VirtualUser::next_wakeup`] or the next outcome). Call until it returns `None`.
    /// `now_us` must never go backwards.
    pub fn poll(&mut self, now_us: u64) -> Option<Action> {
        self.now = self.now.max(now_us);
        if self.out.is_empty() && self.settled_at != Some(self.now) {
            self.advance();
        }
        self.out.pop_front()
    }

    /// Whether this is a session driver ([`VirtualUser::session_driver`]) that has opened its
    /// session and waits for [`VirtualUser::inject_call`].
    #[must_use]
    pub fn is_idle(&self) -> bool {
        matches!(self.running, Some(Running::Idle))
    }

    /// When the user next has something to do without any outcome arriving.
    #[must_use]
    pub fn next_wakeup(&self) -> Option<u64> {
        if !self.out.is_empty() {
            return Some(self.now);
        }
        if matches!(self.running, Some(Running::Finished)) {
            return None;
        }
        let mut t: Option<u64> = None;
        let mut consider = |x: u64| t = Some(t.map_or(x, |y| y.min(x)));
        if let Some(Running::Until(u)) = self.running {
            consider(u);
        }
        for c in self.chains.iter().flatten() {
            if c.in_flight.is_none() && !c.items.is_empty() {
                consider(c.wait_until.max(self.now));
            }
            if let Some(d) = c.deadline {
                consider(d);
            }
        }
        for f in &self.in_flight {
            if let Some((d, _)) = f.due() {
                consider(d);
            }
            if let Some(c) = f.cancel_at {
                consider(c);
            }
        }
        if self.active
            && let Some(p) = self.probe_next
        {
            consider(p);
        }
        for (at, _) in &self.answers {
            consider(*at);
        }
        if let Some(r) = self.stream_reopen_at {
            consider(r);
        }
        t
    }

    /// Feeds back what happened to `op`, arrived at `now_us`: the moment the answer (event)
    /// arrived, which may be earlier than the last [`poll`](Self::poll)'s time when the runner
    /// takes it up late. What follows the answer is intended from that arrival (plus any drawn
    /// wait), so the runner's lateness is counted. Outcomes of unknown or abandoned operations
    /// are ignored.
    pub fn on_outcome(&mut self, op: OpId, outcome: Outcome, now_us: u64) {
        self.settled_at = None;
        // Outcomes arrive when the server answers: what they draw (answers to server requests,
        // stream reconnects) comes from the background stream, never the program's.
        self.in_background(|u| u.on_outcome_inner(op, outcome, now_us));
    }

    /// Runs `f` with `self.rng` lent the background stream: draws made at moments the server's
    /// timing decides (outcomes, timers) must not shift the program's stream.
    fn in_background<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        // Swapped, not replaced by a placeholder: `f` never reads `background_rng` (nothing
        // under it lends the stream again), and a swap builds no generator.
        std::mem::swap(&mut self.rng, &mut self.background_rng);
        let r = f(self);
        std::mem::swap(&mut self.rng, &mut self.background_rng);
        r
    }

    fn on_outcome_inner(&mut self, op: OpId, outcome: Outcome, now_us: u64) {
        self.now = self.now.max(now_us);
        // The arrival (never later than the user's clock).
        let at = now_us.min(self.now);
        let Some(pos) = self.in_flight.iter().position(|f| f.id == op) else {
            return;
        };
        match outcome {
            Outcome::Progress => {
                if let Some(f) = self.in_flight.get_mut(pos)
                    && let Some((_, _, last)) = f.idle.as_mut()
                {
                    *last = (*last).max(at);
                }
            }
            Outcome::StreamOpen => {
                if let Some(f) = self.in_flight.get_mut(pos) {
                    let owner = std::mem::replace(&mut f.owner, Owner::Stream);
                    self.release_owner(owner, at);
                    self.stream = Some(op);
                    self.stream_opened_at = at;
                }
            }
            Outcome::ServerRequest(id, req) => self.on_server_request(pos, id, req, at),
            Outcome::Done(d) => {
                let f = self.in_flight.swap_remove(pos);
                self.complete(f, Ok(d), at);
            }
            Outcome::Failed(e) => {
                let f = self.in_flight.swap_remove(pos);
                self.complete(f, Err(e), at);
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // Completion.

    /// `f` ended at `at` (its answer's arrival, or the deadline that abandoned it).
    fn complete(&mut self, f: InFlight, result: Result<Done, Failure>, at: u64) {
        match f.tag {
            Tag::Discover => {
                self.last_discover_modern = matches!(result, Ok(d) if d.modern);
                if let Ok(Done { caps: Some(c), .. }) = result {
                    self.server_caps = c;
                }
            }
            Tag::Initialize { bound: true } => match result {
                Ok(d) => {
                    self.latest_session = f.session;
                    if let Some(c) = d.caps {
                        self.server_caps = c;
                    }
                }
                Err(_) => self.abort_owner(f.owner),
            },
            Tag::Call => self.last_call_end = Some(at),
            Tag::Stream => {
                let was_open = f.owner == Owner::Stream;
                if was_open {
                    self.stream = None;
                }
                self.on_stream_end(f, result, was_open, at);
                return;
            }
            Tag::Initialize { bound: false } | Tag::Other => {}
        }
        if result == Err(Failure::Http(404)) {
            self.on_session_gone(&f, at);
        }
        self.release_owner(f.owner, at);
    }

    /// A legacy request answered 404: the server dropped the session (idle expiry, restart).
    /// Families whose `[clients.stream] on_404` is `reinitialize` open a new session in the
    /// background for their later requests (the spec's rule); `stale_session` keeps the old id.
    fn on_session_gone(&mut self, f: &InFlight, at: u64) {
        let Some(s) = f.session else { return };
        if f.era != Era::Legacy
            || self.latest_session != Some(s)
            || self.family().stream.on_404 != OnStreamError::Reinitialize
            || self.plan.scenario().scenarios.stale_session
            || !self.active
        {
            return;
        }
        self.latest_session = None;
        let mut ch = Chain::new([Item::Token(Token::Handshake)].into_iter().collect(), at);
        ch.background = true;
        ch.force_session = true;
        self.add_chain(ch);
    }

    /// The owner's operation ended at `at`: a chain's next item is due from then.
    fn release_owner(&mut self, owner: Owner, at: u64) {
        if let Owner::Chain(c) = owner
            && let Some(Some(ch)) = self.chains.get_mut(c)
        {
            ch.in_flight = None;
            ch.wait_until = at;
        }
    }

    fn abort_owner(&mut self, owner: Owner) {
        if let Owner::Chain(c) = owner
            && let Some(Some(ch)) = self.chains.get_mut(c)
        {
            ch.items.clear();
        }
    }

    fn on_stream_end(
        &mut self,
        f: InFlight,
        result: Result<Done, Failure>,
        was_open: bool,
        at: u64,
    ) {
        let policy = self.family().stream.clone();
        self.release_owner(f.owner, at);
        if self.stream_closed_by_user || !self.active && self.lifetime_end.is_none() {
            return;
        }
        let quirks = &self.plan.scenario().scenarios;
        let (stale, dead_get, listen_storm) = (
            quirks.stale_session,
            quirks.dead_session_get,
            quirks.listen_storm,
        );
        let is_cc = self.family().name == CLAUDE_CODE_FAMILY;
        if result == Err(Failure::Http(404)) && dead_get && self.era != EraState::Modern {
            // [scenarios] dead_session_get: GET again with the same dead id, until a 405.
            self.stream_reopen_at = Some(at.saturating_add(self.scaled(DEAD_SESSION_GET_US)));
            return;
        }
        if listen_storm
            && is_cc
            && self.era == EraState::Modern
            && result != Err(Failure::Http(405))
        {
            // [scenarios] listen_storm: the modern client redoes discover + lists + listen.
            let items = [
                Item::Wait(self.scaled(LISTEN_STORM_CYCLE_US)),
                Item::Discover,
                Item::AfterDiscover,
                Item::List("tools/list"),
                Item::List("prompts/list"),
                Item::List("resources/list"),
                Item::Stream,
            ];
            let mut ch = Chain::new(items.into_iter().collect(), at);
            ch.background = true;
            self.add_chain(ch);
            return;
        }
        let action = match result {
            Err(Failure::Http(405)) => policy.on_405,
            // [scenarios] stale_session: never re-initialise; the stream is just gone.
            Err(Failure::Http(404)) if stale => OnStreamError::Stop,
            Err(Failure::Http(404)) => policy.on_404,
            _ => OnStreamError::Retry,
        };
        match action {
            OnStreamError::Stop => {}
            OnStreamError::Reinitialize => {
                // Each re-initialisation spends a reconnect attempt: a server that answers
                // every GET with 404 must not get an endless handshake loop.
                if self.stream_attempts >= policy.reconnect.attempts {
                    return;
                }
                self.stream_attempts += 1;
                // A new handshake without the old id, then the stream again.
                let items: VecDeque<Item> = [Item::Token(Token::Handshake), Item::Stream]
                    .into_iter()
                    .collect();
                if let Owner::Chain(c) = f.owner
                    && let Some(Some(ch)) = self.chains.get_mut(c)
                {
                    ch.session = None;
                    for it in items.into_iter().rev() {
                        ch.items.push_front(it);
                    }
                    return;
                }
                let mut ch = Chain::new(items, at);
                ch.background = true;
                ch.force_session = self.era != EraState::Modern;
                self.add_chain(ch);
            }
            OnStreamError::Retry if self.plan.scenario().scenarios.get_reconnect_storm => {
                // [scenarios] get_reconnect_storm: reopen at once, forever (~5 GET/s per idle
                // user, PROFILE 1.2); bounded by the user's lifetime.
                self.stream_reopen_at = Some(at.saturating_add(self.scaled(STORM_REOPEN_US)));
            }
            OnStreamError::Retry => {
                if was_open
                    && at.saturating_sub(self.stream_opened_at) >= self.scaled(STREAM_HEALTHY_US)
                {
                    // A stream that lived a while ended normally (proxy idle timeout, server
                    // restart): a fresh series of attempts, not the tail of the last one.
                    self.stream_attempts = 0;
                }
                if self.stream_attempts < policy.reconnect.attempts {
                    let delay = policy.reconnect.initial_us as f64
                        * policy
                            .reconnect
                            .factor
                            .powi(self.stream_attempts.min(64) as i32);
                    self.stream_attempts += 1;
                    self.stream_reopen_at = Some(at.saturating_add(delay.min(1e15) as u64));
                }
            }
        }
    }

    /// A server request arrived at `at`: the answer is due its drawn delay after that.
    fn on_server_request(&mut self, pos: usize, id: ServerRequestId, req: ServerRequest, at: u64) {
        let Some(f) = self.in_flight.get(pos) else {
            return;
        };
        let (era, session) = (f.era, f.session);
        if self.answers.len() >= MAX_PENDING_ANSWERS {
            return;
        }
        let caps = self.capabilities().clone();
        let answers = self.plan.scenario().answers.clone();
        let undeclared = match answers.undeclared {
            Undeclared::MethodNotFound => Some(Answer::MethodNotFound),
            Undeclared::Ignore => None,
        };
        let (delay, answer) = match req {
            ServerRequest::Ping => (0, Some(Answer::Empty)),
            ServerRequest::RootsList if caps.get("roots").is_some() => {
                let roots: Vec<Json> = answers
                    .roots
                    .iter()
                    .map(|r| json!({"uri": self.resolve(&r.uri), "name": r.name}))
                    .collect();
                (0, Some(Answer::Roots(json!({ "roots": roots }))))
            }
            ServerRequest::Elicitation { requested_schema }
                if caps.get("elicitation").is_some() =>
            {
                let delay = answers.elicitation_delay.sample_u64(&mut self.rng);
                let u = self.rng.f64();
                let a = if u < answers.elicitation_accept_p {
                    Answer::Accept(generate_value(&requested_schema, 1.0, &mut self.rng))
                } else if u < answers.elicitation_accept_p + answers.elicitation_decline_p {
                    Answer::Decline
                } else {
                    Answer::Cancel
                };
                (delay, Some(a))
            }
            _ => (0, undeclared),
        };
        let Some(answer) = answer else { return };
        let op = self.make_op(
            OpKind::Answer {
                request: id,
                answer,
            },
            session,
            era,
            true,
        );
        self.answers.push((at.saturating_add(delay), op));
    }

    // --------------------------------------------------------------------------------------
    // The engine.

    fn advance(&mut self) {
        // Each pass either makes progress or stops; every progress consumes an item, an
        // instruction or a timer, all bounded, so this terminates.
        loop {
            let mut progressed = self.in_background(Self::fire_timers);
            for c in 0..self.chains.len() {
                progressed |= self.step_chain(c);
            }
            progressed |= self.step_program();
            if !progressed {
                self.settled_at = Some(self.now);
                break;
            }
            if !self.out.is_empty() && matches!(self.running, Some(Running::Finished)) {
                break;
            }
        }
        // Background chains leave when done.
        for slot in &mut self.chains {
            if slot.as_ref().is_some_and(|c| c.background && c.is_done()) {
                *slot = None;
            }
        }
    }

    fn fire_timers(&mut self) -> bool {
        let now = self.now;
        let mut fired = false;
        // Deadlines and user cancels.
        let mut i = 0;
        while i < self.in_flight.len() {
            let f = &self.in_flight[i];
            // What a timer starts is intended when the timer was due.
            if let Some((due, kind)) = f.due().filter(|(d, _)| *d <= now) {
                let f = self.in_flight.swap_remove(i);
                self.out.push_back(Action::Cancel {
                    op: f.id,
                    reason: CancelReason::Timeout(kind),
                });
                let notify = self.family().timeouts.on_timeout == OnTimeout::Cancel;
                if notify && f.era == Era::Legacy && f.tag == Tag::Call {
                    let mut op = self.make_op(
                        OpKind::Cancelled { request: f.id },
                        f.session,
                        Era::Legacy,
                        true,
                    );
                    op.intended_us = due;
                    self.out.push_back(Action::Start(op));
                }
                self.complete(f, Err(Failure::Timeout), due);
                fired = true;
                continue;
            }
            if let Some(due) = f.cancel_at.filter(|c| *c <= now) {
                let f = self.in_flight.swap_remove(i);
                self.out.push_back(Action::Cancel {
                    op: f.id,
                    reason: CancelReason::User,
                });
                if f.era == Era::Legacy {
                    let mut op = self.make_op(
                        OpKind::Cancelled { request: f.id },
                        f.session,
                        Era::Legacy,
                        true,
                    );
                    op.intended_us = due;
                    self.out.push_back(Action::Start(op));
                }
                self.complete(f, Err(Failure::Timeout), due);
                fired = true;
                continue;
            }
            i += 1;
        }
        // Chain deadlines (connect_ms).
        for c in 0..self.chains.len() {
            let Some(Some(ch)) = self.chains.get_mut(c) else {
                continue;
            };
            if let Some(d) = ch.deadline.filter(|d| *d <= now) {
                ch.deadline = None;
                ch.items.clear();
                ch.wait_until = d;
                if let Some(op) = ch.in_flight.take() {
                    self.in_flight.retain(|f| f.id != op);
                    self.out.push_back(Action::Cancel {
                        op,
                        reason: CancelReason::Timeout(Deadline::Connect),
                    });
                }
                fired = true;
            }
        }
        // Unauthenticated probes while active.
        if self.active
            && let Some(due) = self.probe_next.filter(|p| *p <= now)
        {
            let f = self.family().clone();
            let every = f.probes.unauth_initialize_every.clone();
            let kind = OpKind::Initialize {
                client_info: f.probes.unauth_client_info.clone(),
                protocol_version: self.protocol_version().to_owned(),
                capabilities: json!({}),
            };
            let mut op = self.make_op(kind, None, Era::Legacy, false);
            op.intended_us = due;
            self.out.push_back(Action::Start(op));
            // The next one its drawn interval after this one's due time: a late wake-up does
            // not push the schedule back (it is the generator's lag, counted).
            self.probe_next = every.map(|d| due.saturating_add(d.sample_u64(&mut self.rng).max(1)));
            fired = true;
        }
        // Answers due.
        let mut j = 0;
        while j < self.answers.len() {
            if self.answers[j].0 <= now {
                let (due, mut op) = self.answers.swap_remove(j);
                op.intended_us = due;
                self.out.push_back(Action::Start(op));
                fired = true;
            } else {
                j += 1;
            }
        }
        // Stream reconnect.
        if let Some(due) = self.stream_reopen_at.filter(|r| *r <= now) {
            self.stream_reopen_at = None;
            if self.stream.is_none() && !self.stream_closed_by_user {
                self.start_stream(Owner::Detached, None, due);
            }
            fired = true;
        }
        fired
    }

    fn add_chain(&mut self, mut ch: Chain) -> usize {
        // A new chain (a step's, or an injected call's) has work: the user is not settled.
        self.settled_at = None;
        // Program chains are created in program order, whatever the timing; background ones
        // count apart so a reaction to the server never renumbers the program's chains.
        let (domain, n) = if ch.background {
            self.background_chains += 1;
            (DOMAIN_BACKGROUND_CHAIN, self.background_chains)
        } else {
            self.program_chains += 1;
            (DOMAIN_CHAIN, self.program_chains)
        };
        ch.rng = Rng::derive(self.chain_seed, domain, n);
        if let Some(i) = self.chains.iter().position(Option::is_none) {
            self.chains[i] = Some(ch);
            i
        } else {
            self.chains.push(Some(ch));
            self.chains.len() - 1
        }
    }

    fn chains_done(&self, ids: &[usize]) -> bool {
        ids.iter().all(|i| {
            self.chains
                .get(*i)
                .is_none_or(|c| c.as_ref().is_none_or(Chain::is_done))
        })
    }

    /// The program waited for chains `ids`, all done: it is now where the last of them ended
    /// (its last answer's arrival), not where this pass noticed.
    fn reached(&mut self, ids: &[usize]) {
        let now = self.now;
        for i in ids {
            if let Some(Some(ch)) = self.chains.get(*i) {
                self.prog_at = self.prog_at.max(ch.wait_until.min(now));
            }
        }
    }

    fn free(&mut self, ids: &[usize]) {
        for i in ids {
            if let Some(ch) = self.chains.get_mut(*i).and_then(Option::take) {
                self.spare.give_items(ch.items);
            }
        }
    }

    fn step_program(&mut self) -> bool {
        let now = self.now;
        // Nothing to do (most passes): decided in place, without taking the state out and
        // putting it back.
        match &self.running {
            Some(Running::Idle | Running::Finished) => return false,
            Some(Running::Until(u)) if now < *u => return false,
            Some(Running::Chains(ids)) if !self.chains_done(ids) => return false,
            Some(Running::Step { chains, .. }) if !self.chains_done(chains) => return false,
            _ => {}
        }
        match self.running.take() {
            Some(Running::Idle) => {
                self.running = Some(Running::Idle);
                false
            }
            Some(Running::Finished) => {
                self.running = Some(Running::Finished);
                false
            }
            Some(Running::Until(u)) => {
                if now >= u {
                    // The wait ends when it was due, however late this pass runs.
                    self.prog_at = self.prog_at.max(u);
                    true
                } else {
                    self.running = Some(Running::Until(u));
                    false
                }
            }
            Some(Running::Chains(ids)) => {
                if self.chains_done(&ids) {
                    self.reached(&ids);
                    self.free(&ids);
                    true
                } else {
                    self.running = Some(Running::Chains(ids));
                    false
                }
            }
            Some(Running::Step { mut groups, chains }) => {
                if !self.chains_done(&chains) {
                    self.running = Some(Running::Step { groups, chains });
                    return false;
                }
                self.reached(&chains);
                self.free(&chains);
                self.spare.give_ids(chains);
                if let Some(group) = groups.pop_front() {
                    let ids = self.start_group(&group);
                    self.spare.give_ids(group);
                    self.running = Some(Running::Step {
                        groups,
                        chains: ids,
                    });
                } else {
                    self.spare.give_groups(groups);
                }
                true
            }
            None => {
                let Some(instr) = self.program.pop_front() else {
                    return false;
                };
                self.start_instr(instr);
                true
            }
        }
    }

    /// Records the turn in progress, if any, as ended at `now`.
    fn end_turn(&mut self, now: u64) {
        if let Some(start) = self.turn_started.take()
            && self.stats.turn_us.len() < MAX_RECORDED_TURNS
        {
            self.stats.turn_us.push(now.saturating_sub(start));
        }
    }

    fn start_instr(&mut self, instr: Instr) {
        // What the program starts now is due since it got here.
        let at = self.prog_at;
        match instr {
            Instr::OAuthConnect => {
                let items = [
                    Item::Initialize {
                        bind: false,
                        variant: InitVariant::Unauth,
                    },
                    Item::OAuth(OAuthStep::ProtectedResourceMetadata),
                    Item::OAuth(OAuthStep::AuthorizationServerMetadata),
                    Item::OAuth(OAuthStep::Register),
                    Item::OAuth(OAuthStep::Token),
                ];
                let id = self.add_chain(Chain::new(items.into_iter().collect(), at));
                self.running = Some(Running::Chains(vec![id]));
            }
            Instr::ConnectVerify => {
                let items = [
                    Item::Initialize {
                        bind: false,
                        variant: InitVariant::ConnectPlain,
                    },
                    Item::Wait(self.scaled(CONNECT_PROBE_GAP_US)),
                    Item::Initialize {
                        bind: false,
                        variant: InitVariant::ConnectUi,
                    },
                    Item::Initialize {
                        bind: true,
                        variant: InitVariant::User,
                    },
                    Item::List("tools/list"),
                    // Its notifications/initialized came late, after tools/list (PROFILE 1.1).
                    Item::Initialized,
                    Item::List("prompts/list"),
                    Item::List("resources/list"),
                    Item::Delete { always: true },
                ];
                let mut ch = Chain::new(items.into_iter().collect(), at);
                ch.force_session = true;
                let id = self.add_chain(ch);
                self.running = Some(Running::Chains(vec![id]));
            }
            Instr::Seq(kind) => {
                if kind == Seq::Turn {
                    self.turn_started = Some(at);
                }
                let f = self.family();
                let tokens = match kind {
                    Seq::Start => &f.sequence.on_start,
                    Seq::Turn => &f.sequence.on_turn,
                    Seq::End => &f.sequence.on_end,
                    Seq::Exit => &f.sequence.on_exit,
                };
                if tokens.is_empty() {
                    return;
                }
                let mut ch = Chain::new(tokens.iter().map(|t| Item::Token(*t)).collect(), at);
                if kind == Seq::Start {
                    ch.deadline = f.timeouts.connect_us.map(|c| at.saturating_add(c));
                }
                if kind == Seq::Exit {
                    ch.force_session = true;
                }
                let id = self.add_chain(ch);
                self.running = Some(Running::Chains(vec![id]));
            }
            Instr::Think(kind) => {
                if kind == ThinkKind::BetweenTurns {
                    self.end_turn(at);
                }
                // Borrowed from `self.plan` while drawing from `self.rng` (fields apart).
                let t = &family_of(&self.plan, self.family).think;
                let d = match kind {
                    ThinkKind::FirstCall => &t.first_call,
                    ThinkKind::BetweenSteps => &t.between_steps,
                    ThinkKind::BetweenTurns => &t.between_turns,
                };
                let us = d.sample_u64(&mut self.rng);
                if self.record && self.stats.thinks.len() < MAX_RECORDED_THINKS {
                    self.stats.thinks.push((kind, us));
                }
                // From the answer it follows (the program's time), not from this pass.
                self.running = Some(Running::Until(at.saturating_add(us)));
            }
            Instr::Steps(n) => {
                // This step now; the rest after a between-step think.
                if n > 1 {
                    self.program.push_front(Instr::Steps(n - 1));
                    self.program
                        .push_front(Instr::Think(ThinkKind::BetweenSteps));
                }
                let groups = self.draw_step();
                self.running = Some(Running::Step {
                    groups,
                    chains: Vec::new(),
                });
            }
            Instr::EndConversation => {
                self.end_turn(at);
                self.stats.conversation_end_us = Some(at);
                self.active = false;
            }
            Instr::Hold => {
                if let Some(end) = self.lifetime_end {
                    let grace_us = self.scaled(LAST_CALL_GRACE_US);
                    let grace = self.last_call_end.map_or(0, |t| t.saturating_add(grace_us));
                    let until = end.max(grace);
                    if until > at {
                        self.running = Some(Running::Until(until));
                    }
                }
            }
            Instr::CloseStream => {
                self.stream_closed_by_user = true;
                self.stream_reopen_at = None;
                if let Some(op) = self.stream.take() {
                    self.in_flight.retain(|f| f.id != op);
                    self.out.push_back(Action::Cancel {
                        op,
                        reason: CancelReason::Close,
                    });
                }
            }
            Instr::Idle => self.running = Some(Running::Idle),
            Instr::Finish => {
                for f in std::mem::take(&mut self.in_flight) {
                    self.out.push_back(Action::Cancel {
                        op: f.id,
                        reason: CancelReason::Close,
                    });
                }
                self.answers.clear();
                self.chains.clear();
                self.out.push_back(Action::Finished);
                self.running = Some(Running::Finished);
            }
        }
    }

    /// Draws B and the tools of one step, grouped by the family's `parallel` rule.
    fn draw_step(&mut self) -> VecDeque<Vec<usize>> {
        let plan = Arc::clone(&self.plan);
        let f = family_of(&plan, self.family);
        let parallel = f.parallel;
        let b =
            (f.session.fan_out.sample_u64(&mut self.rng).max(1)).min(u64::from(u8::MAX)) as usize;
        self.stats.fan_outs.push(b as u8);
        let mut tools = self.spare.ids();
        tools.extend((0..b).filter_map(|_| plan.draw_tool(&mut self.rng)));
        let mut groups = self.spare.groups();
        match parallel {
            Parallel::All => groups.push_back(tools),
            Parallel::None => {
                for &t in &tools {
                    let mut g = self.spare.ids();
                    g.push(t);
                    groups.push_back(g);
                }
                self.spare.give_ids(tools);
            }
            Parallel::ReadOnly => {
                for &t in &tools {
                    let ro = plan.tools().get(t).is_some_and(|x| x.read_only);
                    let extend = ro
                        && groups.back().is_some_and(|g| {
                            g.iter()
                                .all(|x| plan.tools().get(*x).is_some_and(|y| y.read_only))
                        });
                    if extend {
                        if let Some(g) = groups.back_mut() {
                            g.push(t);
                        }
                    } else {
                        let mut g = self.spare.ids();
                        g.push(t);
                        groups.push_back(g);
                    }
                }
                self.spare.give_ids(tools);
            }
        }
        groups
    }

    fn start_group(&mut self, group: &[usize]) -> Vec<usize> {
        let plan = Arc::clone(&self.plan);
        let f = family_of(&plan, self.family);
        let mut ids = self.spare.ids();
        for tool in group {
            if self.chains.iter().flatten().count() >= MAX_CHAINS {
                break;
            }
            // reuse_session_p is drawn per call (PROFILE 2.1 step 5).
            let reuse = !f.sequence.before_call.is_empty()
                && self.rng.bernoulli(f.sequence.reuse_session_p);
            let mut items = self.spare.items();
            if !reuse {
                items.extend(f.sequence.before_call.iter().map(|t| Item::Token(*t)));
            }
            items.push_back(Item::Call(*tool));
            ids.push(self.add_chain(Chain::new(items, self.prog_at)));
        }
        ids
    }

    /// Runs the next item of chain `c` if it is idle, drawing from the chain's own stream;
    /// true if something happened.
    fn step_chain(&mut self, c: usize) -> bool {
        let Some(Some(ch)) = self.chains.get_mut(c) else {
            return false;
        };
        // Every draw of the step (make_op, start_call, expand, ...) reads `self.rng`: lend it
        // the chain's stream for the step. A step never creates or frees a chain, so slot `c`
        // is still this chain afterwards.
        // Swapped in and out (the chain holds the program's stream meanwhile, untouched).
        std::mem::swap(&mut ch.rng, &mut self.rng);
        let progressed = self.step_chain_inner(c);
        if let Some(Some(ch)) = self.chains.get_mut(c) {
            std::mem::swap(&mut ch.rng, &mut self.rng);
        }
        progressed
    }

    fn step_chain_inner(&mut self, c: usize) -> bool {
        let now = self.now;
        let (item, session, force, at) = {
            let Some(Some(ch)) = self.chains.get_mut(c) else {
                return false;
            };
            if ch.in_flight.is_some() || ch.wait_until > now {
                return false;
            }
            let Some(item) = ch.items.pop_front() else {
                return false;
            };
            // The item is due since `at`: its request is intended then, and the client's
            // deadlines run from then too, so a late runner moves nothing the user does.
            (item, ch.session, ch.force_session, ch.wait_until)
        };
        let owner = Owner::Chain(c);
        match item {
            Item::Token(t) => {
                let expanded = self.expand(t, force);
                if let Some(Some(ch)) = self.chains.get_mut(c) {
                    for it in expanded.into_iter().rev() {
                        ch.items.push_front(it);
                    }
                }
            }
            Item::Discover => {
                self.handshaken = true;
                let op = self.make_op(OpKind::Discover, None, Era::Modern, true);
                self.launch(op, owner, Tag::Discover, None);
            }
            Item::AfterDiscover => {
                let init = if self.last_discover_modern && !self.init_after_discover {
                    self.era = EraState::Modern;
                    force
                } else {
                    self.era = EraState::Legacy;
                    true
                };
                if init && let Some(Some(ch)) = self.chains.get_mut(c) {
                    ch.items.push_front(Item::Initialized);
                    ch.items.push_front(Item::Initialize {
                        bind: true,
                        variant: InitVariant::User,
                    });
                }
            }
            Item::Initialize { bind, variant } => {
                self.handshaken = true;
                let (client_info, capabilities) = match variant {
                    InitVariant::User | InitVariant::Unauth => {
                        (self.client_info().clone(), self.capabilities().clone())
                    }
                    InitVariant::ConnectPlain => (ClientInfo::new("Anthropic", "1.0.0"), json!({})),
                    InitVariant::ConnectUi => (
                        ClientInfo::new("Anthropic/ClaudeAI", "1.0.0"),
                        json!({"extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}}),
                    ),
                };
                let s = if bind {
                    let s = SessionRef(self.next_session);
                    self.next_session = self.next_session.wrapping_add(1);
                    if let Some(Some(ch)) = self.chains.get_mut(c) {
                        ch.session = Some(s);
                    }
                    Some(s)
                } else {
                    None
                };
                let authenticated = variant != InitVariant::Unauth;
                if authenticated {
                    self.stats.sessions += 1;
                }
                let kind = OpKind::Initialize {
                    client_info,
                    protocol_version: self.protocol_version().to_owned(),
                    capabilities,
                };
                let mut op = self.make_op(kind, s, Era::Legacy, authenticated);
                op.protocol_header = false;
                let deadline = self
                    .family()
                    .timeouts
                    .handshake_us
                    .map(|h| (at.saturating_add(h), Deadline::Handshake));
                self.launch(op, owner, Tag::Initialize { bound: bind }, deadline);
            }
            Item::Initialized => {
                let (s, era) = self.route(session);
                let op = self.make_op(OpKind::Initialized, s, era, true);
                self.launch(op, owner, Tag::Other, None);
            }
            Item::List(m) => {
                let kind = match m {
                    "prompts/list" => OpKind::PromptsList,
                    "resources/list" => OpKind::ResourcesList,
                    _ => OpKind::ToolsList,
                };
                let (s, era) = self.route(session);
                let op = self.make_op(kind, s, era, true);
                self.launch(op, owner, Tag::Other, None);
            }
            Item::Stream => self.start_stream(owner, session, at),
            Item::Delete { always } => {
                let (s, era) = self.route(session);
                let send = era == Era::Legacy
                    && s.is_some()
                    && (always || self.rng.bernoulli(self.family().sequence.delete_p));
                if send {
                    let op = self.make_op(OpKind::Delete, s, era, true);
                    self.launch(op, owner, Tag::Other, None);
                }
            }
            Item::Call(tool) => self.start_call(c, tool, session, at),
            Item::OAuth(step) => {
                let op = self.make_op(OpKind::OAuth(step), None, Era::Legacy, false);
                self.launch(op, owner, Tag::Other, None);
            }
            Item::Wait(d) => {
                // From when the chain's previous answer arrived, not from this pass.
                if let Some(Some(ch)) = self.chains.get_mut(c) {
                    ch.wait_until = ch.wait_until.saturating_add(d);
                }
            }
        }
        true
    }

    /// Expands one sequence token at the moment it runs (era and advertised capabilities are
    /// known only then).
    fn expand(&mut self, t: Token, force_session: bool) -> Vec<Item> {
        let caps = self.server_caps;
        match t {
            Token::Handshake => {
                let first = !self.handshaken;
                let reprobe = !first && self.probing && self.rng.bernoulli(self.family().reprobe_p);
                let legacy_init = vec![
                    Item::Initialize {
                        bind: true,
                        variant: InitVariant::User,
                    },
                    Item::Initialized,
                ];
                match self.era {
                    EraState::Unknown if self.probing => vec![Item::Discover, Item::AfterDiscover],
                    EraState::Unknown => {
                        self.era = EraState::Legacy;
                        legacy_init
                    }
                    EraState::Modern if first || reprobe => {
                        vec![Item::Discover, Item::AfterDiscover]
                    }
                    EraState::Modern if force_session => legacy_init,
                    EraState::Modern => Vec::new(),
                    EraState::Legacy if reprobe => vec![Item::Discover, Item::AfterDiscover],
                    EraState::Legacy => legacy_init,
                }
            }
            Token::ToolsList(adv) => {
                if !adv || caps.tools {
                    vec![Item::List("tools/list")]
                } else {
                    Vec::new()
                }
            }
            Token::PromptsList(adv) => {
                if !adv || caps.prompts {
                    vec![Item::List("prompts/list")]
                } else {
                    Vec::new()
                }
            }
            Token::ResourcesList(adv) => {
                if !adv || caps.resources {
                    vec![Item::List("resources/list")]
                } else {
                    Vec::new()
                }
            }
            Token::Stream => {
                if self.family().stream.open {
                    vec![Item::Stream]
                } else {
                    Vec::new()
                }
            }
            Token::Delete => vec![Item::Delete { always: false }],
        }
    }

    /// The session and era of a request in a chain bound to `session` (or not).
    fn route(&self, session: Option<SessionRef>) -> (Option<SessionRef>, Era) {
        match session {
            Some(s) => (Some(s), Era::Legacy),
            None if self.era == EraState::Modern => (None, Era::Modern),
            None => (self.latest_session, Era::Legacy),
        }
    }

    /// Opens the stream, intended at `at` (or when its chain's item was due).
    fn start_stream(&mut self, owner: Owner, session: Option<SessionRef>, at: u64) {
        let (s, era) = self.route(session);
        let listen = self.family().stream.listen_notifications.clone();
        let mut op = self.make_op(OpKind::OpenStream { listen }, s, era, true);
        op.intended_us = op.intended_us.min(at);
        self.launch(op, owner, Tag::Stream, None);
    }

    /// Starts a call due since `now` (its intended time; its deadlines run from there).
    fn start_call(&mut self, _chain: usize, tool: usize, session: Option<SessionRef>, now: u64) {
        let plan = Arc::clone(&self.plan);
        let Some(t) = plan.tools().get(tool) else {
            return;
        };
        let payload = &plan.scenario().payload;
        let arguments = match (&t.fixed_arguments, payload.args_generator) {
            (Some(a), _) => Arc::clone(a),
            (None, ArgsGenerator::Empty) => Arc::from("{}"),
            (None, ArgsGenerator::Schema) => {
                let size = if self.rng.bernoulli(payload.args_large_p) {
                    payload.args_large_size.sample_u64(&mut self.rng)
                } else {
                    payload.args_size.sample_u64(&mut self.rng)
                };
                Arc::from(generate_arguments(
                    &t.input_schema,
                    payload.optional_p,
                    size as usize,
                    &mut self.rng,
                ))
            }
        };
        // Read through the plan's own handle: `resolve` draws from `self`.
        let meta = family_of(&plan, self.family)
            .call_meta
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Template::Id => MetaValue::RequestId,
                    other => MetaValue::Text(self.resolve(other)),
                };
                (k.clone(), v)
            })
            .collect();
        let (s, era) = self.route(session);
        let kind = OpKind::CallTool {
            tool,
            name: Arc::clone(&t.shared_name),
            arguments,
            meta,
        };
        let op = self.make_op(kind, s, era, true);
        let fam = self.family();
        // [scenarios] cc_request_cap_ms: Claude Code before 2.1.142 capped every call.
        let cap = plan.scenario().scenarios.cc_request_cap_us;
        let capped = (cap > 0 && fam.name == CLAUDE_CODE_FAMILY).then_some(cap);
        let deadline = fam
            .timeouts
            .tool_call_us
            .into_iter()
            .chain(capped)
            .min()
            .map(|d| (now.saturating_add(d), Deadline::ToolCall));
        let idle = fam
            .timeouts
            .tool_idle_us
            .map(|d| (d, fam.timeouts.idle_check_us, now));
        let cancel_p = fam.session.cancel_p;
        let cancel_at = self.rng.bernoulli(cancel_p).then(|| {
            let after = &family_of(&plan, self.family).session.cancel_after;
            now.saturating_add(after.sample_u64(&mut self.rng))
        });
        self.stats.calls += 1;
        let id = op.id;
        self.launch(op, Owner::Chain(_chain), Tag::Call, deadline);
        if let Some(f) = self.in_flight.iter_mut().find(|f| f.id == id) {
            f.idle = idle;
            f.cancel_at = cancel_at;
        }
    }

    fn launch(&mut self, mut op: Op, owner: Owner, tag: Tag, deadline: Option<(u64, Deadline)>) {
        if let Owner::Chain(c) = owner
            && let Some(Some(ch)) = self.chains.get_mut(c)
        {
            ch.in_flight = Some(op.id);
            // Due since the chain's previous answer (plus its wait), or its start.
            op.intended_us = op.intended_us.min(ch.wait_until);
        }
        self.in_flight.push(InFlight {
            id: op.id,
            owner,
            tag,
            era: op.era,
            session: op.session,
            started: op.intended_us,
            deadline,
            idle: None,
            cancel_at: None,
        });
        self.out.push_back(Action::Start(op));
    }

    fn make_op(
        &mut self,
        kind: OpKind,
        session: Option<SessionRef>,
        era: Era,
        authenticated: bool,
    ) -> Op {
        let id = OpId(self.next_op);
        self.next_op += 1;
        let plan = Arc::clone(&self.plan);
        let f = family_of(&plan, self.family);
        let handshake = matches!(kind, OpKind::Initialize { .. } | OpKind::Discover);
        let protocol_header =
            era == Era::Modern || !handshake && self.rng.bernoulli(f.protocol_header_p);
        let echo_session_id = f.sequence.echo_session_id;
        let version_mismatch = protocol_header
            && era == Era::Legacy
            && self
                .rng
                .bernoulli(plan.scenario().scenarios.header_version_mismatch_p);
        let headers = f
            .headers
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Template::Id => id.0.to_string(),
                    other => self.resolve(other),
                };
                (k.clone(), v)
            })
            .collect();
        Op {
            id,
            kind,
            session,
            era,
            authenticated,
            protocol_header,
            echo_session_id,
            version_mismatch,
            headers,
            intended_us: self.now,
        }
    }

    /// Resolves a generator (`$id` is the runner's: it resolves to an empty string here).
    fn resolve(&mut self, t: &Template) -> String {
        match t {
            Template::Literal(s) => s.clone(),
            Template::Id => String::new(),
            Template::Toolu => {
                let mut s = String::from("toolu_01");
                self.rng.base62(22, &mut s);
                s
            }
            Template::Traceparent => {
                let mut s = String::from("00-");
                self.rng.hex(32, &mut s);
                s.push('-');
                self.rng.hex(16, &mut s);
                s.push_str("-01");
                s
            }
            Template::RootUri => format!("file:///home/user/projects/project-{}", self.index),
        }
    }
}

/// The modern version string, re-exported for runners building `_meta`.
pub const STATELESS_VERSION: &str = MODERN_VERSION;

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's program is one entry per turn element, not per step: a user that draws the
    /// most steps there are holds as little as one that draws one.
    #[test]
    fn steps_are_run_length_encoded() {
        let text = r#"
format = "mcpx-scenario/1"
[session]
user_turns = { dist = "constant", value = 2 }
steps = { dist = "constant", value = 1000000 }
[[clients]]
name = "claude_code"
"#;
        let scenario = crate::Scenario::parse(text, "t.toml").expect("scenario");
        let tool = crate::ToolInfo::from_json(&serde_json::json!({
            "name": "echo", "inputSchema": {"type": "object"}
        }))
        .expect("tool");
        let plan = Arc::new(Plan::new(scenario, &[tool]).expect("plan"));
        let user = VirtualUser::new(&plan, 0, 0);
        assert_eq!(u64::from(user.stats.steps), crate::limits::MAX_COUNT);
        let steps: u64 = user
            .program
            .iter()
            .map(|i| match i {
                Instr::Steps(n) => u64::from(*n),
                _ => 0,
            })
            .sum();
        assert_eq!(steps, crate::limits::MAX_COUNT);
        assert!(user.program.len() < 16, "{} entries", user.program.len());
    }

    /// Runs user `k` of the built-in profile against the mock with every answer `latency(id)`
    /// µs after it is sent, and returns what the user sent, order aside: one line per request
    /// (kind and arguments, headers, header flags; not the op id or the session number, which
    /// count requests in the order they happen).
    fn workload(plan: &Arc<Plan>, k: u64, latency: impl Fn(u64) -> u64) -> (Vec<String>, bool) {
        use crate::{MockTarget, Outcome};
        let Some(target) = plan.scenario().target.as_ref() else {
            return (Vec::new(), false);
        };
        let mock = MockTarget::new(target);
        let mut user = VirtualUser::new(plan, k, 0);
        let mut sent = Vec::new();
        let mut in_flight: Vec<(u64, OpId, Outcome)> = Vec::new();
        let mut now = 0u64;
        // Bounded: a user of the profile sends far fewer requests than this.
        for _ in 0..1_000_000 {
            while let Some(action) = user.poll(now) {
                match action {
                    Action::Start(op) => {
                        let answer = match &op.kind {
                            OpKind::Discover => Outcome::Done(Done::discover(true, mock.caps())),
                            OpKind::Initialize { .. } => {
                                Outcome::Done(Done::initialize(mock.caps()))
                            }
                            OpKind::OpenStream { .. } => Outcome::StreamOpen,
                            OpKind::CallTool { .. } => Outcome::Done(Done::tool(false)),
                            _ => Outcome::Done(Done::ok()),
                        };
                        sent.push(format!(
                            "{:?} era={:?} ph={} vm={} auth={} headers={:?}",
                            op.kind,
                            op.era,
                            op.protocol_header,
                            op.version_mismatch,
                            op.authenticated,
                            op.headers
                        ));
                        in_flight.push((op.intended_us + latency(op.id.0), op.id, answer));
                    }
                    Action::Cancel { op, .. } => in_flight.retain(|(_, id, _)| *id != op),
                    Action::Finished => break,
                }
            }
            if user.is_finished() {
                break;
            }
            in_flight.sort_by_key(|(t, ..)| std::cmp::Reverse(*t));
            let next_reply = in_flight.last().map(|(t, ..)| *t);
            now = match (next_reply, user.next_wakeup()) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            while in_flight.last().is_some_and(|(t, ..)| *t <= now) {
                if let Some((_, id, outcome)) = in_flight.pop() {
                    user.on_outcome(id, outcome, now);
                }
            }
        }
        sent.sort();
        (sent, user.stats.fan_outs.iter().any(|b| *b > 1))
    }

    /// `--shard i/n` needs user k to send the same requests whatever order the parallel calls
    /// of a fan-out complete in (the server decides that order, not the seed): each call's
    /// chain draws from a stream of its own, not from the user's shared one in completion
    /// order.
    #[test]
    fn a_fan_out_draws_the_same_whatever_order_its_calls_complete_in() {
        let scenario = crate::Scenario::builtin("claude").expect("scenario");
        let mock = crate::MockTarget::new(scenario.target.as_ref().expect("target"));
        let plan = Arc::new(Plan::new(scenario, &mock.tool_infos()).expect("plan"));
        let mut fanned = 0;
        for k in 0..200u64 {
            // Two different completion orders: later requests answered first, then earlier
            // ones (latencies of 1 to 8 ms, spread differently by op id).
            let (a, fan) = workload(&plan, k, |id| 1_000 + (id * 7919 % 8) * 1_000);
            let (b, _) = workload(&plan, k, |id| 8_000 - (id * 104_729 % 8) * 1_000);
            assert_eq!(a, b, "user {k}: the workload depends on completion order");
            fanned += usize::from(fan);
        }
        assert!(fanned > 0, "no user of the sample fans out");
    }
}
