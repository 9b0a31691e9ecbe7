//! Resources: `resources/list`, `resources/templates/list`, `resources/read` (2025-11-25 and
//! 2026-07-28) and `resources/subscribe|unsubscribe` (2025-11-25 only).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::{opt_cow, opt_map};
use super::{
    Annotations, CacheScope, EmptyResult, Icon, Json, MaybeInputRequired, PaginatedRequestParams,
    Resource, ResourceContents, ResultType, method,
};

/// `ListResourcesResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResourcesResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// The resources.
    #[serde(borrow)]
    pub resources: Vec<Resource<'a>>,
    /// Cursor of the next page; absent = last page.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cow<'a, str>>,
    /// Freshness in milliseconds (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// Cache scope (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ResourceTemplate`: a family of resources described by an RFC 6570 URI template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate<'a> {
    /// RFC 6570 URI template.
    #[serde(borrow)]
    pub uri_template: Cow<'a, str>,
    /// Programmatic name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Display name (2025-06-18+).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<Cow<'a, str>>,
    /// Description.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    /// MIME type of every matching resource, if they share one.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub mime_type: Option<Cow<'a, str>>,
    /// Icons (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon<'a>>>,
    /// Annotations.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ListResourceTemplatesResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResourceTemplatesResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// The templates.
    #[serde(borrow)]
    pub resource_templates: Vec<ResourceTemplate<'a>>,
    /// Cursor of the next page; absent = last page.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cow<'a, str>>,
    /// Freshness in milliseconds (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// Cache scope (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ReadResourceRequestParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadResourceRequestParams<'a> {
    /// URI of the resource.
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
    /// MRTR answers by input-request key (2026-07-28), raw.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_responses: Option<BTreeMap<Cow<'a, str>, Json<'a>>>,
    /// MRTR state echoed from the `InputRequiredResult` (2026-07-28).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_state: Option<Cow<'a, str>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ReadResourceResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadResourceResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// The contents (several for e.g. a directory).
    #[serde(borrow)]
    pub contents: Vec<ResourceContents<'a>>,
    /// Freshness in milliseconds (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// Cache scope (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ResourceRequestParams` / `SubscribeRequestParams` / `UnsubscribeRequestParams`: a `uri`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequestParams<'a> {
    /// URI of the resource.
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

request_marker! {
    /// `resources/list` (all versions; paginated, cacheable in 2026-07-28).
    ListResources = method::RESOURCES_LIST,
        <'a> PaginatedRequestParams<'a> => ListResourcesResult<'a>;
    /// `resources/templates/list` (all versions; paginated, cacheable in 2026-07-28).
    ListResourceTemplates = method::RESOURCES_TEMPLATES_LIST,
        <'a> PaginatedRequestParams<'a> => ListResourceTemplatesResult<'a>;
    /// `resources/read` (all versions; 2026-07-28 may answer `InputRequiredResult`).
    ReadResource = method::RESOURCES_READ,
        <'a> ReadResourceRequestParams<'a> => MaybeInputRequired<'a, ReadResourceResult<'a>>;
    /// `resources/subscribe` (2025-11-25; 2026-07-28 uses `subscriptions/listen`).
    Subscribe = method::RESOURCES_SUBSCRIBE, <'a> ResourceRequestParams<'a> => EmptyResult<'a>;
    /// `resources/unsubscribe` (2025-11-25; removed in 2026-07-28).
    Unsubscribe = method::RESOURCES_UNSUBSCRIBE,
        <'a> ResourceRequestParams<'a> => EmptyResult<'a>;
}
