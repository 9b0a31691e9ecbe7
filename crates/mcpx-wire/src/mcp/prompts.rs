//! Prompts: `prompts/list` and `prompts/get` (2025-11-25 and 2026-07-28, incl. 2026 MRTR fields).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::{opt_cow, opt_map, opt_map_cow};
use super::{
    CacheScope, ContentBlock, Icon, Json, MaybeInputRequired, PaginatedRequestParams, ResultType,
    Role, method,
};

/// `Prompt`: a prompt or prompt template the server offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt<'a> {
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
    /// What the prompt provides.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    /// Arguments for templating.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Vec<PromptArgument<'a>>>,
    /// Icons (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon<'a>>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `PromptArgument`: an argument a prompt accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptArgument<'a> {
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
    /// Whether the argument must be provided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// `ListPromptsResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPromptsResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// The prompts.
    #[serde(borrow)]
    pub prompts: Vec<Prompt<'a>>,
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

/// `GetPromptRequestParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPromptRequestParams<'a> {
    /// Prompt name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Template arguments (string values).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_map_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub arguments: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
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

/// `PromptMessage`: one message of a prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptMessage<'a> {
    /// Sender.
    #[serde(borrow)]
    pub role: Role<'a>,
    /// Content (one block).
    #[serde(borrow)]
    pub content: ContentBlock<'a>,
}

/// `GetPromptResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPromptResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// Description of the prompt.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    /// The messages.
    #[serde(borrow)]
    pub messages: Vec<PromptMessage<'a>>,
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
    /// `prompts/list` (all versions; paginated, cacheable in 2026-07-28).
    ListPrompts = method::PROMPTS_LIST, <'a> PaginatedRequestParams<'a> => ListPromptsResult<'a>;
    /// `prompts/get` (all versions; 2026-07-28 may answer `InputRequiredResult`).
    GetPrompt = method::PROMPTS_GET,
        <'a> GetPromptRequestParams<'a> => MaybeInputRequired<'a, GetPromptResult<'a>>;
}
