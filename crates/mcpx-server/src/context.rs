//! [`RequestContext`]: what a handler can do while it runs (progress, logs, asking the client,
//! observing cancellation).
//!
//! # Cancel safety
//!
//! A handler future that is dropped (its task aborted, or the server shutting down) leaves its
//! request in flight until the supervisor answers it with -32603; a handler that sees
//! [`RequestContext::is_cancelled`] should stop and return anything: nothing more is sent for a
//! cancelled request.

use std::sync::Arc;

use mcpx_proto::{ProtocolVersion, SessionId, StreamKey, Target};
use mcpx_wire::{Message, RawJson};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::service::Shared;

/// The context of one dispatched request.
#[derive(Clone)]
pub struct RequestContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) stream: StreamKey,
    pub(crate) session: Option<SessionId>,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_capabilities: Option<RawJson>,
    /// This request's cancellation (registered with the server on first use).
    pub(crate) cancel: Arc<crate::service::CancelSlot>,
    /// 2026-07-28: the request's `_meta["io.modelcontextprotocol/logLevel"]`, the only way a
    /// request opts in to log notifications in that era.
    pub(crate) request_log_level: Option<String>,
    /// The request's JSON-RPC id.
    pub(crate) request_id: mcpx_wire::RequestId,
    /// The request's own stream queue: its answer and progress go here without a map lookup.
    pub(crate) own: tokio::sync::mpsc::Sender<crate::service::Frame>,
    /// The handlers in force when the request arrived.
    pub(crate) handlers: Arc<crate::Handlers>,
    /// 2026-07-28 `tools/call`, `prompts/get`, `resources/read`: this round of a multi
    /// round-trip request.
    pub(crate) round: Option<Arc<crate::mrtr::Round>>,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("stream", &self.stream)
            .field("session", &self.session)
            .field("version", &self.version)
            .finish()
    }
}

/// A server-to-client request failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum AskError {
    /// The protocol does not allow it here (stateless era, no session, request gone).
    NotAllowed(mcpx_proto::SendError),
    /// The client answered with a JSON-RPC error.
    Rejected {
        /// Its code.
        code: i32,
        /// Its message.
        message: String,
    },
    /// The request ended (cancelled, session deleted) before the client answered.
    Gone,
    /// 2026-07-28: the question goes back to the client as an `input_required` result; the
    /// handler should stop (whatever it returns is replaced by that result) and will run again
    /// when the client retries with the answer.
    InputRequired,
    /// The client did not declare the capability the question needs (`"sampling"`,
    /// `"elicitation"`, `"roots"`): -32021 in the stateless era.
    MissingCapability(&'static str),
    /// The client's answer does not have the shape of the result asked for: -32602.
    InvalidAnswer(String),
}

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAllowed(e) => write!(f, "cannot ask the client: {e}"),
            Self::Rejected { code, message } => write!(f, "the client refused ({code}): {message}"),
            Self::Gone => f.write_str("the request ended before the client answered"),
            Self::InputRequired => f.write_str("the client must answer first (input_required)"),
            Self::MissingCapability(c) => {
                write!(f, "the client did not declare the `{c}` capability")
            }
            Self::InvalidAnswer(key) => {
                write!(f, "the client's answer `{key}` has the wrong shape")
            }
        }
    }
}

impl std::error::Error for AskError {}

impl From<AskError> for crate::HandlerError {
    /// How a failed question ends the request when the handler passes it on with `?`.
    fn from(e: AskError) -> Self {
        match e {
            AskError::MissingCapability(cap) => Self {
                code: mcpx_wire::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                message: format!("Missing required client capability: {cap}"),
                data: Some(serde_json::json!({"requiredCapabilities": {cap: {}}})),
            },
            AskError::InvalidAnswer(_) => Self::invalid_params(e.to_string()),
            // Replaced by the input_required result; the message only shows if it is not.
            other => Self::internal(other.to_string()),
        }
    }
}

impl RequestContext {
    /// Sends a frame: on the request's own stream straight into its queue, elsewhere (the
    /// session's GET stream) through the stream map.
    pub(crate) async fn deliver(&self, out: crate::service::Out) {
        if out.stream == self.stream {
            if let Err(e) = self.own.send(out.frame).await {
                // The response body is gone (the client disconnected): the frame goes to a
                // resumed connection or into the replay log.
                self.shared.deliver_orphan(self.stream, e.0, None);
            }
        } else {
            self.shared.deliver(out).await;
        }
    }

    /// The request's JSON-RPC id.
    pub fn request_id(&self) -> &mcpx_wire::RequestId {
        &self.request_id
    }

    /// Sends a notification on this request's stream (in the auto response mode the first one
    /// turns the response into an SSE stream).
    pub async fn notify(&self, method: &str, params: &Value) {
        let target = Target::Request(self.stream);
        let out = self.shared.write(self.stream, |table, now, buf| {
            table.notify(now, &target, method, params, buf)
        });
        if let Ok(frame) = out {
            self.deliver(frame).await;
        }
    }

    /// The protocol version this request is served under.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The session (`None` in the stateless era).
    pub fn session(&self) -> Option<&SessionId> {
        self.session.as_ref()
    }

    /// The client's capabilities, raw: the session's (from `initialize`) or the request's `_meta`.
    pub fn client_capabilities(&self) -> Option<RawJson> {
        match &self.client_capabilities {
            Some(c) => Some(c.clone()),
            None => self.shared.session_capabilities(self.session.as_ref()),
        }
    }

    /// Whether the client declared the capability `name` (`"sampling"`, `"elicitation"`,
    /// `"roots"`, ...) in `initialize` or in this request's `_meta`.
    pub fn client_declares(&self, name: &str) -> bool {
        self.client_capabilities()
            .and_then(|c| c.deserialize::<Value>().ok())
            .is_some_and(|c| c.get(name).is_some_and(|v| !v.is_null()))
    }

    /// Whether the client cancelled this request (or closed its stream, in the stateless era).
    pub fn is_cancelled(&self) -> bool {
        self.shared.watch_cancel(self.stream, &self.cancel);
        self.cancel.is_fired()
    }

    /// Resolves when the request is cancelled.
    pub async fn cancelled(&self) {
        self.shared.watch_cancel(self.stream, &self.cancel);
        self.cancel.fired().await;
    }

    /// Sends `notifications/progress` if the request asked for progress (`_meta.progressToken`);
    /// otherwise does nothing. In the auto response mode the first notification turns the
    /// response into an SSE stream.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let out = self.shared.write(self.stream, |table, now, buf| {
            table.progress(now, self.stream, progress, total, message, buf)
        });
        if let Ok(frame) = out {
            self.deliver(frame).await;
        }
    }

    /// Sends `notifications/message` (a log line) on this request's stream, if the session's
    /// level lets it through (default: everything).
    pub async fn log(&self, level: &str, logger: Option<&str>, data: Value) {
        let allowed = match self.version.rules().logging {
            // Without the per-request opt-in the server MUST NOT log for that request.
            mcpx_proto::LoggingControl::PerRequestMeta => self
                .request_log_level
                .as_deref()
                .is_some_and(|min| crate::service::at_or_above(level, min)),
            _ => self.shared.log_enabled(self.session.as_ref(), level),
        };
        if !allowed {
            return;
        }
        let mut params = serde_json::json!({"level": level, "data": data});
        if let (Some(logger), Some(obj)) = (logger, params.as_object_mut()) {
            obj.insert("logger".into(), Value::from(logger));
        }
        let target = Target::Request(self.stream);
        let out = self.shared.write(self.stream, |table, now, buf| {
            table.notify(now, &target, "notifications/message", &params, buf)
        });
        if let Ok(frame) = out {
            self.deliver(frame).await;
        }
    }

    /// 2026-07-28: whether this request is a retry carrying a `requestState` the server sealed
    /// (and verified: a tampered one never reaches the handler).
    pub fn has_request_state(&self) -> bool {
        self.round.as_ref().is_some_and(|r| r.had_state)
    }

    /// Asks the client (`sampling/createMessage`, `elicitation/create`, `roots/list`) and waits
    /// for its answer: in the session era a server-to-client request on this request's stream;
    /// in 2026-07-28 a multi round-trip question (see [`RequestContext::input`]) under an
    /// automatic key.
    pub async fn ask(&self, method: &str, params: Value) -> Result<Value, AskError> {
        match &self.round {
            Some(round) => self.input(&round.auto_key(), method, params).await,
            None => self.ask_session(method, params).await,
        }
    }

    /// Asks the client under a key of the handler's choosing. In 2026-07-28 the answer is
    /// `inputResponses[key]` of the client's retry (or of an earlier round, carried in the sealed
    /// `requestState`); until it is there this returns [`AskError::InputRequired`] and the
    /// request answers `input_required` with every question asked in this run. In the session
    /// era it is [`RequestContext::ask`].
    pub async fn input(&self, key: &str, method: &str, params: Value) -> Result<Value, AskError> {
        let Some(round) = &self.round else {
            return self.ask_session(method, params).await;
        };
        if let Some(cap) = crate::mrtr::capability_for(method)
            && !self.client_declares(cap)
        {
            return Err(AskError::MissingCapability(cap));
        }
        match round.answers.get(key) {
            Some(answer) if crate::mrtr::valid_answer(method, answer) => Ok(answer.clone()),
            Some(_) => Err(AskError::InvalidAnswer(key.to_owned())),
            None => {
                round.ask(key, method, params);
                Err(AskError::InputRequired)
            }
        }
    }

    async fn ask_session(&self, method: &str, params: Value) -> Result<Value, AskError> {
        let Some(session) = self.session.clone() else {
            return Err(AskError::NotAllowed(mcpx_proto::SendError::NotAllowed));
        };
        // A JSON response carries nothing but the final answer, so with JSON responses only the
        // question goes on the session's GET stream; without one, it is refused at once rather
        // than never delivered.
        let target = if self.shared.json_responses() {
            Target::Session(session.clone())
        } else {
            Target::Request(self.stream)
        };
        let (tx, rx) = oneshot::channel::<Message>();
        let sent = self.shared.write_with(self.stream, |table, now, buf| {
            table.request_client(now, &target, method, &params, buf)
        });
        let (id, frame) = sent.map_err(AskError::NotAllowed)?;
        self.shared.await_client(session.clone(), id.clone(), tx);
        self.deliver(frame).await;
        let answer = tokio::select! {
            answer = rx => answer.map_err(|_| AskError::Gone)?,
            () = self.cancelled() => {
                self.shared.forget_client(&session, &id);
                return Err(AskError::Gone);
            }
        };
        if let Some(result) = answer.result_as::<Value>() {
            return result.map_err(|_| AskError::Gone);
        }
        Err(AskError::Rejected {
            code: answer.error_code().map_or(0, |c| c.0),
            message: answer.error_message().unwrap_or_default().to_owned(),
        })
    }
}
