//! One session-era session: lifecycle state, negotiated version, capabilities, in-flight
//! requests both ways, its streams.

use crate::Map;
use std::time::Instant;

use mcpx_wire::{RawJson, RequestId};

use crate::{ProtocolVersion, SessionId, StreamKey};

/// Where a session is in its lifecycle (MCP-DIGEST 2.1).
///
/// ```text
///                 initialize (answered with the negotiated version, Mcp-Session-Id)
///  AwaitingInitialize ───────────────────────────────► AwaitingInitialized
///                                                          │
///                                                          │ notifications/initialized
///                                                          ▼
///                                                        Ready
///                                                          │
///        DELETE, idle expiry, eviction (from any state) ───┤
///                                                          ▼
///                                                        Closed  (removed: later requests 404)
/// ```
///
/// Over HTTP a session is created by the `initialize` it answers, so a table never holds one
/// in `AwaitingInitialize`; the state exists for transports where the connection is the
/// session (stdio). `ping` is answered in every state. Requests in `AwaitingInitialized` are
/// served unless [`Config::strict_lifecycle`](crate::Config::strict_lifecycle) is on (HTTP may
/// deliver the first request before the `initialized` notification). A `Closed` session is
/// gone from the table at once; the state is only what [`Session::state`] would report for a
/// session the caller still holds a copy of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Nothing received yet; only `initialize` (and `ping`) are valid.
    AwaitingInitialize,
    /// `initialize` answered; waiting for `notifications/initialized`.
    AwaitingInitialized,
    /// Operating.
    Ready,
    /// Ended (deleted, expired or evicted).
    Closed,
}

/// A server-to-client request awaiting the client's answer.
#[derive(Clone, Debug)]
pub(crate) struct Outbound {
    /// The client request it was sent about, if any (its stream).
    pub(crate) related: Option<StreamKey>,
}

/// A session-era session as the table keeps it. Read it through
/// [`SessionTable::session`](crate::SessionTable::session); the table drives every change.
///
/// Memory: a few hundred bytes plus the client's capabilities and info JSON; the in-flight maps
/// allocate only once something is in flight.
#[derive(Debug)]
pub struct Session {
    pub(crate) id: SessionId,
    pub(crate) state: SessionState,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_capabilities: Option<RawJson>,
    pub(crate) client_info: Option<RawJson>,
    pub(crate) created: Instant,
    pub(crate) last_activity: Instant,
    /// Client -> server requests in flight: id -> its response stream.
    pub(crate) inbound: Map<RequestId, StreamKey>,
    /// Server -> client requests awaiting an answer.
    pub(crate) outbound: Map<RequestId, Outbound>,
    /// The standalone GET stream, while one exists, and whether a connection is attached.
    pub(crate) get_stream: Option<(StreamKey, bool)>,
    /// The next id for a server -> client request.
    pub(crate) next_outbound_id: i64,
    /// The session's key in the table's idle index (its expiry deadline), while idle.
    pub(crate) idle_deadline: Option<Instant>,
    /// Distinguishes this session from a later one reusing its slot.
    pub(crate) serial: u64,
}

impl Session {
    pub(crate) fn new(
        id: SessionId,
        version: ProtocolVersion,
        client_capabilities: Option<RawJson>,
        client_info: Option<RawJson>,
        now: Instant,
        serial: u64,
    ) -> Self {
        Self {
            id,
            state: SessionState::AwaitingInitialize,
            version,
            client_capabilities,
            client_info,
            created: now,
            last_activity: now,
            inbound: Map::default(),
            outbound: Map::default(),
            get_stream: None,
            next_outbound_id: 0,
            idle_deadline: None,
            serial,
        }
    }

    /// The session id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The lifecycle state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The client's `capabilities` from `initialize`, raw JSON as sent (`None` if it sent
    /// none).
    pub fn client_capabilities(&self) -> Option<&RawJson> {
        self.client_capabilities.as_ref()
    }

    /// The client's `clientInfo` from `initialize`, raw JSON as sent.
    pub fn client_info(&self) -> Option<&RawJson> {
        self.client_info.as_ref()
    }

    /// When the session was created.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// The last time a request, stream or response touched the session.
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// Client requests in flight (dispatched, not yet answered or abandoned).
    pub fn in_flight(&self) -> usize {
        self.inbound.len()
    }

    /// Server-to-client requests awaiting the client's answer.
    pub fn awaiting_client(&self) -> usize {
        self.outbound.len()
    }

    /// Whether the request with this id is in flight.
    pub fn is_in_flight(&self, id: &RequestId) -> bool {
        self.inbound.contains_key(id)
    }

    /// The standalone GET stream, if one has been opened and not ended.
    pub fn get_stream(&self) -> Option<StreamKey> {
        self.get_stream.map(|(k, _)| k)
    }

    /// Open streams: one per client request in flight plus a connected GET stream.
    pub fn open_streams(&self) -> usize {
        self.inbound.len() + usize::from(self.get_stream.is_some_and(|(_, c)| c))
    }

    /// Idle: nothing in flight either way and no connected stream. Only idle sessions expire
    /// or are evicted.
    pub fn is_idle(&self) -> bool {
        self.inbound.is_empty() && self.outbound.is_empty() && self.open_streams() == 0
    }
}
