//! Shapes shared by every family (2025-11-25 and 2026-07-28): raw JSON, ids, `_meta`, paging,
//! implementations, icons, annotations, content blocks, resources and the MRTR result wrapper.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use super::de::{opt_cow, opt_map, opt_vec_cow, peek_str, reparse};
use super::{ClientCapabilities, LoggingLevel};

// ---------------------------------------------------------------------------------------------
// Raw JSON
// ---------------------------------------------------------------------------------------------

/// A borrowed, unparsed JSON value: free-form members such as tool `arguments`, `inputSchema`,
/// `structuredContent`, `_meta` or capability objects.
///
/// It is the exact input text (no allocation, escapes untouched) and serializes back verbatim.
/// Equality and hashing compare that text byte for byte.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json<'a>(#[serde(borrow)] pub &'a RawValue);

impl<'a> Json<'a> {
    /// Validates `json` as one JSON value and borrows it (surrounding whitespace is kept).
    pub fn new(json: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json).map(Json)
    }

    /// The JSON text.
    pub fn get(&self) -> &'a str {
        self.0.get()
    }

    /// The underlying [`RawValue`].
    pub fn as_raw(&self) -> &'a RawValue {
        self.0
    }

    /// Deserializes the value into a typed view, borrowing from the same input.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T, serde_json::Error> {
        reparse(self.0)
    }
}

impl<'a> From<&'a RawValue> for Json<'a> {
    fn from(raw: &'a RawValue) -> Self {
        Json(raw)
    }
}

impl PartialEq for Json<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Json<'_> {}

impl Hash for Json<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.get().hash(state);
    }
}

impl fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json({})", self.get())
    }
}

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

macro_rules! string_or_int {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[allow(clippy::exhaustive_enums, reason = "string | integer is fixed by the schema")]
        pub enum $name<'a> {
            /// An integer (JSON number without fraction or exponent, within `i64`).
            Int(i64),
            /// A string, borrowed when it has no escapes.
            Str(Cow<'a, str>),
        }

        impl Serialize for $name<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    Self::Int(i) => s.serialize_i64(*i),
                    Self::Str(v) => s.serialize_str(v),
                }
            }
        }

        impl<'de: 'a, 'a> Deserialize<'de> for $name<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string or an integer")
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                        Ok($name::Int(v))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                        i64::try_from(v)
                            .map($name::Int)
                            .map_err(|_| E::custom("integer id out of i64 range"))
                    }
                    fn visit_borrowed_str<E: de::Error>(
                        self,
                        v: &'de str,
                    ) -> Result<Self::Value, E> {
                        Ok($name::Str(Cow::Borrowed(v)))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                        Ok($name::Str(Cow::Owned(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                        Ok($name::Str(Cow::Owned(v)))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

string_or_int! {
    /// `ProgressToken` (all versions): string or integer chosen by the requester in
    /// `params._meta.progressToken`, echoed in `notifications/progress`.
    ProgressToken
}

string_or_int! {
    /// A JSON-RPC request id carried *inside* params or `_meta` (`notifications/cancelled`
    /// `requestId`, 2026 `io.modelcontextprotocol/subscriptionId`): string or integer.
    RequestIdRef
}

// ---------------------------------------------------------------------------------------------
// `_meta`
// ---------------------------------------------------------------------------------------------

/// The keys of a request's `params._meta` this crate knows. Parse it from the raw `_meta` with
/// [`RequestMeta::from_meta`]; unknown keys (e.g. `claudecode/toolUseId`) are ignored here and
/// stay in the raw [`Json`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestMeta<'a> {
    /// `progressToken` (all versions): opt-in to `notifications/progress`.
    #[serde(
        rename = "progressToken",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_token: Option<ProgressToken<'a>>,
    /// `io.modelcontextprotocol/protocolVersion` (2026-07-28, required there).
    #[serde(
        rename = "io.modelcontextprotocol/protocolVersion",
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub protocol_version: Option<Cow<'a, str>>,
    /// `io.modelcontextprotocol/clientCapabilities` (2026-07-28, required there).
    #[serde(
        rename = "io.modelcontextprotocol/clientCapabilities",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_capabilities: Option<ClientCapabilities<'a>>,
    /// `io.modelcontextprotocol/clientInfo` (2026-07-28): display and logging only.
    #[serde(
        rename = "io.modelcontextprotocol/clientInfo",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_info: Option<Implementation<'a>>,
    /// `io.modelcontextprotocol/logLevel` (2026-07-28): opt-in to `notifications/message`.
    #[serde(
        rename = "io.modelcontextprotocol/logLevel",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub log_level: Option<LoggingLevel<'a>>,
    /// `io.modelcontextprotocol/related-task` (2025-11-25 tasks): `{taskId}`.
    #[serde(
        rename = "io.modelcontextprotocol/related-task",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub related_task: Option<Json<'a>>,
}

impl<'a> RequestMeta<'a> {
    /// Parses a raw `_meta` (absent = all fields `None`).
    pub fn from_meta(meta: Option<Json<'a>>) -> Result<Self, serde_json::Error> {
        meta.map_or_else(|| Ok(Self::default()), |m| m.parse())
    }
}

/// The keys of a notification's `params._meta` this crate knows (see [`RequestMeta`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationMeta<'a> {
    /// `io.modelcontextprotocol/subscriptionId` (2026-07-28): the `subscriptions/listen`
    /// request id this notification belongs to.
    #[serde(
        rename = "io.modelcontextprotocol/subscriptionId",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_id: Option<RequestIdRef<'a>>,
}

impl<'a> NotificationMeta<'a> {
    /// Parses a raw `_meta` (absent = all fields `None`).
    pub fn from_meta(meta: Option<Json<'a>>) -> Result<Self, serde_json::Error> {
        meta.map_or_else(|| Ok(Self::default()), |m| m.parse())
    }
}

/// The keys of a result's `_meta` this crate knows (see [`RequestMeta`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultMeta<'a> {
    /// `io.modelcontextprotocol/serverInfo` (2026-07-28, SHOULD be sent).
    #[serde(
        rename = "io.modelcontextprotocol/serverInfo",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_info: Option<Implementation<'a>>,
    /// `io.modelcontextprotocol/subscriptionId` (2026-07-28, `subscriptions/listen` result).
    #[serde(
        rename = "io.modelcontextprotocol/subscriptionId",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_id: Option<RequestIdRef<'a>>,
}

impl<'a> ResultMeta<'a> {
    /// Parses a raw `_meta` (absent = all fields `None`).
    pub fn from_meta(meta: Option<Json<'a>>) -> Result<Self, serde_json::Error> {
        meta.map_or_else(|| Ok(Self::default()), |m| m.parse())
    }
}

// ---------------------------------------------------------------------------------------------
// Generic params and results
// ---------------------------------------------------------------------------------------------

/// `RequestParams`: params of requests with nothing but `_meta` (`ping`, `server/discover`,
/// `roots/list`). Absent params mean `RequestParams::default()`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestParams<'a> {
    /// `_meta` (2026-07-28: required, see [`RequestMeta`]).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `NotificationParams`: params of notifications with nothing but `_meta` (`initialized`,
/// `*/list_changed`). Absent params mean `NotificationParams::default()`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationParams<'a> {
    /// `_meta` (see [`NotificationMeta`]).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `PaginatedRequestParams`: params of the `*/list` requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaginatedRequestParams<'a> {
    /// Opaque cursor from a previous page's `nextCursor` (2026: `""` is a valid cursor).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub cursor: Option<Cow<'a, str>>,
    /// `_meta` (see [`RequestMeta`]).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `EmptyResult`: the result of `ping`, `logging/setLevel`, `resources/subscribe|unsubscribe`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyResult<'a> {
    /// `resultType` (2026-07-28; absent = complete).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType<'a>>,
    /// `_meta` (see [`ResultMeta`]).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

open_enum! {
    /// `ResultType` (2026-07-28): what kind of result this is. Absent (legacy) means complete.
    pub enum ResultType<'a> {
        /// `"complete"`: the final result.
        Complete = "complete",
        /// `"input_required"`: an MRTR interim result, see [`InputRequiredResult`].
        InputRequired = "input_required",
        /// `"task"`: the tasks extension's result.
        Task = "task",
    }
}

open_enum! {
    /// `cacheScope` (2026-07-28 cacheable results): who may reuse the result.
    pub enum CacheScope<'a> {
        /// `"public"`: no user-specific data; shareable across users and intermediaries.
        Public = "public",
        /// `"private"`: reuse only within the same authorization context.
        Private = "private",
    }
}

/// `TaskMetadata` (2025-11-25 tasks, `params.task`): asks for task-augmented execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMetadata {
    /// Requested retention after creation, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// MRTR (2026-07-28)
// ---------------------------------------------------------------------------------------------

/// `InputRequest` (2026-07-28): a bare `{method, params}` the server wants the client to answer
/// (`elicitation/create`, `sampling/createMessage` or `roots/list`). Parse `params` with the
/// matching [`Request::Params`](super::Request::Params).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputRequest<'a> {
    /// The method, e.g. `elicitation/create`.
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    /// Its params, raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub params: Option<Json<'a>>,
}

/// `InputRequiredResult` (2026-07-28, MRTR): the interim answer of `tools/call`, `prompts/get`
/// or `resources/read` asking the client to retry with `inputResponses` / `requestState`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRequiredResult<'a> {
    /// `resultType`: `"input_required"` (what routes a result to this type).
    #[serde(borrow)]
    pub result_type: ResultType<'a>,
    /// Server-chosen key -> input request.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_requests: Option<BTreeMap<Cow<'a, str>, InputRequest<'a>>>,
    /// Opaque state the client echoes byte for byte on the retry.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_state: Option<Cow<'a, str>>,
    /// `_meta` (see [`ResultMeta`]).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

impl Default for InputRequiredResult<'_> {
    fn default() -> Self {
        Self {
            result_type: ResultType::InputRequired,
            input_requests: None,
            request_state: None,
            meta: None,
        }
    }
}

/// A result that 2026-07-28 MRTR may replace by an [`InputRequiredResult`] (`tools/call`,
/// `prompts/get`, `resources/read`). Routed on `resultType == "input_required"`; anything else
/// (including an absent `resultType`, i.e. every legacy result) is `Complete`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MaybeInputRequired<'a, T> {
    /// The method's normal result.
    Complete(T),
    /// The server needs input first (2026-07-28).
    InputRequired(InputRequiredResult<'a>),
}

impl<'a, T> MaybeInputRequired<'a, T> {
    /// The complete result, if it is one.
    pub fn complete(&self) -> Option<&T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::InputRequired(_) => None,
        }
    }

    /// The interim result, if it is one.
    pub fn input_required(&self) -> Option<&InputRequiredResult<'a>> {
        match self {
            Self::Complete(_) => None,
            Self::InputRequired(r) => Some(r),
        }
    }
}

impl<T: Serialize> Serialize for MaybeInputRequired<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Complete(t) => t.serialize(s),
            Self::InputRequired(r) => r.serialize(s),
        }
    }
}

impl<'de: 'a, 'a, T: Deserialize<'a>> Deserialize<'de> for MaybeInputRequired<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use de::Error as _;
        let raw: &'de RawValue = Deserialize::deserialize(d)?;
        let result_type = peek_str(raw, "resultType").map_err(D::Error::custom)?;
        let parsed = if result_type.as_deref() == Some("input_required") {
            reparse(raw).map(Self::InputRequired)
        } else {
            reparse(raw).map(Self::Complete)
        };
        parsed.map_err(D::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata objects
// ---------------------------------------------------------------------------------------------

/// `Implementation`: name and version of a client or server (`clientInfo`, `serverInfo`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Implementation<'a> {
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
    /// Version string.
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    /// Human-readable description (2025-11-25+).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    /// Icons (2025-11-25+).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon<'a>>>,
    /// Website URL (2025-11-25+).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub website_url: Option<Cow<'a, str>>,
}

/// `Icon` (2025-11-25+): an icon for display in user interfaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Icon<'a> {
    /// URI (`https:` or `data:`) of the icon.
    #[serde(borrow)]
    pub src: Cow<'a, str>,
    /// MIME type override.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub mime_type: Option<Cow<'a, str>>,
    /// Sizes, e.g. `["48x48", "any"]`.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_vec_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub sizes: Option<Vec<Cow<'a, str>>>,
    /// Theme the icon is designed for.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub theme: Option<IconTheme<'a>>,
}

open_enum! {
    /// `Icon.theme` (2025-11-25+).
    pub enum IconTheme<'a> {
        /// `"light"`: for a light background.
        Light = "light",
        /// `"dark"`: for a dark background.
        Dark = "dark",
    }
}

open_enum! {
    /// `Role`: sender or recipient of messages and data.
    pub enum Role<'a> {
        /// `"user"`.
        User = "user",
        /// `"assistant"`.
        Assistant = "assistant",
    }
}

/// `Annotations`: hints on how a client should use or display an object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations<'a> {
    /// Intended audience(s).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<Role<'a>>>,
    /// Importance from 0 (least) to 1 (most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// ISO 8601 time of last modification (2025-06-18+).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified: Option<Cow<'a, str>>,
}

// ---------------------------------------------------------------------------------------------
// Resources (shared by resources/list and resource_link content)
// ---------------------------------------------------------------------------------------------

/// `Resource` (also the body of a `resource_link` content block, 2025-06-18+): a known resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<'a> {
    /// URI of the resource.
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
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
    /// MIME type, if known.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub mime_type: Option<Cow<'a, str>>,
    /// Size in bytes of the raw content, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
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

/// `TextResourceContents | BlobResourceContents`: one item of `resources/read` `contents` or of
/// an embedded resource. Exactly one of `text` and `blob` is set on valid input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceContents<'a> {
    /// URI of the resource.
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
    /// MIME type, if known.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub mime_type: Option<Cow<'a, str>>,
    /// Text content (text resources).
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<Cow<'a, str>>,
    /// Base64 content (binary resources), still encoded.
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub blob: Option<Cow<'a, str>>,
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
// Content blocks
// ---------------------------------------------------------------------------------------------

/// `TextContent` (`"type": "text"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TextContent<'a> {
    /// The text.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// Annotations.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations<'a>>,
    /// `_meta` (2025-06-18+).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ImageContent` (`"type": "image"`) and `AudioContent` (`"type": "audio"`, 2025-03-26+):
/// base64 media.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaContent<'a> {
    /// Base64-encoded data, still encoded.
    #[serde(borrow)]
    pub data: Cow<'a, str>,
    /// MIME type, e.g. `image/png`, `audio/wav`.
    #[serde(borrow)]
    pub mime_type: Cow<'a, str>,
    /// Annotations.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations<'a>>,
    /// `_meta` (2025-06-18+).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `EmbeddedResource` (`"type": "resource"`): resource contents inlined in a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedResource<'a> {
    /// The contents.
    #[serde(borrow)]
    pub resource: ResourceContents<'a>,
    /// Annotations.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations<'a>>,
    /// `_meta` (2025-06-18+).
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ToolUseContent` (`"type": "tool_use"`, 2025-11-25+ sampling only): a model's tool call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolUseContent<'a> {
    /// Unique id of this tool use.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Tool name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Tool arguments (an object), raw.
    #[serde(borrow)]
    pub input: Json<'a>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

/// `ToolResultContent` (`"type": "tool_result"`, 2025-11-25+ sampling only): a tool's result
/// fed back to the model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultContent<'a> {
    /// The `id` of the matching [`ToolUseContent`].
    #[serde(borrow)]
    pub tool_use_id: Cow<'a, str>,
    /// Unstructured result.
    #[serde(borrow)]
    pub content: Vec<ContentBlock<'a>>,
    /// Structured result (2025-11-25: object; 2026-07-28: any JSON), raw.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Json<'a>>,
    /// Whether the tool use failed.
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

tagged_enum! {
    /// `ContentBlock`: one item of tool results, prompt messages and tool-result content,
    /// tagged by `type`. Unknown types (a newer spec) become [`ContentBlock::Unknown`] instead of
    /// failing the whole result.
    pub enum ContentBlock<'a> tag "type" {
        /// `"text"`.
        Text(TextContent<'a>) = "text",
        /// `"image"`.
        Image(MediaContent<'a>) = "image",
        /// `"audio"` (2025-03-26+).
        Audio(MediaContent<'a>) = "audio",
        /// `"resource_link"` (2025-06-18+).
        ResourceLink(Resource<'a>) = "resource_link",
        /// `"resource"`: an embedded resource.
        Resource(EmbeddedResource<'a>) = "resource",
    }
}

impl<'a> ContentBlock<'a> {
    /// A `text` block.
    pub fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Self::Text(TextContent {
            text: text.into(),
            ..TextContent::default()
        })
    }
}

tagged_enum! {
    /// `SamplingMessageContentBlock`: content of sampling messages, tagged by `type`. Unknown
    /// types become [`SamplingContentBlock::Unknown`].
    pub enum SamplingContentBlock<'a> tag "type" {
        /// `"text"`.
        Text(TextContent<'a>) = "text",
        /// `"image"`.
        Image(MediaContent<'a>) = "image",
        /// `"audio"`.
        Audio(MediaContent<'a>) = "audio",
        /// `"tool_use"` (2025-11-25+).
        ToolUse(ToolUseContent<'a>) = "tool_use",
        /// `"tool_result"` (2025-11-25+).
        ToolResult(ToolResultContent<'a>) = "tool_result",
    }
}

/// Sampling `content`: one block, or (2025-11-25+) an array of blocks.
#[derive(Clone, Debug, PartialEq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "one or many is fixed by the schema"
)]
pub enum SamplingContent<'a> {
    /// A single block.
    One(SamplingContentBlock<'a>),
    /// An array of blocks (2025-11-25+).
    Many(Vec<SamplingContentBlock<'a>>),
}

impl Serialize for SamplingContent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(b) => b.serialize(s),
            Self::Many(v) => v.serialize(s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for SamplingContent<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use de::Error as _;
        let raw: &'de RawValue = Deserialize::deserialize(d)?;
        let parsed = if raw.get().trim_start().starts_with('[') {
            reparse(raw).map(Self::Many)
        } else {
            reparse(raw).map(Self::One)
        };
        parsed.map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_block_text_borrows_and_round_trips() {
        let input = r#"{"type":"text","text":"hello","annotations":{"audience":["user"],"priority":0.5},"extra":1}"#;
        let b: ContentBlock<'_> = serde_json::from_str(input).unwrap();
        let ContentBlock::Text(t) = &b else {
            panic!("not text: {b:?}")
        };
        assert!(matches!(t.text, Cow::Borrowed("hello")));
        assert_eq!(b.kind(), Some("text"));
        let out = serde_json::to_string(&b).unwrap();
        assert_eq!(
            out,
            r#"{"type":"text","text":"hello","annotations":{"audience":["user"],"priority":0.5}}"#
        );
        let again: ContentBlock<'_> = serde_json::from_str(&out).unwrap();
        assert_eq!(again, b);
    }

    #[test]
    fn content_block_unknown_type_is_kept_verbatim() {
        let input = r#"{"type":"video","url":"https://x","data":7}"#;
        let b: ContentBlock<'_> = serde_json::from_str(input).unwrap();
        assert!(matches!(b, ContentBlock::Unknown(_)));
        assert_eq!(b.kind(), Some("video"));
        assert_eq!(serde_json::to_string(&b).unwrap(), input);
        // No tag at all is also kept, not rejected.
        let b: ContentBlock<'_> = serde_json::from_str(r#"{"text":"x"}"#).unwrap();
        assert!(matches!(b, ContentBlock::Unknown(_)));
        assert_eq!(b.kind(), None);
    }

    #[test]
    fn content_block_known_type_missing_field_errors() {
        assert!(serde_json::from_str::<ContentBlock<'_>>(r#"{"type":"text"}"#).is_err());
        assert!(serde_json::from_str::<ContentBlock<'_>>(r#""text""#).is_err());
    }

    #[test]
    fn ids_accept_string_and_integer() {
        let t: ProgressToken<'_> = serde_json::from_str("4").unwrap();
        assert_eq!(t, ProgressToken::Int(4));
        let t: ProgressToken<'_> = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(t, ProgressToken::Str(Cow::Borrowed("abc"))));
        assert!(serde_json::from_str::<ProgressToken<'_>>("1.5").is_err());
        assert!(serde_json::from_str::<ProgressToken<'_>>("null").is_err());
        assert!(serde_json::from_str::<RequestIdRef<'_>>("18446744073709551615").is_err());
        assert_eq!(serde_json::to_string(&RequestIdRef::Int(-3)).unwrap(), "-3");
    }

    #[test]
    fn open_enum_keeps_unknown_values() {
        let r: Role<'_> = serde_json::from_str(r#""system""#).unwrap();
        assert_eq!(r, Role::Unknown(Cow::Borrowed("system")));
        assert!(!r.is_known());
        assert_eq!(serde_json::to_string(&r).unwrap(), r#""system""#);
        let r: Role<'_> = serde_json::from_str(r#""us\u0065r""#).unwrap();
        assert_eq!(r, Role::User);
    }

    #[test]
    fn sampling_content_one_or_many() {
        let one: SamplingContent<'_> =
            serde_json::from_str(r#"{"type":"text","text":"a"}"#).unwrap();
        assert!(matches!(
            one,
            SamplingContent::One(SamplingContentBlock::Text(_))
        ));
        let many: SamplingContent<'_> = serde_json::from_str(
            r#" [{"type":"tool_use","id":"t1","name":"f","input":{"x":1}},{"type":"x"}]"#,
        )
        .unwrap();
        let SamplingContent::Many(v) = &many else {
            panic!("not many")
        };
        assert_eq!(v.len(), 2);
        assert!(matches!(v[1], SamplingContentBlock::Unknown(_)));
        let out = serde_json::to_string(&many).unwrap();
        assert_eq!(
            serde_json::from_str::<SamplingContent<'_>>(&out).unwrap(),
            many
        );
    }

    #[test]
    fn maybe_input_required_routes_on_result_type() {
        #[derive(Debug, PartialEq, Deserialize, Serialize)]
        struct R {
            x: u8,
        }
        let v: MaybeInputRequired<'_, R> = serde_json::from_str(r#"{"x":1}"#).unwrap();
        assert_eq!(v.complete(), Some(&R { x: 1 }));
        let v: MaybeInputRequired<'_, R> = serde_json::from_str(
            r#"{"requestState":"s","resultType":"input_required","inputRequests":{"k":{"method":"roots/list"}}}"#,
        )
        .unwrap();
        let r = v.input_required().unwrap();
        assert!(matches!(r.request_state, Some(Cow::Borrowed("s"))));
        let reqs = r.input_requests.as_ref().unwrap();
        assert_eq!(reqs[&Cow::Borrowed("k")].method, "roots/list");
        assert!(matches!(reqs.keys().next(), Some(Cow::Borrowed("k"))));
    }

    #[test]
    fn json_compares_text() {
        let a = Json::new(r#"{"a":1}"#).unwrap();
        let b = Json::new(r#"{"a":1}"#).unwrap();
        assert_eq!(a, b);
        assert!(Json::new("{").is_err());
        assert_eq!(a.parse::<serde_json::Value>().unwrap()["a"], 1);
    }
}
