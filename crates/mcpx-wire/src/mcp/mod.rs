//! Typed, borrowing views of MCP params and results for 2025-11-25 and 2026-07-28.
//!
//! The codec hands out `params` and `result` as raw JSON bytes; the types here deserialize from
//! those bytes on demand with `serde_json::from_slice` and borrow from them: strings are
//! `Cow<'a, str>` (borrowed unless the JSON string has escapes) and free-form members (tool
//! `arguments`, `inputSchema`, `structuredContent`, `_meta`, capability objects, ...) are
//! [`Json`], the untouched input text. Every type also implements `Serialize`, so a server can
//! encode it with `serde_json::to_writer`.
//!
//! # Pass-through
//!
//! Nothing here rejects what it does not know:
//!
//! - unknown **fields** are ignored by the typed view (no `deny_unknown_fields` anywhere) and
//!   stay intact in the raw bytes, which is what a proxy forwards;
//! - unknown **methods** have no view: [`deserialize_params_by_method`] answers `Ok(false)` and
//!   the message is forwarded raw;
//! - unknown **enum values** (`role`, logging level, `resultType`, ...) land in an `Unknown`
//!   variant and unknown **content types** in [`ContentBlock::Unknown`] with the whole object,
//!   so a newer peer never fails a result.
//!
//! # Versions
//!
//! One struct serves both versions with the union of their fields, the version-specific ones as
//! `Option`s; each item's doc says which version it belongs to. 2025-11-25 only: `initialize`,
//! `notifications/initialized`, `ping`, `logging/setLevel`, `resources/subscribe|unsubscribe`,
//! `notifications/roots/list_changed`, `notifications/elicitation/complete`, tasks fields.
//! 2026-07-28 only: `server/discover`, `subscriptions/listen`, `resultType`, `ttlMs`,
//! `cacheScope`, the per-request `_meta` keys ([`RequestMeta`]) and MRTR
//! ([`MaybeInputRequired`], `inputResponses`, `requestState`).
//!
//! # Example
//!
//! ```
//! use std::borrow::Cow;
//! use mcpx_wire::mcp::{CallTool, ProgressToken, Request, RequestMeta};
//!
//! let params = br#"{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":4}}"#;
//! let call: <CallTool as Request>::Params<'_> = serde_json::from_slice(params)?;
//! assert!(matches!(call.name, Cow::Borrowed("echo")));
//! assert_eq!(call.arguments.map(|a| a.get()), Some(r#"{"text":"hi"}"#));
//! let meta = RequestMeta::from_meta(call.meta)?;
//! assert_eq!(meta.progress_token, Some(ProgressToken::Int(4)));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Typed views need serde_json's deserializer (`from_slice`/`from_str`): [`Json`] and the
//! tagged enums capture raw text, which other deserializers (e.g. `serde_json::Value`) cannot
//! provide. Deserializing allocates only for `Vec`s, maps and strings with escapes.

#![allow(
    clippy::exhaustive_structs,
    reason = "schema mirrors: users build them with struct literals"
)]

#[macro_use]
mod macros;

mod client;
mod common;
mod completion;
mod de;
mod lifecycle;
mod logging;
mod notifications;
mod prompts;
mod resources;
mod subscriptions;
mod tools;

pub use client::*;
pub use common::*;
pub use completion::*;
pub use lifecycle::*;
pub use logging::*;
pub use notifications::*;
pub use prompts::*;
pub use resources::*;
pub use subscriptions::*;
pub use tools::*;

/// A request method: its name and the typed views of its params and result.
///
/// Implemented by uninhabited marker types ([`Initialize`], [`CallTool`], ...). Params that the
/// schema makes optional (`ping`, the `*/list` requests) have all-optional fields: use
/// `Default::default()` when the message has no `params`.
pub trait Request {
    /// The method name, e.g. `tools/call`.
    const METHOD: &'static str;
    /// The typed params, borrowing from the input.
    type Params<'a>: serde::Deserialize<'a> + serde::Serialize;
    /// The typed result, borrowing from the input.
    type Result<'a>: serde::Deserialize<'a> + serde::Serialize;
}

/// A notification method: its name and the typed view of its params.
pub trait Notification {
    /// The method name, e.g. `notifications/progress`.
    const METHOD: &'static str;
    /// The typed params, borrowing from the input (absent params = `Default::default()` where
    /// the schema makes them optional).
    type Params<'a>: serde::Deserialize<'a> + serde::Serialize;
}

/// Method names of every request and notification with a typed view.
pub mod method {
    /// `initialize` (2025-11-25).
    pub const INITIALIZE: &str = "initialize";
    /// `ping` (2025-11-25).
    pub const PING: &str = "ping";
    /// `server/discover` (2026-07-28).
    pub const SERVER_DISCOVER: &str = "server/discover";
    /// `tools/list`.
    pub const TOOLS_LIST: &str = "tools/list";
    /// `tools/call`.
    pub const TOOLS_CALL: &str = "tools/call";
    /// `resources/list`.
    pub const RESOURCES_LIST: &str = "resources/list";
    /// `resources/templates/list`.
    pub const RESOURCES_TEMPLATES_LIST: &str = "resources/templates/list";
    /// `resources/read`.
    pub const RESOURCES_READ: &str = "resources/read";
    /// `resources/subscribe` (2025-11-25).
    pub const RESOURCES_SUBSCRIBE: &str = "resources/subscribe";
    /// `resources/unsubscribe` (2025-11-25).
    pub const RESOURCES_UNSUBSCRIBE: &str = "resources/unsubscribe";
    /// `prompts/list`.
    pub const PROMPTS_LIST: &str = "prompts/list";
    /// `prompts/get`.
    pub const PROMPTS_GET: &str = "prompts/get";
    /// `completion/complete`.
    pub const COMPLETION_COMPLETE: &str = "completion/complete";
    /// `logging/setLevel` (2025-11-25).
    pub const LOGGING_SET_LEVEL: &str = "logging/setLevel";
    /// `subscriptions/listen` (2026-07-28).
    pub const SUBSCRIPTIONS_LISTEN: &str = "subscriptions/listen";
    /// `sampling/createMessage` (server -> client).
    pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
    /// `elicitation/create` (server -> client).
    pub const ELICITATION_CREATE: &str = "elicitation/create";
    /// `roots/list` (server -> client).
    pub const ROOTS_LIST: &str = "roots/list";

    /// `notifications/initialized` (2025-11-25).
    pub const NOTIFICATIONS_INITIALIZED: &str = "notifications/initialized";
    /// `notifications/progress`.
    pub const NOTIFICATIONS_PROGRESS: &str = "notifications/progress";
    /// `notifications/cancelled`.
    pub const NOTIFICATIONS_CANCELLED: &str = "notifications/cancelled";
    /// `notifications/message`.
    pub const NOTIFICATIONS_MESSAGE: &str = "notifications/message";
    /// `notifications/tools/list_changed`.
    pub const NOTIFICATIONS_TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
    /// `notifications/resources/list_changed`.
    pub const NOTIFICATIONS_RESOURCES_LIST_CHANGED: &str = "notifications/resources/list_changed";
    /// `notifications/prompts/list_changed`.
    pub const NOTIFICATIONS_PROMPTS_LIST_CHANGED: &str = "notifications/prompts/list_changed";
    /// `notifications/roots/list_changed` (2025-11-25).
    pub const NOTIFICATIONS_ROOTS_LIST_CHANGED: &str = "notifications/roots/list_changed";
    /// `notifications/resources/updated`.
    pub const NOTIFICATIONS_RESOURCES_UPDATED: &str = "notifications/resources/updated";
    /// `notifications/subscriptions/acknowledged` (2026-07-28).
    pub const NOTIFICATIONS_SUBSCRIPTIONS_ACKNOWLEDGED: &str =
        "notifications/subscriptions/acknowledged";
    /// `notifications/elicitation/complete` (2025-11-25).
    pub const NOTIFICATIONS_ELICITATION_COMPLETE: &str = "notifications/elicitation/complete";

    /// Every request method above.
    pub const REQUESTS: &[&str] = &[
        INITIALIZE,
        PING,
        SERVER_DISCOVER,
        TOOLS_LIST,
        TOOLS_CALL,
        RESOURCES_LIST,
        RESOURCES_TEMPLATES_LIST,
        RESOURCES_READ,
        RESOURCES_SUBSCRIBE,
        RESOURCES_UNSUBSCRIBE,
        PROMPTS_LIST,
        PROMPTS_GET,
        COMPLETION_COMPLETE,
        LOGGING_SET_LEVEL,
        SUBSCRIPTIONS_LISTEN,
        SAMPLING_CREATE_MESSAGE,
        ELICITATION_CREATE,
        ROOTS_LIST,
    ];

    /// Every notification method above.
    pub const NOTIFICATIONS: &[&str] = &[
        NOTIFICATIONS_INITIALIZED,
        NOTIFICATIONS_PROGRESS,
        NOTIFICATIONS_CANCELLED,
        NOTIFICATIONS_MESSAGE,
        NOTIFICATIONS_TOOLS_LIST_CHANGED,
        NOTIFICATIONS_RESOURCES_LIST_CHANGED,
        NOTIFICATIONS_PROMPTS_LIST_CHANGED,
        NOTIFICATIONS_ROOTS_LIST_CHANGED,
        NOTIFICATIONS_RESOURCES_UPDATED,
        NOTIFICATIONS_SUBSCRIPTIONS_ACKNOWLEDGED,
        NOTIFICATIONS_ELICITATION_COMPLETE,
    ];
}

fn check_request_params<R: Request>(bytes: &[u8]) -> Result<bool, serde_json::Error> {
    serde_json::from_slice::<R::Params<'_>>(bytes).map(|_| true)
}

fn check_request_result<R: Request>(bytes: &[u8]) -> Result<bool, serde_json::Error> {
    serde_json::from_slice::<R::Result<'_>>(bytes).map(|_| true)
}

fn check_notification_params<N: Notification>(bytes: &[u8]) -> Result<bool, serde_json::Error> {
    serde_json::from_slice::<N::Params<'_>>(bytes).map(|_| true)
}

/// Fuzzing and test hook: deserializes `params` (the JSON text of a request's or notification's
/// `params`) into the typed view for `method`.
///
/// `Ok(false)`: the method has no typed view, nothing was checked. `Ok(true)`: `params`
/// deserialized. `Err`: it did not. Never panics, whatever the bytes.
#[doc(hidden)]
pub fn deserialize_params_by_method(
    method: &str,
    params: &[u8],
) -> Result<bool, serde_json::Error> {
    use self::method as m;
    match method {
        m::INITIALIZE => check_request_params::<Initialize>(params),
        m::PING => check_request_params::<Ping>(params),
        m::SERVER_DISCOVER => check_request_params::<Discover>(params),
        m::TOOLS_LIST => check_request_params::<ListTools>(params),
        m::TOOLS_CALL => check_request_params::<CallTool>(params),
        m::RESOURCES_LIST => check_request_params::<ListResources>(params),
        m::RESOURCES_TEMPLATES_LIST => check_request_params::<ListResourceTemplates>(params),
        m::RESOURCES_READ => check_request_params::<ReadResource>(params),
        m::RESOURCES_SUBSCRIBE => check_request_params::<Subscribe>(params),
        m::RESOURCES_UNSUBSCRIBE => check_request_params::<Unsubscribe>(params),
        m::PROMPTS_LIST => check_request_params::<ListPrompts>(params),
        m::PROMPTS_GET => check_request_params::<GetPrompt>(params),
        m::COMPLETION_COMPLETE => check_request_params::<Complete>(params),
        m::LOGGING_SET_LEVEL => check_request_params::<SetLevel>(params),
        m::SUBSCRIPTIONS_LISTEN => check_request_params::<SubscriptionsListen>(params),
        m::SAMPLING_CREATE_MESSAGE => check_request_params::<CreateMessage>(params),
        m::ELICITATION_CREATE => check_request_params::<Elicit>(params),
        m::ROOTS_LIST => check_request_params::<ListRoots>(params),
        m::NOTIFICATIONS_INITIALIZED => check_notification_params::<Initialized>(params),
        m::NOTIFICATIONS_PROGRESS => check_notification_params::<Progress>(params),
        m::NOTIFICATIONS_CANCELLED => check_notification_params::<Cancelled>(params),
        m::NOTIFICATIONS_MESSAGE => check_notification_params::<LoggingMessage>(params),
        m::NOTIFICATIONS_TOOLS_LIST_CHANGED => {
            check_notification_params::<ToolsListChanged>(params)
        }
        m::NOTIFICATIONS_RESOURCES_LIST_CHANGED => {
            check_notification_params::<ResourcesListChanged>(params)
        }
        m::NOTIFICATIONS_PROMPTS_LIST_CHANGED => {
            check_notification_params::<PromptsListChanged>(params)
        }
        m::NOTIFICATIONS_ROOTS_LIST_CHANGED => {
            check_notification_params::<RootsListChanged>(params)
        }
        m::NOTIFICATIONS_RESOURCES_UPDATED => check_notification_params::<ResourceUpdated>(params),
        m::NOTIFICATIONS_SUBSCRIPTIONS_ACKNOWLEDGED => {
            check_notification_params::<SubscriptionsAcknowledged>(params)
        }
        m::NOTIFICATIONS_ELICITATION_COMPLETE => {
            check_notification_params::<ElicitationComplete>(params)
        }
        _ => Ok(false),
    }
}

/// Fuzzing and test hook: deserializes `result` (the JSON text of a response's `result`) into
/// the typed result of request `method`.
///
/// `Ok(false)`: no typed result for `method` (unknown, or a notification). `Ok(true)`:
/// `result` deserialized. `Err`: it did not. Never panics, whatever the bytes.
#[doc(hidden)]
pub fn deserialize_result_by_method(
    method: &str,
    result: &[u8],
) -> Result<bool, serde_json::Error> {
    use self::method as m;
    match method {
        m::INITIALIZE => check_request_result::<Initialize>(result),
        m::PING => check_request_result::<Ping>(result),
        m::SERVER_DISCOVER => check_request_result::<Discover>(result),
        m::TOOLS_LIST => check_request_result::<ListTools>(result),
        m::TOOLS_CALL => check_request_result::<CallTool>(result),
        m::RESOURCES_LIST => check_request_result::<ListResources>(result),
        m::RESOURCES_TEMPLATES_LIST => check_request_result::<ListResourceTemplates>(result),
        m::RESOURCES_READ => check_request_result::<ReadResource>(result),
        m::RESOURCES_SUBSCRIBE => check_request_result::<Subscribe>(result),
        m::RESOURCES_UNSUBSCRIBE => check_request_result::<Unsubscribe>(result),
        m::PROMPTS_LIST => check_request_result::<ListPrompts>(result),
        m::PROMPTS_GET => check_request_result::<GetPrompt>(result),
        m::COMPLETION_COMPLETE => check_request_result::<Complete>(result),
        m::LOGGING_SET_LEVEL => check_request_result::<SetLevel>(result),
        m::SUBSCRIPTIONS_LISTEN => check_request_result::<SubscriptionsListen>(result),
        m::SAMPLING_CREATE_MESSAGE => check_request_result::<CreateMessage>(result),
        m::ELICITATION_CREATE => check_request_result::<Elicit>(result),
        m::ROOTS_LIST => check_request_result::<ListRoots>(result),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_method_is_dispatched() {
        for m in method::REQUESTS {
            // `{}` may or may not satisfy the params, but the method must be known.
            let known = deserialize_params_by_method(m, b"{}").map_or(true, |b| b);
            assert!(known, "{m} not dispatched");
            assert!(deserialize_result_by_method(m, b"[").is_err(), "{m}");
        }
        for m in method::NOTIFICATIONS {
            assert!(deserialize_params_by_method(m, b"[").is_err(), "{m}");
            assert!(!deserialize_result_by_method(m, b"{}").unwrap());
        }
    }

    #[test]
    fn method_consts_match_markers() {
        assert_eq!(<CallTool as Request>::METHOD, "tools/call");
        assert_eq!(
            <ToolsListChanged as Notification>::METHOD,
            "notifications/tools/list_changed"
        );
        assert_eq!(method::REQUESTS.len(), 18);
        assert_eq!(method::NOTIFICATIONS.len(), 11);
    }
}
