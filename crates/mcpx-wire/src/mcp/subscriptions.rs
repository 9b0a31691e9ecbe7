//! Subscriptions (2026-07-28 only): `subscriptions/listen` and
//! `notifications/subscriptions/acknowledged`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::de::opt_vec_cow;
use super::{Json, ResultType, method};

/// `SubscriptionFilter`: which notifications a listen stream carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter<'a> {
    /// `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_list_changed: Option<bool>,
    /// `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_list_changed: Option<bool>,
    /// `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_list_changed: Option<bool>,
    /// URIs to receive `notifications/resources/updated` for.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_vec_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_subscriptions: Option<Vec<Cow<'a, str>>>,
}

/// `SubscriptionsListenRequestParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionsListenRequestParams<'a> {
    /// Requested notifications.
    #[serde(borrow)]
    pub notifications: SubscriptionFilter<'a>,
    /// `_meta` (required keys, see [`RequestMeta`](super::RequestMeta)).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `SubscriptionsListenResult`: sent only when the server ends the subscription gracefully.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsListenResult<'a> {
    /// `resultType` (`"complete"`).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// `_meta` with `io.modelcontextprotocol/subscriptionId` (required by the schema, see
    /// [`ResultMeta`](super::ResultMeta)).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `SubscriptionsAcknowledgedNotificationParams`: first message of each subscription.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionsAcknowledgedNotificationParams<'a> {
    /// The subset of the requested notifications the server will honour.
    #[serde(borrow)]
    pub notifications: SubscriptionFilter<'a>,
    /// `_meta` with `io.modelcontextprotocol/subscriptionId` (see
    /// [`NotificationMeta`](super::NotificationMeta)).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

request_marker! {
    /// `subscriptions/listen` (2026-07-28): a long-lived request carrying notifications.
    SubscriptionsListen = method::SUBSCRIPTIONS_LISTEN,
        <'a> SubscriptionsListenRequestParams<'a> => SubscriptionsListenResult<'a>;
}

notification_marker! {
    /// `notifications/subscriptions/acknowledged` (2026-07-28).
    SubscriptionsAcknowledged = method::NOTIFICATIONS_SUBSCRIPTIONS_ACKNOWLEDGED,
        <'a> SubscriptionsAcknowledgedNotificationParams<'a>;
}
