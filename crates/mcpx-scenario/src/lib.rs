//! `mcpx-scenario`: the sans-IO brain of `mcpx load`.
//!
//! It owns the `mcpx-scenario/1` file format ([`Scenario`], with the built-in `claude` profile
//! vendored from `shared/traffic/claude.toml`), seeded distributions ([`Rng`], [`Dist`],
//! [`Zipf`]), schema-valid argument generation ([`generate_arguments`]), the synthetic target as
//! data ([`MockTarget`]), virtual users as clock-driven state machines ([`VirtualUser`], PROFILE
//! 2.1), load models as schedulers ([`Arrivals`]), and a discrete-event simulator ([`sim`]).
//!
//! It does **not** do I/O: no sockets, no files, no threads, no clock. Time is an argument, in
//! microseconds since the start of the run (`now_us`), and must never go backwards. The runner
//! (`mcpx-load`) owns HTTP, JSON-RPC ids, session-id bookkeeping, paging, SSE and histograms;
//! `mcpx serve --mock` owns the server side and asks [`MockTarget`] what to answer.
//!
//! # Driving a user
//!
//! 1. Build a [`Plan`] once: the scenario plus the target's tools (from `tools/list`, or
//!    [`MockTarget::tool_infos`] for the mock).
//! 2. Per arriving user, [`VirtualUser::new`]`(&plan, k, now)`; user *k*'s draws come only from
//!    (`profile.seed`, k), so `--shard i/n` can run users with k mod n = i.
//! 3. Loop: call [`VirtualUser::poll`] until `None`; for each [`Action::Start`] send the
//!    operation ([`Op`]: kind, era, session, headers) and measure its latency from
//!    [`Op::intended_us`]; for each [`Action::Cancel`] drop that exchange (and count a timeout
//!    when the reason says so); on [`Action::Finished`] drop the user.
//! 4. Feed every response back with [`VirtualUser::on_outcome`]: [`Outcome::Done`] (with the
//!    facts users need: discover listed 2026-07-28, advertised capabilities, `isError`),
//!    [`Outcome::Failed`], [`Outcome::Progress`] (resets Claude Code's idle deadline),
//!    [`Outcome::StreamOpen`], [`Outcome::ServerRequest`] (answered later with an
//!    [`OpKind::Answer`]), each with the time it *arrived* (not when the runner got round to
//!    it). Then poll again.
//! 5. Sleep until [`VirtualUser::next_wakeup`] or the next response, whichever comes first.
//!
//! Every request that follows an answer is intended at that answer's arrival plus the drawn
//! wait (think time, a person's answer delay, a backoff), and a timer's request at the timer's
//! due time: [`Op::intended_us`] never depends on how late the runner polls, so a late runner
//! shows as latency and lag instead of silently sending less (the wrk2 rule).
//!
//! ```
//! use std::sync::Arc;
//! use mcpx_scenario::{Action, Done, MockTarget, OpKind, Outcome, Plan, Scenario, VirtualUser};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = Scenario::builtin("claude")?;
//! let mock = MockTarget::new(scenario.target.as_ref().ok_or("no [target]")?);
//! let plan = Arc::new(Plan::new(scenario, &mock.tool_infos())?);
//! let mut user = VirtualUser::new(&plan, 7, 0);
//!
//! // A toy runner: every request is answered 2 ms after it is sent.
//! let mut now = 0u64;
//! let mut in_flight: Vec<(u64, mcpx_scenario::OpId, Outcome)> = Vec::new();
//! let mut sent = 0;
//! 'run: loop {
//!     while let Some(action) = user.poll(now) {
//!         match action {
//!             Action::Start(op) => {
//!                 sent += 1;
//!                 let answer = match &op.kind {
//!                     OpKind::Discover => Outcome::Done(Done::discover(true, mock.caps())),
//!                     OpKind::Initialize { .. } => Outcome::Done(Done::initialize(mock.caps())),
//!                     OpKind::OpenStream { .. } => Outcome::StreamOpen,
//!                     OpKind::CallTool { .. } => Outcome::Done(Done::tool(false)),
//!                     _ => Outcome::Done(Done::ok()),
//!                 };
//!                 in_flight.push((op.intended_us + 2_000, op.id, answer));
//!             }
//!             Action::Cancel { op, .. } => in_flight.retain(|(_, id, _)| *id != op),
//!             Action::Finished => break 'run,
//!             _ => {}
//!         }
//!     }
//!     in_flight.sort_by_key(|(t, ..)| std::cmp::Reverse(*t));
//!     let next_reply = in_flight.last().map(|(t, ..)| *t);
//!     now = match (next_reply, user.next_wakeup()) {
//!         (Some(a), Some(b)) => a.min(b),
//!         (Some(a), None) | (None, Some(a)) => a,
//!         (None, None) => break,
//!     };
//!     while in_flight.last().is_some_and(|(t, ..)| *t <= now) {
//!         if let Some((_, id, outcome)) = in_flight.pop() {
//!             user.on_outcome(id, outcome, now);
//!         }
//!     }
//! }
//! assert!(sent > 0 && user.is_finished());
//! # Ok(())
//! # }
//! ```
//!
//! [`sim::run_user`] is the same loop with the mock's real latencies, progress and errors.
//!
//! # What each operation means on the wire
//!
//! | [`OpKind`] | legacy ([`Era::Legacy`]) | modern ([`Era::Modern`]) |
//! |---|---|---|
//! | `Discover` | `server/discover`, no session | same |
//! | `Initialize` | `initialize`; bind the issued `Mcp-Session-Id` to [`Op::session`] (`None`: discard it) | never emitted |
//! | `Initialized` | `notifications/initialized` on the session | never emitted |
//! | `ToolsList`, `PromptsList`, `ResourcesList` | all pages via `nextCursor` | same, identity in `_meta` |
//! | `OpenStream` | GET listening stream | `subscriptions/listen` with the filter |
//! | `Delete` | HTTP DELETE of the session | never emitted |
//! | `CallTool` | `tools/call` with the arguments bytes; [`MetaValue::RequestId`] = its JSON-RPC id | same, `Mcp-Name` = tool |
//! | `Cancelled` | `notifications/cancelled` for that request | never emitted (closing the stream cancels) |
//! | `Answer` | a JSON-RPC response POST | `inputResponses` on the retried request |
//! | `OAuth` | the RFC 9728 / 8414 / 7591 / token step | same |
//!
//! Every request carries the family's `User-Agent`, [`VirtualUser::accept`], [`Op::headers`],
//! `Authorization` from `[auth]` when [`Op::authenticated`], `Mcp-Session-Id` when it has a
//! session and [`Op::echo_session_id`], and `MCP-Protocol-Version` when [`Op::protocol_header`]
//! (the negotiated version; a wrong one when [`Op::version_mismatch`]). Modern requests also
//! carry `Mcp-Method` and the identity of [`VirtualUser::client_info`],
//! [`VirtualUser::capabilities`] and [`MODERN_VERSION`] in `_meta`.
#![forbid(unsafe_code)]

mod args;
mod dist;
mod error;
mod format;
mod limits;
mod load;
mod plan;
mod reader;
mod rng;
mod scale;
pub mod sim;
mod target;
mod user;

pub use args::{generate_arguments, generate_value, validate};
pub use dist::{Dist, Unit, Zipf};
pub use error::ScenarioError;
pub use format::*;
pub use limits::*;
pub use load::{Arrivals, PREFILL_INDEX_BASE, Shard, Start, StartKind, parse_stages, prefill};
pub use plan::{CallableTool, Plan};
pub use rng::{DOMAIN_ARRIVALS, DOMAIN_PREFILL, DOMAIN_RANK, DOMAIN_TARGET, DOMAIN_USER, Rng};
pub use target::{
    CallBehaviour, CallReply, GetStreamPolicy, MODERN_VERSION, MockTarget, MockTool, ServerCaps,
    ToolInfo,
};
pub use user::*;
