//! Notifications the server starts on its own: list changes and resource updates. It owns the
//! registry of who asked for what: session-era `resources/subscribe`s and 2026-07-28
//! `subscriptions/listen` streams with their filters; [`ServerHandle`] is the embedder's way
//! in (swap the handlers, announce a change).
//!
//! Where each goes (MCP-DIGEST 6.1, 6.2, 7.5):
//! - session era: list changes to every session's standalone GET stream; a resource update to
//!   the GET streams of the sessions that subscribed to that URI;
//! - 2026-07-28: to each listen stream whose filter asked for it, with the listen request's id
//!   as `_meta["io.modelcontextprotocol/subscriptionId"]`.
//!
//! Delivery never waits: a stream whose queue is full (a client that stopped reading) loses that
//! notification rather than stalling the announcer or growing a buffer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use mcpx_proto::{SessionId, StreamKey, Target};
use serde_json::{Value, json};

use crate::Handlers;
use crate::service::{Out, Shared, lock};

/// Resource subscriptions one session may hold, and URIs one listen filter may name: enough
/// for any real client, a bound on what one client can make the server remember.
pub const MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 1024;

/// The lists whose changes can be announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListKind {
    /// `tools/list`.
    Tools,
    /// `prompts/list`.
    Prompts,
    /// `resources/list`.
    Resources,
}

impl ListKind {
    fn method(self) -> &'static str {
        match self {
            Self::Tools => "notifications/tools/list_changed",
            Self::Prompts => "notifications/prompts/list_changed",
            Self::Resources => "notifications/resources/list_changed",
        }
    }
}

/// One `subscriptions/listen` stream's filter.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) tools: bool,
    pub(crate) prompts: bool,
    pub(crate) resources: bool,
    pub(crate) uris: HashSet<String>,
    /// The listen request's id, as JSON.
    pub(crate) subscription_id: Value,
}

impl Listener {
    fn wants(&self, kind: ListKind) -> bool {
        match kind {
            ListKind::Tools => self.tools,
            ListKind::Prompts => self.prompts,
            ListKind::Resources => self.resources,
        }
    }
}

/// Who subscribed to what.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_uri: HashMap<String, HashSet<SessionId>>,
    by_session: HashMap<SessionId, HashSet<String>>,
    listeners: HashMap<StreamKey, Listener>,
}

/// Why a subscription was refused.
#[derive(Debug)]
pub(crate) struct TooMany;

impl Registry {
    /// Session era `resources/subscribe`.
    pub(crate) fn subscribe(&mut self, session: &SessionId, uri: &str) -> Result<(), TooMany> {
        let uris = self.by_session.entry(session.clone()).or_default();
        if !uris.contains(uri) && uris.len() >= MAX_SUBSCRIPTIONS_PER_CLIENT {
            return Err(TooMany);
        }
        uris.insert(uri.to_owned());
        self.by_uri
            .entry(uri.to_owned())
            .or_default()
            .insert(session.clone());
        Ok(())
    }

    /// Session era `resources/unsubscribe`.
    pub(crate) fn unsubscribe(&mut self, session: &SessionId, uri: &str) {
        if let Some(uris) = self.by_session.get_mut(session) {
            uris.remove(uri);
            if uris.is_empty() {
                self.by_session.remove(session);
            }
        }
        self.forget_uri(session, uri);
    }

    fn forget_uri(&mut self, session: &SessionId, uri: &str) {
        if let Some(sessions) = self.by_uri.get_mut(uri) {
            sessions.remove(session);
            if sessions.is_empty() {
                self.by_uri.remove(uri);
            }
        }
    }

    /// A session ended: its subscriptions go with it.
    pub(crate) fn session_ended(&mut self, session: &SessionId) {
        for uri in self.by_session.remove(session).unwrap_or_default() {
            self.forget_uri(session, &uri);
        }
    }

    pub(crate) fn listen(&mut self, stream: StreamKey, listener: Listener) {
        self.listeners.insert(stream, listener);
    }

    pub(crate) fn unlisten(&mut self, stream: StreamKey) {
        self.listeners.remove(&stream);
    }

    /// Session-era subscribers of `uri`.
    fn subscribers(&self, uri: &str) -> Vec<SessionId> {
        self.by_uri
            .get(uri)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The embedder's handle on a running server: swap what it serves, announce changes. Cheap to
/// clone; every method returns at once (delivery never waits for a slow client).
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Replaces the tools, resources, prompts and completion handler. Requests already running
    /// finish with the handlers they started with. Each list whose names changed is announced
    /// ([`list_changed`](Self::list_changed)) when the server declared `listChanged`
    /// ([`ServerBuilder::list_changed`](crate::ServerBuilder::list_changed)). The capabilities
    /// declared at build time stay as they were: keep the same kinds of things.
    pub fn set_handlers(&self, handlers: Handlers) {
        let old = {
            let mut current = self
                .shared
                .handlers
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *current, Arc::new(handlers))
        };
        let new = self.shared.handlers();
        if !self.shared.list_changed {
            return;
        }
        if old.tool_order != new.tool_order {
            self.list_changed(ListKind::Tools);
        }
        if old.prompt_order != new.prompt_order {
            self.list_changed(ListKind::Prompts);
        }
        let uris = |h: &Handlers| {
            h.resources
                .iter()
                .map(|r| r.uri.clone())
                .collect::<Vec<_>>()
        };
        if uris(&old) != uris(&new) {
            self.list_changed(ListKind::Resources);
        }
    }

    /// Sends `notifications/{tools,prompts,resources}/list_changed` to every session's GET
    /// stream and to every listen stream that asked for it. Returns how many streams it went
    /// to.
    pub fn list_changed(&self, kind: ListKind) -> usize {
        let method = kind.method();
        let mut sent = self.to_sessions(None, method, &json!({}));
        let listeners: Vec<(StreamKey, Value)> = {
            let registry = lock(&self.shared.registry);
            registry
                .listeners
                .iter()
                .filter(|(_, l)| l.wants(kind))
                .map(|(k, l)| (*k, l.subscription_id.clone()))
                .collect()
        };
        for (stream, id) in listeners {
            let params = json!({"_meta": {"io.modelcontextprotocol/subscriptionId": id}});
            sent += usize::from(self.to_stream(stream, method, &params));
        }
        sent
    }

    /// Sends `notifications/resources/updated {uri}` to the sessions that subscribed to `uri`
    /// (session era) and to the listen streams whose `resourceSubscriptions` name it. Returns
    /// how many streams it went to.
    pub fn resource_updated(&self, uri: &str) -> usize {
        let method = "notifications/resources/updated";
        let (sessions, listeners) = {
            let registry = lock(&self.shared.registry);
            let listeners: Vec<(StreamKey, Value)> = registry
                .listeners
                .iter()
                .filter(|(_, l)| l.uris.contains(uri))
                .map(|(k, l)| (*k, l.subscription_id.clone()))
                .collect();
            (registry.subscribers(uri), listeners)
        };
        let mut sent = self.to_sessions(Some(&sessions), method, &json!({ "uri": uri }));
        for (stream, id) in listeners {
            let params = json!({
                "uri": uri,
                "_meta": {"io.modelcontextprotocol/subscriptionId": id},
            });
            sent += usize::from(self.to_stream(stream, method, &params));
        }
        sent
    }

    /// Sends to the GET streams of `only` (or of every session with one).
    fn to_sessions(&self, only: Option<&[SessionId]>, method: &str, params: &Value) -> usize {
        let mut outs: Vec<Out> = Vec::new();
        for shard in self.shared.shards() {
            let mut table = lock(shard);
            let ids: Vec<SessionId> = match only {
                Some(ids) => ids.to_vec(),
                None => table
                    .session_ids()
                    .filter(|id| table.session(id).is_some_and(|s| s.get_stream().is_some()))
                    .cloned()
                    .collect(),
            };
            for id in ids {
                if table.session(&id).is_none() {
                    continue;
                }
                let mut buf = BytesMut::new();
                if let Ok(t) = table.notify(
                    Instant::now(),
                    &Target::Session(id),
                    method,
                    params,
                    &mut buf,
                ) {
                    outs.push(Out::new(t, buf));
                }
            }
            self.shared.drain_events(&mut table);
        }
        outs.into_iter()
            .map(|out| usize::from(self.shared.deliver_now(out)))
            .sum()
    }

    fn to_stream(&self, stream: StreamKey, method: &str, params: &Value) -> bool {
        let target = Target::Request(stream);
        self.shared
            .write(stream, |t, now, buf| {
                t.notify(now, &target, method, params, buf)
            })
            .is_ok_and(|out| self.shared.deliver_now(out))
    }
}
