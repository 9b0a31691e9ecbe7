//! Completion: `completion/complete` (2025-11-25 and 2026-07-28).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::{opt_cow, opt_map_cow, vec_cow};
use super::{Json, ResultType, method};

/// `PromptReference` (`"type": "ref/prompt"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptReference<'a> {
    /// Prompt name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Display name.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<Cow<'a, str>>,
}

/// `ResourceTemplateReference` (`"type": "ref/resource"`; `ResourceReference` before 2025-06-18).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTemplateReference<'a> {
    /// URI or URI template.
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
}

tagged_enum! {
    /// `CompleteRequestParams.ref`: what is being completed, tagged by `type`.
    pub enum CompletionReference<'a> tag "type" {
        /// `"ref/prompt"`.
        Prompt(PromptReference<'a>) = "ref/prompt",
        /// `"ref/resource"`.
        Resource(ResourceTemplateReference<'a>) = "ref/resource",
    }
}

/// `CompleteRequestParams.argument`: the argument being completed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionArgument<'a> {
    /// Argument name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Value typed so far.
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

/// `CompleteRequestParams.context` (2025-06-18+).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionContext<'a> {
    /// Arguments already resolved.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_map_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub arguments: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

/// `CompleteRequestParams`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompleteRequestParams<'a> {
    /// The prompt or resource template.
    #[serde(rename = "ref", borrow)]
    pub reference: CompletionReference<'a>,
    /// The argument.
    #[serde(borrow)]
    pub argument: CompletionArgument<'a>,
    /// Additional context.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub context: Option<CompletionContext<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `CompleteResult.completion`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion<'a> {
    /// Completion values (at most 100).
    #[serde(borrow, deserialize_with = "vec_cow")]
    pub values: Vec<Cow<'a, str>>,
    /// Total number of options available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Whether more options exist beyond `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// `CompleteResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// The completion.
    #[serde(borrow)]
    pub completion: Completion<'a>,
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
    /// `completion/complete` (all versions; `completions` capability).
    Complete = method::COMPLETION_COMPLETE, <'a> CompleteRequestParams<'a> => CompleteResult<'a>;
}
