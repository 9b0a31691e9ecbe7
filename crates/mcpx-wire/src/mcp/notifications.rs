//! Notifications: `progress`, `cancelled`, `message`, `*/list_changed` and
//! `resources/updated` (2025-11-25 and 2026-07-28; `roots/list_changed` 2025-11-25 only).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::de::opt_cow;
use super::{Json, LoggingLevel, NotificationParams, ProgressToken, RequestIdRef, method};

/// `ProgressNotificationParams`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressNotificationParams<'a> {
    /// The token from the request's `_meta.progressToken`.
    #[serde(borrow)]
    pub progress_token: ProgressToken<'a>,
    /// Progress so far; increases with every notification (may be fractional).
    pub progress: f64,
    /// Total, if known (may be fractional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// Human-readable progress message (2025-03-26+).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<Cow<'a, str>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `CancelledNotificationParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelledNotificationParams<'a> {
    /// Id of the request to cancel (optional in 2025-11-25, required in 2026-07-28; in 2026
    /// server -> client it is the `subscriptions/listen` id being ended).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestIdRef<'a>>,
    /// Reason, for logging or display.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<Cow<'a, str>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `LoggingMessageNotificationParams` (deprecated in 2026-07-28).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggingMessageNotificationParams<'a> {
    /// Severity.
    #[serde(borrow)]
    pub level: LoggingLevel<'a>,
    /// Name of the logger.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub logger: Option<Cow<'a, str>>,
    /// Any JSON value, raw.
    #[serde(borrow)]
    pub data: Json<'a>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ResourceUpdatedNotificationParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUpdatedNotificationParams<'a> {
    /// URI of the updated resource (may be a sub-resource of the subscribed one).
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
    /// `_meta` (2026-07-28: `io.modelcontextprotocol/subscriptionId`).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

notification_marker! {
    /// `notifications/progress` (2025-11-25 either direction; 2026-07-28 server -> client).
    Progress = method::NOTIFICATIONS_PROGRESS, <'a> ProgressNotificationParams<'a>;
    /// `notifications/cancelled` (all versions).
    Cancelled = method::NOTIFICATIONS_CANCELLED, <'a> CancelledNotificationParams<'a>;
    /// `notifications/message` (server -> client; deprecated in 2026-07-28).
    LoggingMessage = method::NOTIFICATIONS_MESSAGE, <'a> LoggingMessageNotificationParams<'a>;
    /// `notifications/tools/list_changed` (all versions).
    ToolsListChanged = method::NOTIFICATIONS_TOOLS_LIST_CHANGED, <'a> NotificationParams<'a>;
    /// `notifications/resources/list_changed` (all versions).
    ResourcesListChanged = method::NOTIFICATIONS_RESOURCES_LIST_CHANGED,
        <'a> NotificationParams<'a>;
    /// `notifications/prompts/list_changed` (all versions).
    PromptsListChanged = method::NOTIFICATIONS_PROMPTS_LIST_CHANGED, <'a> NotificationParams<'a>;
    /// `notifications/roots/list_changed` (client -> server, 2025-11-25; removed in 2026-07-28).
    RootsListChanged = method::NOTIFICATIONS_ROOTS_LIST_CHANGED, <'a> NotificationParams<'a>;
    /// `notifications/resources/updated` (all versions).
    ResourceUpdated = method::NOTIFICATIONS_RESOURCES_UPDATED,
        <'a> ResourceUpdatedNotificationParams<'a>;
}
