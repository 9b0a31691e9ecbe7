//! Tools: `tools/list` and `tools/call` (2025-11-25 and 2026-07-28, incl. 2026 MRTR fields).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::{opt_cow, opt_map};
use super::{
    CacheScope, ContentBlock, Icon, Json, MaybeInputRequired, PaginatedRequestParams, ResultType,
    TaskMetadata, method,
};

/// `Tool`: a tool the client can call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    /// Programmatic name (SHOULD be 1..128 of `[A-Za-z0-9_.-]`).
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
    /// Human-readable description, a hint to the model.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    /// JSON Schema of the arguments (root `type: "object"`), raw.
    #[serde(borrow)]
    pub input_schema: Json<'a>,
    /// JSON Schema of `structuredContent` (2025-06-18+; 2026-07-28: any schema), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Json<'a>>,
    /// Behaviour hints (2025-03-26+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations<'a>>,
    /// Icons (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon<'a>>>,
    /// Execution properties (2025-11-25 only; tasks).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub execution: Option<ToolExecution<'a>>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ToolAnnotations` (2025-03-26+): untrusted hints about a tool's behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations<'a> {
    /// Display name.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<Cow<'a, str>>,
    /// Does not modify its environment (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// May perform destructive updates (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Repeated calls with the same arguments have no extra effect (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// Interacts with an open world of external entities (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

/// `ToolExecution` (2025-11-25 only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolExecution<'a> {
    /// Whether the tool supports task-augmented execution (default forbidden).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub task_support: Option<TaskSupport<'a>>,
}

open_enum! {
    /// `ToolExecution.taskSupport` (2025-11-25 only).
    pub enum TaskSupport<'a> {
        /// `"forbidden"`.
        Forbidden = "forbidden",
        /// `"optional"`.
        Optional = "optional",
        /// `"required"`.
        Required = "required",
    }
}

/// `ListToolsResult`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListToolsResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// The tools.
    #[serde(borrow)]
    pub tools: Vec<Tool<'a>>,
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

/// `CallToolRequestParams`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolRequestParams<'a> {
    /// Tool name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Arguments (an object), raw: validate against the tool's `inputSchema`.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Json<'a>>,
    /// Task augmentation (2025-11-25 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// MRTR answers by input-request key (2026-07-28), raw: an `ElicitResult`,
    /// `CreateMessageResult` or `ListRootsResult` each.
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
    /// `_meta` (`progressToken`; 2026-07-28 required keys, see
    /// [`RequestMeta`](super::RequestMeta)).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `CallToolResult`. Tool failures are results with `isError: true`, not JSON-RPC errors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolResult<'a> {
    /// `resultType` (2026-07-28).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// Unstructured result.
    #[serde(borrow)]
    pub content: Vec<ContentBlock<'a>>,
    /// Structured result (2025-11-25: object; 2026-07-28: any JSON), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Json<'a>>,
    /// Whether the call failed (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
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
    /// `tools/list` (all versions; paginated, cacheable in 2026-07-28).
    ListTools = method::TOOLS_LIST, <'a> PaginatedRequestParams<'a> => ListToolsResult<'a>;
    /// `tools/call` (all versions; 2026-07-28 may answer `InputRequiredResult`).
    CallTool = method::TOOLS_CALL,
        <'a> CallToolRequestParams<'a> => MaybeInputRequired<'a, CallToolResult<'a>>;
}
