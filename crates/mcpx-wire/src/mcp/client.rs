//! Client features the server asks for: `sampling/createMessage`, `elicitation/create`,
//! `roots/list` (2025-11-25 JSON-RPC requests; 2026-07-28 MRTR input requests) and
//! `notifications/elicitation/complete` (2025-11-25 only).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::de::{opt_cow, opt_vec_cow};
use super::{Json, RequestParams, Role, SamplingContent, TaskMetadata, Tool, method};

// ---------------------------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------------------------

/// `SamplingMessage`: one message of a sampling conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingMessage<'a> {
    /// Sender.
    #[serde(borrow)]
    pub role: Role<'a>,
    /// One block or (2025-11-25+) an array of blocks.
    #[serde(borrow)]
    pub content: SamplingContent<'a>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ModelHint`: a model name hint (substring match, may be mapped by the client).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelHint<'a> {
    /// Model name or family, e.g. `claude-3-5-sonnet`.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Cow<'a, str>>,
}

/// `ModelPreferences`: advisory model selection priorities (each 0..1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelPreferences<'a> {
    /// Hints in order of preference.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Vec<ModelHint<'a>>>,
    /// Weight of cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_priority: Option<f64>,
    /// Weight of latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_priority: Option<f64>,
    /// Weight of capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intelligence_priority: Option<f64>,
}

open_enum! {
    /// `CreateMessageRequestParams.includeContext` (the last two are soft-deprecated).
    pub enum IncludeContext<'a> {
        /// `"none"`.
        None = "none",
        /// `"thisServer"`.
        ThisServer = "thisServer",
        /// `"allServers"`.
        AllServers = "allServers",
    }
}

open_enum! {
    /// `ToolChoice.mode` (2025-11-25+).
    pub enum ToolChoiceMode<'a> {
        /// `"auto"`: the model decides.
        Auto = "auto",
        /// `"required"`: the model must use a tool.
        Required = "required",
        /// `"none"`: the model must not use tools.
        None = "none",
    }
}

/// `ToolChoice` (2025-11-25+).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolChoice<'a> {
    /// How the model may use tools (default auto).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ToolChoiceMode<'a>>,
}

/// `CreateMessageRequestParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageRequestParams<'a> {
    /// The conversation.
    #[serde(borrow)]
    pub messages: Vec<SamplingMessage<'a>>,
    /// Model selection preferences.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub model_preferences: Option<ModelPreferences<'a>>,
    /// System prompt.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_prompt: Option<Cow<'a, str>>,
    /// Context from MCP servers to include.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub include_context: Option<IncludeContext<'a>>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Maximum number of tokens to sample (required).
    pub max_tokens: i64,
    /// Stop sequences.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_vec_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_sequences: Option<Vec<Cow<'a, str>>>,
    /// Provider-specific metadata, raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Json<'a>>,
    /// Tools the model may use (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    /// How the model may use tools (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    /// Task augmentation (2025-11-25 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// `_meta` (2025-11-25; absent from 2026-07-28 input requests).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

open_enum! {
    /// `CreateMessageResult.stopReason` (open: providers add their own).
    pub enum StopReason<'a> {
        /// `"endTurn"`.
        EndTurn = "endTurn",
        /// `"stopSequence"`.
        StopSequence = "stopSequence",
        /// `"maxTokens"`.
        MaxTokens = "maxTokens",
        /// `"toolUse"` (2025-11-25+).
        ToolUse = "toolUse",
    }
}

/// `CreateMessageResult`: the sampled message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageResult<'a> {
    /// Sender (normally assistant).
    #[serde(borrow)]
    pub role: Role<'a>,
    /// One block or (2025-11-25+) an array of blocks.
    #[serde(borrow)]
    pub content: SamplingContent<'a>,
    /// Model that produced it.
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    /// Why sampling stopped.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Elicitation
// ---------------------------------------------------------------------------------------------

open_enum! {
    /// `ElicitRequestParams.mode` (2025-11-25+; absent = form).
    pub enum ElicitationMode<'a> {
        /// `"form"`: in-band structured data.
        Form = "form",
        /// `"url"`: out-of-band interaction at a URL.
        Url = "url",
    }
}

/// `ElicitRequestFormParams | ElicitRequestURLParams`, as one struct with the union of fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElicitRequestParams<'a> {
    /// Mode (absent = form).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ElicitationMode<'a>>,
    /// Message to present to the user.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// Form mode: restricted JSON Schema of the requested object (flat primitives), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub requested_schema: Option<Json<'a>>,
    /// URL mode: the URL to open.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<Cow<'a, str>>,
    /// URL mode: id of the elicitation (2025-11-25 only).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub elicitation_id: Option<Cow<'a, str>>,
    /// Task augmentation (2025-11-25 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// `_meta` (2025-11-25; absent from 2026-07-28 input requests).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

impl ElicitRequestParams<'_> {
    /// Whether this is a URL-mode elicitation.
    pub fn is_url_mode(&self) -> bool {
        matches!(self.mode, Some(ElicitationMode::Url))
    }
}

open_enum! {
    /// `ElicitResult.action`.
    pub enum ElicitAction<'a> {
        /// `"accept"`: the user submitted.
        Accept = "accept",
        /// `"decline"`: the user explicitly declined.
        Decline = "decline",
        /// `"cancel"`: dismissed without a choice.
        Cancel = "cancel",
    }
}

/// `ElicitResult`: the user's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElicitResult<'a> {
    /// What the user did.
    #[serde(borrow)]
    pub action: ElicitAction<'a>,
    /// Submitted form data (accept + form mode only): `{[k]: string|number|boolean|string[]}`,
    /// raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub content: Option<Json<'a>>,
    /// `_meta` (2025-11-25).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `notifications/elicitation/complete` params (2025-11-25 only): a URL-mode elicitation ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElicitationCompleteNotificationParams<'a> {
    /// Id of the finished elicitation.
    #[serde(borrow)]
    pub elicitation_id: Cow<'a, str>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Roots
// ---------------------------------------------------------------------------------------------

/// `Root`: a directory or file the server may operate on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Root<'a> {
    /// URI (`file://` for now).
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
    /// Display name.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Cow<'a, str>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ListRootsResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListRootsResult<'a> {
    /// The roots.
    #[serde(borrow)]
    pub roots: Vec<Root<'a>>,
    /// `_meta` (2025-11-25).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

request_marker! {
    /// `sampling/createMessage` (server -> client; 2026-07-28: deprecated MRTR input request).
    CreateMessage = method::SAMPLING_CREATE_MESSAGE,
        <'a> CreateMessageRequestParams<'a> => CreateMessageResult<'a>;
    /// `elicitation/create` (server -> client, 2025-06-18+; 2026-07-28: MRTR input request).
    Elicit = method::ELICITATION_CREATE, <'a> ElicitRequestParams<'a> => ElicitResult<'a>;
    /// `roots/list` (server -> client; 2026-07-28: deprecated MRTR input request).
    ListRoots = method::ROOTS_LIST, <'a> RequestParams<'a> => ListRootsResult<'a>;
}

notification_marker! {
    /// `notifications/elicitation/complete` (2025-11-25 only).
    ElicitationComplete = method::NOTIFICATIONS_ELICITATION_COMPLETE,
        <'a> ElicitationCompleteNotificationParams<'a>;
}
