//! Every bound of the trace format's readers and state machines, in one place.

/// Longest trace line the reader accepts (64 MiB). A line holds one message: the profile's
/// largest results are 4 MiB (PROFILE.md 2.3), and a `tools/list` of a big server under 1 MiB;
/// 16x headroom keeps real traces readable while a corrupt file without newlines is refused
/// with an error naming the line instead of exhausting memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Largest body the recorder embeds in the trace (8 MiB). A longer body is still forwarded
/// byte for byte; its trace event keeps `bytes` but no `msg` (a note says why).
pub const MAX_TRACED_BODY_BYTES: usize = 8 << 20;

/// Default silence after which the same bearer token starts a new user (5 minutes): longer
/// than the profile's think time between turns at p90 (about 3 min), shorter than the gap
/// between two separate conversations of one account.
pub const DEFAULT_GROUP_IDLE_S: u64 = 300;

/// Live sessions, tokens and connections the recorder remembers (each about 100 bytes). Past
/// this the oldest are forgotten: a later request on a forgotten session starts a new user.
pub const MAX_RECORDER_KEYS: usize = 1 << 20;

/// Copies of each user at most (`--multiply`): more is a typo, and each copy is a task.
pub const MAX_MULTIPLY: u32 = 10_000;

/// Nesting depth the JSON span scanner follows (redaction, id rewriting). Deeper input is left
/// as it is (serde_json refuses more than 128 levels anyway).
pub const MAX_JSON_DEPTH: usize = 128;
