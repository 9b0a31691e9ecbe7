//! The server's own bounds (the protocol's are in `mcpx_proto::limits`).

use std::time::Duration;

/// Items per page of `tools/list`, `resources/list`, `prompts/list` (the default;
/// Claude fetches every page, so larger pages only cost first-byte latency).
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// Interval of `: keep-alive` comments on an idle standalone GET stream. 15 s stays under the
/// 30-60 s idle timeouts of common proxies and load balancers.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Longest sleep of the idle-expiry timer, so a first session in an empty table is seen.
pub(crate) const IDLE_TIMER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// `ttlMs` of list results in 2026-07-28 (tools, prompts, resources, templates). The registry is
/// fixed once the server is built, so lists only change with a redeploy; 5 minutes bounds how
/// long a client keeps a list across one.
pub const DEFAULT_LIST_TTL_MS: u64 = 300_000;

/// Session-table shards per core by default: enough that two requests on different sessions
/// rarely wait for the same lock, few enough that the per-shard share of `max_sessions` stays
/// large (eviction is least-recently-used per shard).
pub const SHARDS_PER_CORE: usize = 4;

/// The default shard count: [`SHARDS_PER_CORE`] per available core, at most
/// [`mcpx_proto::MAX_SHARDS`].
pub fn default_shards() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores * SHARDS_PER_CORE).min(mcpx_proto::MAX_SHARDS)
}
