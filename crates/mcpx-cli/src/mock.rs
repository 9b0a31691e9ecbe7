//! `mcpx serve --mock claude|null`: the synthetic target of a scenario's `[target]` section
//! (PROFILE.md 2.3) as a real server. The behaviour is data from `mcpx_scenario::MockTarget`
//! (tool definitions, latency classes, result sizes, progress, error rates); this module only
//! turns each drawn behaviour into timed answers, through the engine's low-level
//! [`Service`] (so sessions, versions, SSE and limits are the engine's own).
//!
//! `claude`: every `tools/call` waits its drawn latency (scaled by `--time-scale`), sends
//! `notifications/progress` every `progress_interval` for `long` tools (when the request asked
//! for progress), then answers the drawn reply (text of the drawn size, doubled as
//! `structuredContent` for `outputSchema` tools, `isError` or `-32603` at the profile's rates).
//! `null`: the same lists, every call answered at once with a tiny result (for measuring the
//! load generator, not the target).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use mcpx_proto::Config;
use mcpx_scenario::{
    CallBehaviour, CallReply, DOMAIN_TARGET, GetStreamPolicy, MockTarget, Rng, Scenario,
};
use mcpx_server::{
    BoxFuture, HandlerError, Handlers, RequestContext, ResponseMode, ServerBuilder, Service,
    ServiceResult,
};
use mcpx_wire::{Message, RawJson};
use serde_json::{Value, json};

/// Which mock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum MockKind {
    /// The Claude-like target of the profile (latency, sizes, progress, errors).
    Claude,
    /// The same tools, answered at once with a tiny result.
    Null,
}

/// How the mock runs.
#[derive(Clone, Debug)]
#[allow(
    clippy::exhaustive_structs,
    reason = "plain options, built with struct syntax and `..Default::default()`"
)]
pub struct MockOptions {
    /// Which mock.
    pub kind: MockKind,
    /// Serve the 2026-07-28 stateless era too (the profile's "dual-era target"); `false` gives
    /// the "legacy target".
    pub modern: bool,
    /// Multiplies every server-side wait (latency, progress period, idle TTL).
    pub time_scale: f64,
    /// Seed of the per-call draws.
    pub seed: u64,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            kind: MockKind::Claude,
            modern: true,
            time_scale: 1.0,
            seed: 1,
        }
    }
}

/// Bytes of filler text one result may hold: the profile's `result_size` maximum (4 MiB).
const MAX_RESULT_TEXT: u64 = 4 * 1024 * 1024;

/// The mock's server builder (config, capabilities, handlers, response mode) for `scenario`'s
/// `[target]` (the built-in `claude` profile's when `None`).
pub fn mock_builder(
    scenario: Option<&Scenario>,
    opts: &MockOptions,
) -> anyhow::Result<ServerBuilder> {
    let builtin;
    let scenario = match scenario {
        Some(s) => s,
        None => {
            builtin = Scenario::builtin("claude").context("the built-in claude profile")?;
            &builtin
        }
    };
    let spec = scenario
        .target
        .as_ref()
        .context("the scenario has no [target] section to serve")?;
    if !(opts.time_scale.is_finite() && opts.time_scale > 0.0) {
        anyhow::bail!(
            "--time-scale must be a positive number (got {})",
            opts.time_scale
        );
    }
    let target = MockTarget::new(spec).with_modern(opts.modern);
    let mut config = Config::new();
    config
        .capabilities(&spec.capabilities.to_string())
        .server_info(&spec.server_info.name, &spec.server_info.version)
        .idle_ttl(scale(spec.session_idle_ttl_us, opts.time_scale).max(Duration::from_secs(1)))
        .offer_get_stream(target.get_stream_policy() == GetStreamPolicy::Accept)
        .stateless_era(target.is_modern());
    let lists = Lists::new(&target).context("encoding the mock's lists")?;
    let first_calls = target
        .tools()
        .iter()
        .map(|_| AtomicBool::new(true))
        .collect();
    let mock = Mock {
        target,
        lists,
        opts: opts.clone(),
        calls: AtomicU64::new(0),
        first_calls,
    };
    let mut handlers = Handlers::new();
    handlers.service(MockService(Arc::new(mock)));
    let mode = match spec.response_mode {
        mcpx_scenario::ResponseMode::Json => ResponseMode::Json,
        mcpx_scenario::ResponseMode::Sse => ResponseMode::Sse,
        _ => ResponseMode::Auto,
    };
    Ok(ServerBuilder::default()
        .config(config)
        .handlers(handlers)
        .response_mode(mode))
}

fn scale(us: u64, factor: f64) -> Duration {
    Duration::from_secs_f64((us as f64 * factor / 1e6).clamp(0.0, 7.0 * 24.0 * 3600.0))
}

/// The list results, encoded once per era (they never change).
struct Lists {
    tools: [RawJson; 2],
    prompts: [RawJson; 2],
    resources: [RawJson; 2],
    templates: [RawJson; 2],
    /// The prompts' names and the resources' entries, for `prompts/get` and `resources/read`.
    prompt_names: Vec<String>,
    resource_entries: Vec<Value>,
}

impl Lists {
    fn new(target: &MockTarget) -> Result<Self, HandlerError> {
        let both = |key: &str, items: Value| -> Result<[RawJson; 2], HandlerError> {
            Ok([
                complete(json!({ key: items.clone() }), false)?,
                complete(json!({ key: items }), true)?,
            ])
        };
        let prompts = target.prompts_json();
        let resources = target.resources_json();
        Ok(Self {
            tools: both("tools", target.tools_json())?,
            prompt_names: prompts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect(),
            resource_entries: resources.as_array().cloned().unwrap_or_default(),
            prompts: both("prompts", prompts)?,
            resources: both("resources", resources)?,
            templates: both("resourceTemplates", json!([]))?,
        })
    }
}

struct Mock {
    target: MockTarget,
    lists: Lists,
    opts: MockOptions,
    /// Calls so far: the index of each call's draw.
    calls: AtomicU64,
    /// Per tool: no call yet (cold start pending).
    first_calls: Vec<AtomicBool>,
}

/// The mock as the engine's low-level service (each call's future owns a reference).
struct MockService(Arc<Mock>);

impl Service for MockService {
    fn call(&self, ctx: RequestContext, request: Message) -> BoxFuture<ServiceResult> {
        let mock = self.0.clone();
        Box::pin(async move { mock.answer(ctx, request).await })
    }
}

impl Mock {
    async fn answer(&self, ctx: RequestContext, request: Message) -> ServiceResult {
        let modern = !ctx.version().is_session_era();
        let era = usize::from(modern);
        let params = request.params();
        match request.method().unwrap_or_default() {
            "tools/list" => Ok(self.lists.tools[era].clone()),
            "prompts/list" => Ok(self.lists.prompts[era].clone()),
            "resources/list" => Ok(self.lists.resources[era].clone()),
            "resources/templates/list" => Ok(self.lists.templates[era].clone()),
            "tools/call" => self.tool_call(&ctx, params, modern).await,
            "prompts/get" => {
                let name = member_str(params.as_ref(), "name")
                    .ok_or_else(|| HandlerError::invalid_params("`name` is required"))?;
                if !self.lists.prompt_names.contains(&name) {
                    return Err(HandlerError::invalid_params(format!(
                        "Unknown prompt: {name}"
                    )));
                }
                complete(
                    json!({"messages": [{"role": "user", "content": {"type": "text",
                        "text": format!("Run the {name} prompt.")}}]}),
                    modern,
                )
            }
            "resources/read" => {
                let uri = member_str(params.as_ref(), "uri")
                    .ok_or_else(|| HandlerError::invalid_params("`uri` is required"))?;
                let resource = self
                    .lists
                    .resource_entries
                    .iter()
                    .find(|r| r["uri"].as_str() == Some(uri.as_str()));
                let Some(r) = resource else {
                    return Err(HandlerError::resource_not_found(&uri));
                };
                complete(
                    json!({"contents": [{"uri": uri, "mimeType": r["mimeType"],
                        "text": filler(512)}]}),
                    modern,
                )
            }
            "resources/subscribe" | "resources/unsubscribe" | "logging/setLevel" => {
                complete(json!({}), modern)
            }
            "completion/complete" => complete(
                json!({"completion": {"values": [], "hasMore": false}}),
                modern,
            ),
            "subscriptions/listen" => {
                let id = serde_json::to_value(ctx.request_id()).unwrap_or(Value::Null);
                ctx.notify(
                    "notifications/subscriptions/acknowledged",
                    &json!({"_meta": {"io.modelcontextprotocol/subscriptionId": id},
                            "notifications": {}}),
                )
                .await;
                ctx.cancelled().await;
                complete(
                    json!({"_meta": {"io.modelcontextprotocol/subscriptionId": id}}),
                    true,
                )
            }
            other => Err(HandlerError::new(
                mcpx_wire::ErrorCode::METHOD_NOT_FOUND,
                format!("Method not found: {other}"),
            )),
        }
    }

    async fn tool_call(
        &self,
        ctx: &RequestContext,
        params: Option<RawJson>,
        modern: bool,
    ) -> ServiceResult {
        let name = member_str(params.as_ref(), "name")
            .ok_or_else(|| HandlerError::invalid_params("`name` must be a string"))?;
        let tool = self
            .target
            .tool_index(&name)
            .ok_or_else(|| HandlerError::invalid_params(format!("Unknown tool: {name}")))?;
        let behaviour = match self.opts.kind {
            MockKind::Null => CallBehaviour::null(),
            MockKind::Claude => {
                let n = self.calls.fetch_add(1, Ordering::Relaxed);
                let mut rng = Rng::derive(self.opts.seed, DOMAIN_TARGET, n);
                self.target.draw_call(tool, &mut rng)
            }
        };
        let mut wait = scale(behaviour.latency_us, self.opts.time_scale);
        if self.opts.kind == MockKind::Claude
            && self
                .first_calls
                .get(tool)
                .is_some_and(|f| f.swap(false, Ordering::Relaxed))
        {
            wait += scale(self.target.cold_start_us(), self.opts.time_scale);
        }
        let period = behaviour
            .progress_interval_us
            .filter(|p| *p > 0)
            .map(|p| scale(p, self.opts.time_scale))
            .filter(|p| !p.is_zero());
        let mut step = 0u32;
        while !wait.is_zero() {
            let chunk = period.map_or(wait, |p| p.min(wait));
            tokio::select! {
                () = precise_sleep(chunk) => {}
                () = ctx.cancelled() => {
                    return Err(HandlerError::internal("cancelled"));
                }
            }
            wait = wait.saturating_sub(chunk);
            if period.is_some() && !wait.is_zero() {
                step += 1;
                ctx.progress(f64::from(step), None, Some("working")).await;
            }
        }
        match behaviour.reply {
            CallReply::Result {
                text_bytes,
                structured,
                is_error,
            } => {
                let text = filler(text_bytes.min(MAX_RESULT_TEXT));
                let mut result = json!({
                    "content": [{"type": "text", "text": text}],
                    "isError": is_error,
                });
                if structured {
                    result["structuredContent"] = json!({ "text": text });
                }
                complete(result, modern)
            }
            CallReply::Error(code) => Err(HandlerError::new(
                mcpx_wire::ErrorCode(code),
                "Internal error (mock: the profile's jsonrpc_error_p)",
            )),
            _ => Err(HandlerError::internal("unknown mock reply")),
        }
    }
}

/// Waits below which tokio's timer (1 ms granularity) would distort the mock's latency, so the
/// end of the wait is spun out with `yield_now` (the `local` class at `--time-scale 0.05` is
/// ~0.15 ms; tokio alone would make it ~1.1 ms). Longer waits sleep: 1 ms is then small.
const PRECISE_BELOW: Duration = Duration::from_millis(5);

/// Sleeps `d`, precisely when it is short (see [`PRECISE_BELOW`]).
async fn precise_sleep(d: Duration) {
    if d >= PRECISE_BELOW {
        tokio::time::sleep(d).await;
        return;
    }
    let until = std::time::Instant::now() + d;
    let coarse = d.saturating_sub(Duration::from_millis(1));
    if !coarse.is_zero() {
        tokio::time::sleep(coarse).await;
    }
    while std::time::Instant::now() < until {
        tokio::task::yield_now().await;
    }
}

/// A string member of the params.
fn member_str(params: Option<&RawJson>, name: &str) -> Option<String> {
    params?.member(name)?.as_string().map(|s| s.into_owned())
}

/// A result, marked complete in the 2026-07-28 era, as raw JSON.
fn complete(mut v: Value, modern: bool) -> ServiceResult {
    if modern && let Some(obj) = v.as_object_mut() {
        obj.insert("resultType".into(), json!("complete"));
    }
    RawJson::from_serialize(&v).map_err(|e| HandlerError::internal(e.to_string()))
}

/// `n` bytes of plain ASCII text (no escapes needed in JSON).
fn filler(n: u64) -> String {
    const WORDS: &[u8] = b"the quick brown fox jumps over the lazy dog and keeps on running ";
    let n = usize::try_from(n)
        .unwrap_or(usize::MAX)
        .min(MAX_RESULT_TEXT as usize);
    WORDS
        .iter()
        .copied()
        .cycle()
        .take(n)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_never_end_early() {
        // (How close to the target a short wait ends is a timing property, measured by the
        // demo's per-tool latencies, not asserted here.)
        for us in [0, 150, 1_200, 4_900, 6_000] {
            let d = Duration::from_micros(us);
            let t = std::time::Instant::now();
            precise_sleep(d).await;
            assert!(t.elapsed() >= d, "{us} us");
        }
    }

    #[test]
    fn filler_has_the_exact_size() {
        assert_eq!(filler(0).len(), 0);
        assert_eq!(filler(1000).len(), 1000);
        assert!(filler(100).is_ascii());
    }

    #[test]
    fn builds_for_both_targets_and_refuses_a_bad_scale() {
        for modern in [true, false] {
            let opts = MockOptions {
                modern,
                ..MockOptions::default()
            };
            assert!(mock_builder(None, &opts).unwrap().build().is_ok());
        }
        let bad = MockOptions {
            time_scale: 0.0,
            ..MockOptions::default()
        };
        assert!(mock_builder(None, &bad).is_err());
    }
}
