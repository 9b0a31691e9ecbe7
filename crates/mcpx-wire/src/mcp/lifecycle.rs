//! Lifecycle and capabilities: `initialize`, `notifications/initialized`, `ping` (2025-11-25,
//! legacy only) and `server/discover` (2026-07-28), plus client and server capabilities.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::de::{opt_cow, vec_cow};
use super::{CacheScope, EmptyResult, Implementation, Json, RequestParams, ResultType, method};

/// `ClientCapabilities`: what the client supports (2025-11-25: in `initialize`; 2026-07-28: in
/// each request's `_meta["io.modelcontextprotocol/clientCapabilities"]`). Presence = supported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientCapabilities<'a> {
    /// Non-standard experimental capabilities, raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Json<'a>>,
    /// Extensions by prefixed id (2026-07-28), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Json<'a>>,
    /// Roots (2025-11-25 `listChanged?`; 2026-07-28 `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<ListChangedCapability>,
    /// Sampling.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingCapability<'a>>,
    /// Elicitation (2025-06-18+; `{}` alone = form mode only).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub elicitation: Option<ElicitationCapability<'a>>,
    /// Tasks (2025-11-25 only), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Json<'a>>,
}

/// `ClientCapabilities.sampling`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingCapability<'a> {
    /// Context inclusion via `includeContext` (soft-deprecated).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub context: Option<Json<'a>>,
    /// Tool use via `tools` and `toolChoice` (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Json<'a>>,
}

/// `ClientCapabilities.elicitation` (2025-11-25+ sub-keys).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ElicitationCapability<'a> {
    /// Form mode.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub form: Option<Json<'a>>,
    /// URL mode.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub url: Option<Json<'a>>,
}

/// `{ listChanged? }`: capability of a list that can announce changes (tools, prompts, roots).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListChangedCapability {
    /// Whether `notifications/*/list_changed` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
}

/// `ServerCapabilities.resources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesCapability {
    /// Subscriptions to resource updates (2026-07-28: `resourceSubscriptions` on listen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<bool>,
    /// Whether `notifications/resources/list_changed` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
}

/// `ServerCapabilities`: what the server supports (2025-11-25: `InitializeResult`;
/// 2026-07-28: `DiscoverResult`). Presence = supported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCapabilities<'a> {
    /// Non-standard experimental capabilities, raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Json<'a>>,
    /// Extensions by prefixed id (2026-07-28), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Json<'a>>,
    /// Log messages (deprecated in 2026-07-28), raw (`{}`).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Json<'a>>,
    /// Argument autocompletion, raw (`{}`).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub completions: Option<Json<'a>>,
    /// Prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<ListChangedCapability>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesCapability>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ListChangedCapability>,
    /// Tasks (2025-11-25 only), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Json<'a>>,
}

/// `InitializeRequestParams` (2025-11-25; removed in 2026-07-28).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeRequestParams<'a> {
    /// The latest version the client supports.
    #[serde(borrow)]
    pub protocol_version: Cow<'a, str>,
    /// Client capabilities.
    #[serde(borrow)]
    pub capabilities: ClientCapabilities<'a>,
    /// Client name and version.
    #[serde(borrow)]
    pub client_info: Implementation<'a>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `InitializeResult` (2025-11-25; removed in 2026-07-28).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult<'a> {
    /// The version the server wants to use.
    #[serde(borrow)]
    pub protocol_version: Cow<'a, str>,
    /// Server capabilities.
    #[serde(borrow)]
    pub capabilities: ServerCapabilities<'a>,
    /// Server name and version.
    #[serde(borrow)]
    pub server_info: Implementation<'a>,
    /// Usage hints for the model.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub instructions: Option<Cow<'a, str>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `DiscoverResult` (2026-07-28 only): versions, capabilities and instructions, cacheable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverResult<'a> {
    /// `resultType` (`"complete"`; required by the schema, absent tolerated).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// Protocol versions the server supports.
    #[serde(borrow, deserialize_with = "vec_cow")]
    pub supported_versions: Vec<Cow<'a, str>>,
    /// Server capabilities.
    #[serde(borrow)]
    pub capabilities: ServerCapabilities<'a>,
    /// Usage hints for the model.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub instructions: Option<Cow<'a, str>>,
    /// Freshness in milliseconds (absent or negative = 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// Who may reuse the cached result.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope<'a>>,
    /// `_meta` (`io.modelcontextprotocol/serverInfo`, see [`ResultMeta`](super::ResultMeta)).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

request_marker! {
    /// `initialize` (2025-11-25; removed in 2026-07-28).
    Initialize = method::INITIALIZE, <'a> InitializeRequestParams<'a> => InitializeResult<'a>;
    /// `ping` (2025-11-25, either direction; removed in 2026-07-28).
    Ping = method::PING, <'a> RequestParams<'a> => EmptyResult<'a>;
    /// `server/discover` (2026-07-28).
    Discover = method::SERVER_DISCOVER, <'a> RequestParams<'a> => DiscoverResult<'a>;
}

notification_marker! {
    /// `notifications/initialized` (2025-11-25; removed in 2026-07-28).
    Initialized = method::NOTIFICATIONS_INITIALIZED, <'a> super::NotificationParams<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_keep_presence_of_empty_objects() {
        let c: ServerCapabilities<'_> =
            serde_json::from_str(r#"{"logging":{},"tools":{"listChanged":true},"prompts":{}}"#)
                .unwrap();
        assert_eq!(c.logging.map(|j| j.get()), Some("{}"));
        assert_eq!(c.tools.unwrap().list_changed, Some(true));
        assert_eq!(c.prompts, Some(ListChangedCapability::default()));
        assert!(c.resources.is_none());
    }
}
