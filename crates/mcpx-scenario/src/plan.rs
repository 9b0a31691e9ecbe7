//! A [`Plan`]: a scenario compiled against one target's tool catalog, shared by all users.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::dist::{Zipf, cumulative_weights, pick_cumulative};
use crate::error::ScenarioError;
use crate::format::{ClientFamily, RankMode, ReadOnlyFrom, Scenario, ToolSource};
use crate::rng::{DOMAIN_RANK, Rng};
use crate::target::ToolInfo;

/// A tool users may call, in popularity order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallableTool {
    /// Name.
    pub name: String,
    /// May run concurrently under `parallel = "read_only"`.
    pub read_only: bool,
    /// `inputSchema`.
    pub input_schema: Json,
    /// Fixed arguments from `[[tools.override]]`, serialised.
    pub fixed_arguments: Option<Arc<str>>,
    /// Index in the catalog given to [`Plan::new`].
    pub catalog_index: usize,
    /// [`CallableTool::name`], shared: every call's [`crate::OpKind::CallTool`] holds it, a
    /// reference count where a copy was an allocation per call.
    pub(crate) shared_name: Arc<str>,
}

/// Per-family cumulative weights of the variant lists.
#[derive(Debug, Clone)]
pub(crate) struct FamilyPlan {
    pub(crate) info: Vec<f64>,
    pub(crate) version: Vec<f64>,
    pub(crate) caps: Vec<f64>,
}

/// A scenario compiled against a target's tools: what every [`crate::VirtualUser`] reads.
///
/// Built once per run (cheap to share behind an `Arc`). The same plan works against the mock
/// and against any server whose `tools/list` the runner fetched first.
#[derive(Debug, Clone)]
pub struct Plan {
    scenario: Scenario,
    pub(crate) families: Vec<FamilyPlan>,
    family_weights: Vec<f64>,
    tools: Vec<CallableTool>,
    choice: Option<Zipf>,
}

/// Glob match with `*` (any run) and `?` (one character).
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Plan {
    /// Compiles `scenario` against `catalog` (the target's tools, e.g. from `tools/list` or
    /// [`crate::MockTarget::tool_infos`]).
    ///
    /// Tools are ordered by rank (`[tools] rank`), filtered by `exclude` (and by the overrides
    /// under `source = "listed"`), and weighted by Zipf or the overrides' weights. An empty result
    /// is allowed: users then make no calls.
    ///
    /// # Errors
    /// An override naming a tool the catalog does not have; no client family, or a family with an
    /// empty variant list (possible only if the scenario's public fields were edited).
    pub fn new(scenario: Scenario, catalog: &[ToolInfo]) -> Result<Self, ScenarioError> {
        // The parser guarantees these; a caller may have edited the public fields since.
        if scenario.clients.is_empty() {
            return Err(ScenarioError::new(
                "<plan>",
                "clients",
                "at least one client family is required",
            ));
        }
        for (i, f) in scenario.clients.iter().enumerate() {
            for (key, empty) in [
                ("client_info", f.client_info.is_empty()),
                ("protocol_versions", f.protocol_versions.is_empty()),
                ("capabilities", f.capabilities.is_empty()),
            ] {
                if empty {
                    return Err(ScenarioError::new(
                        "<plan>",
                        &format!("clients[{i}].{key}"),
                        "expected at least one entry",
                    ));
                }
            }
        }
        let mut order: Vec<usize> = (0..catalog.len()).collect();
        let all_ranked = catalog.iter().all(|t| t.rank.is_some());
        match scenario.tools.rank {
            RankMode::Auto if all_ranked => {
                order.sort_by_key(|i| catalog.get(*i).and_then(|t| t.rank))
            }
            RankMode::Listed => {}
            RankMode::Auto | RankMode::Shuffle => {
                let mut rng = Rng::derive(scenario.profile.seed, DOMAIN_RANK, 0);
                for i in (1..order.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    order.swap(i, j);
                }
            }
        }
        let overrides = &scenario.tools.overrides;
        for (i, o) in overrides.iter().enumerate() {
            if !catalog.iter().any(|t| t.name == o.name) {
                return Err(ScenarioError::new(
                    "<plan>",
                    &format!("tools.override[{i}].name"),
                    format!("the target has no tool {:?}", o.name),
                ));
            }
        }
        let mut tools = Vec::new();
        let mut weights = Vec::new();
        for ci in order {
            let Some(t) = catalog.get(ci) else { continue };
            if scenario.tools.exclude.iter().any(|g| glob(g, &t.name)) {
                continue;
            }
            let ov = overrides.iter().find(|o| o.name == t.name);
            if scenario.tools.source == ToolSource::Listed && ov.is_none() {
                continue;
            }
            let rank = tools.len() + 1;
            let w = ov
                .and_then(|o| o.weight)
                .unwrap_or_else(|| (rank as f64).powf(-scenario.tools.zipf_s));
            weights.push(w);
            tools.push(CallableTool {
                name: t.name.clone(),
                read_only: t.read_only
                    && scenario.tools.read_only_from == ReadOnlyFrom::Annotations,
                input_schema: t.input_schema.clone(),
                fixed_arguments: ov
                    .and_then(|o| o.arguments.as_ref())
                    .map(|a| Arc::from(a.to_string())),
                catalog_index: ci,
                shared_name: t.name.as_str().into(),
            });
        }
        let choice = Zipf::from_weights(&weights);
        let families = scenario
            .clients
            .iter()
            .map(|f| FamilyPlan {
                info: cumulative_weights(
                    &f.client_info.iter().map(|w| w.weight).collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
                version: cumulative_weights(
                    &f.protocol_versions
                        .iter()
                        .map(|w| w.weight)
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
                caps: cumulative_weights(
                    &f.capabilities.iter().map(|w| w.weight).collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
            })
            .collect();
        let family_weights = cumulative_weights(
            &scenario
                .clients
                .iter()
                .map(|c| c.weight)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        Ok(Self {
            scenario,
            families,
            family_weights,
            tools,
            choice,
        })
    }

    /// The scenario.
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Callable tools, most popular first.
    #[must_use]
    pub fn tools(&self) -> &[CallableTool] {
        &self.tools
    }

    /// Probability that a call picks tool `i` (of [`Plan::tools`]).
    #[must_use]
    pub fn tool_probability(&self, i: usize) -> f64 {
        self.choice.as_ref().map_or(0.0, |z| z.probability(i))
    }

    /// Family `i`.
    #[must_use]
    pub fn family(&self, i: usize) -> Option<&ClientFamily> {
        self.scenario.clients.get(i)
    }

    /// Index of the family named `name`.
    #[must_use]
    pub fn family_index(&self, name: &str) -> Option<usize> {
        self.scenario.clients.iter().position(|c| c.name == name)
    }

    pub(crate) fn draw_family(&self, rng: &mut Rng) -> usize {
        pick_cumulative(&self.family_weights, rng.f64())
    }

    pub(crate) fn draw_tool(&self, rng: &mut Rng) -> Option<usize> {
        self.choice.as_ref().map(|z| z.sample(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn catalog(ranked: bool) -> Vec<ToolInfo> {
        ["a_read", "b_write", "c_read", "delete_all"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut t =
                    json!({"name": n, "annotations": {"readOnlyHint": n.ends_with("read")}});
                if ranked {
                    t["_meta"] = json!({"dev.mcpx/rank": 4 - i});
                }
                ToolInfo::from_json(&t).unwrap()
            })
            .collect()
    }

    fn scenario(tools: &str) -> Scenario {
        let text =
            format!("format = \"mcpx-scenario/1\"\n[tools]\n{tools}\n[[clients]]\nname = \"a\"\n");
        Scenario::parse(&text, "t.toml").unwrap()
    }

    #[test]
    fn ranks_exclusions_and_overrides() {
        // Ranked: by _meta rank; excluded by glob; Zipf weights by position.
        let p = Plan::new(scenario("exclude = [\"delete_*\"]"), &catalog(true)).unwrap();
        let names: Vec<&str> = p.tools().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["c_read", "b_write", "a_read"]);
        assert!(p.tool_probability(0) > p.tool_probability(1));
        assert!(p.tools()[0].read_only && !p.tools()[1].read_only);
        // Unranked: a seeded shuffle, stable for a seed.
        let a = Plan::new(scenario(""), &catalog(false)).unwrap();
        let b = Plan::new(scenario(""), &catalog(false)).unwrap();
        assert_eq!(a.tools(), b.tools());
        // Listed: only overrides, with their weights and fixed arguments.
        let p = Plan::new(
            scenario("source = \"listed\"\n[[tools.override]]\nname = \"b_write\"\nweight = 3.0\narguments = { q = \"x\" }\n[[tools.override]]\nname = \"a_read\"\nweight = 1.0"),
            &catalog(true),
        )
        .unwrap();
        assert_eq!(p.tools().len(), 2);
        let b = p.tools().iter().position(|t| t.name == "b_write").unwrap();
        assert!((p.tool_probability(b) - 0.75).abs() < 1e-9);
        assert_eq!(
            p.tools()[b].fixed_arguments.as_deref(),
            Some("{\"q\":\"x\"}")
        );
        // An override naming a tool the target lacks.
        let e = Plan::new(
            scenario("[[tools.override]]\nname = \"nope\""),
            &catalog(true),
        )
        .unwrap_err();
        assert!(e.to_string().contains("tools.override[0].name"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob("delete_*", "delete_record"));
        assert!(!glob("delete_*", "undelete"));
        assert!(glob("*_record", "get_record"));
        assert!(glob("se?_label", "set_label"));
        assert!(glob("*", ""));
        assert!(!glob("a", ""));
    }
}
