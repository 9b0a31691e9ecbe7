//! Every bound of the crate in one place: what it limits, what happens at the limit, and why
//! the number. Inputs (scenario files, server schemas, server behaviour) can only reach these.

/// Largest value a count distribution (`negbin` without `max`, `categorical`) may produce:
/// bounds the inversion loop of `negbin` and every per-user loop driven by a count.
pub const MAX_COUNT: u64 = 100_000;

/// Largest number of ranks a [`crate::Zipf`] table holds (one per tool): bounds its memory.
pub const MAX_ZIPF_RANKS: usize = 100_000;

/// Largest number of client families in one file (each is a full state machine configuration).
pub const MAX_FAMILIES: usize = 64;

/// Largest number of entries in a variant list, a sequence, a tool list or an override list:
/// keeps a malformed file from allocating without bound.
pub const MAX_LIST: usize = 4096;

/// Largest duration any key accepts: one week (a load test longer than that is a mistake).
pub const MAX_DURATION_US: u64 = 7 * 24 * 3600 * 1_000_000;

/// Largest scenario file accepted, in bytes (the built-in profile is ~20 KB).
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Nesting depth the generator follows; deeper subschemas become `null` / empty. Real tool
/// schemas are 1-3 levels deep; the bound keeps a recursive or hostile schema finite.
pub const MAX_SCHEMA_DEPTH: usize = 8;

/// Most items generated for one array (above `minItems`, arrays get at most 3).
pub const MAX_ARRAY_ITEMS: usize = 64;

/// Most JSON nodes one generated value holds: nested arrays with large `minItems` would
/// otherwise grow exponentially with depth (a hostile or careless schema). Past it, subschemas
/// yield `null`.
pub const MAX_GENERATED_NODES: usize = 10_000;

/// Largest padded argument size, bytes (the profile's `max_bytes` is 64 KiB; 1 MiB leaves room
/// for custom scenarios while bounding memory per in-flight call).
pub const MAX_ARGS_BYTES: usize = 1 << 20;

/// Most chains (concurrent sequences) one user runs at once: a step's batch (fan-out is at most
/// a few calls) plus background re-initialisations. Beyond it, extra work waits its turn.
pub const MAX_CHAINS: usize = 256;

/// Most answers to server-to-client requests one user holds pending: a misbehaving server
/// sending requests in a loop cannot grow a user without bound (extra requests are dropped).
pub const MAX_PENDING_ANSWERS: usize = 64;

/// Most think-time samples a user records when details are on (turns + steps are bounded by
/// their distributions' `max`, 50 + 100 in the profile).
pub const MAX_RECORDED_THINKS: usize = 1024;

/// Most turn durations a user records (`UserStats::turn_us`): the profile's turns are at most
/// 50; a scenario with more still runs them all, only the first 1024 are measured.
pub const MAX_RECORDED_TURNS: usize = 1024;

/// Most events one simulated user may process: a runaway user (a bug, or a scenario with an
/// endless reconnect loop) stops here instead of hanging the test or the dry run.
pub const MAX_EVENTS_PER_USER: usize = 1_000_000;

/// Most prefilled users one run creates: the steady-state population at 1 user/s is ~740;
/// this bound allows ~1,000 users/s while keeping a typo from allocating millions.
pub const MAX_PREFILL: u64 = 1_000_000;

/// Most arrivals skipped in one poll while looking for this shard's next user (a shard count far
/// above the rate would otherwise spin); the scan resumes on the next poll.
pub const MAX_SKIP_PER_POLL: usize = 100_000;
