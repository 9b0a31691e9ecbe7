#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! The `mcpx-scenario/1` parser: the built-in profile, its vendored copy, and error messages.

use mcpx_scenario::{
    CLAUDE_PROFILE_TOML, Dist, LoadModel, OnTimeout, Parallel, Scenario, Template, Token,
};

#[test]
fn vendored_profile_matches_shared() {
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/traffic/claude.toml"
    );
    match std::fs::read_to_string(shared) {
        Ok(text) => assert!(
            text == CLAUDE_PROFILE_TOML,
            "profiles/claude.toml differs from {shared}: copy it again"
        ),
        Err(e) => println!("skipped: {shared} not readable ({e})"),
    }
}

#[test]
fn builtin_claude_parses_with_profile_values() {
    let s = Scenario::builtin("claude").unwrap();
    assert_eq!(s.profile.name, "claude");
    assert_eq!(s.profile.seed, 1);
    assert_eq!(s.load.model, LoadModel::Open);
    assert_eq!(s.load.duration_us, 600_000_000);
    assert_eq!(s.clients.len(), 3);
    let ai = s.family("claude_ai").unwrap();
    assert_eq!(ai.weight, 0.6);
    assert_eq!(ai.client_info.len(), 4);
    assert_eq!(
        ai.headers,
        vec![("traceparent".to_owned(), Template::Traceparent)]
    );
    assert_eq!(ai.sequence.on_start.len(), 5);
    assert_eq!(ai.sequence.on_start[4], Token::Delete);
    assert_eq!(ai.timeouts.handshake_us, Some(10_000_000));
    assert_eq!(ai.timeouts.tool_call_us, Some(60_000_000));
    assert_eq!(ai.probes.connect_verify_p, 0.02);
    assert_eq!(
        ai.probes.unauth_initialize_every,
        Some(Dist::Uniform {
            min: 180e6,
            max: 600e6
        })
    );
    let cc = s.family("claude_code").unwrap();
    assert_eq!(cc.parallel, Parallel::ReadOnly);
    assert_eq!(cc.sequence.on_start[2], Token::PromptsList(true));
    assert_eq!(cc.timeouts.tool_idle_us, Some(300_000_000));
    assert_eq!(cc.timeouts.idle_check_us, Some(30_000_000));
    assert_eq!(cc.timeouts.on_timeout, OnTimeout::Cancel);
    assert!(cc.stream.open);
    assert_eq!(cc.stream.reconnect.attempts, 5);
    assert_eq!(
        cc.lifetime,
        Some(Dist::lognormal(1500e6, 1.0, 60e6, 28_800e6))
    );
    assert_eq!(cc.call_meta.len(), 2);
    let api = s.family("messages_api").unwrap();
    assert_eq!(
        api.sequence.on_turn,
        vec![Token::Handshake, Token::ToolsList(false)]
    );
    assert_eq!(s.think.first_call, Dist::lognormal(6e6, 0.7, 0.8e6, 120e6));
    assert_eq!(
        s.payload.args_size,
        Dist::lognormal(120.0, 1.1, 2.0, 65536.0)
    );
    let t = s.target.as_ref().unwrap();
    assert_eq!(t.tools.len(), 12);
    assert_eq!(t.latency.len(), 4);
    assert_eq!(t.progress_interval_us, 5_000_000);
    assert_eq!(s.tools.zipf_s, 1.1);
}

fn err(text: &str) -> String {
    let e = Scenario::parse(text, "t.toml").unwrap_err();
    e.to_string()
}

const MIN: &str = "format = \"mcpx-scenario/1\"\n[[clients]]\nname = \"a\"\n";

#[test]
fn minimal_file_takes_defaults() {
    let s = Scenario::parse(MIN, "t.toml").unwrap();
    assert_eq!(s.clients[0].name, "a");
    assert_eq!(
        s.session.steps,
        Dist::NegBin {
            offset: 1,
            mean: 4.0,
            r: 1.2,
            max: 100
        }
    );
}

#[test]
fn errors_name_file_path_and_rule() {
    assert_eq!(
        err("format = \"mcpx-scenario/2\""),
        "t.toml: format: unsupported major version \"mcpx-scenario/2\": this mcpx reads mcpx-scenario/1 (minor versions 1.x)"
    );
    assert!(err("[profile]\nname = 1").contains("format: missing"));
    let e = err(&format!(
        "{MIN}[clients.think]\nfirst_call = {{ dist = \"lognormal\", median_ms = 10, sigma = -1 }}\n[[clients]]\nname = \"b\"\n"
    ));
    assert_eq!(
        e,
        "t.toml: clients[0].think.first_call.sigma: expected a number in [0, 10], got -1"
    );
    let e = err(&format!(
        "{MIN}[[clients]]\nname = \"b\"\n[clients.think]\nfirst_call = {{ dist = \"gauss\" }}\n"
    ));
    assert_eq!(
        e,
        "t.toml: clients[1].think.first_call.dist: unknown dist \"gauss\": one of lognormal, negbin, categorical, uniform, constant, zipf"
    );
    let e = err(&format!("{MIN}calls_tools_p = 1.5\n"));
    assert_eq!(
        e,
        "t.toml: clients[0].calls_tools_p: expected a probability in [0, 1], got 1.5"
    );
    let e = err(&format!("{MIN}colour = 1\n"));
    assert!(
        e.starts_with("t.toml: clients[0].colour: unknown key in [clients[0]]; known keys: "),
        "{e}"
    );
    assert!(e.contains("calls_tools_p"), "{e}");
    let e = err(
        "format = \"mcpx-scenario/1\"\n[think]\nfirst_call = { dist = \"lognormal\", median_bytes = 3, sigma = 1 }\n",
    );
    assert!(
        e.contains("think.first_call.median_bytes: expected a duration"),
        "{e}"
    );
    let e = err(
        "format = \"mcpx-scenario/1\"\n[think]\nfirst_call = { dist = \"lognormal\", median_ms = 3, sigma = 1, mode_ms = 2 }\n",
    );
    assert!(
        e.contains(
            "think.first_call.mode_ms: unknown key in a lognormal dist; known keys: dist, median_ms"
        ),
        "{e}"
    );
    let e = err(&format!(
        "{MIN}[clients.sequence]\non_start = [\"handshake\", \"dance\"]\n"
    ));
    assert!(
        e.starts_with("t.toml: clients[0].sequence.on_start[1]: unknown sequence token \"dance\""),
        "{e}"
    );
    let e = err(&format!("{MIN}call_meta = {{ x = \"$nope\" }}\n"));
    assert!(
        e.contains("clients[0].call_meta.x: unknown generator \"$nope\""),
        "{e}"
    );
    let e = err("format = \"mcpx-scenario/1\"\n");
    assert!(e.contains("clients: at least one"), "{e}");
    let e = err("format = = 1");
    assert!(e.starts_with("t.toml: TOML syntax:"), "{e}");
    let e = err(&format!(
        "{MIN}[session]\nsteps = {{ dist = \"negbin\", mean = 3, r = 1, max = 0, offset = 1 }}\n"
    ));
    assert!(
        e.contains("session.steps.max: expected max >= offset"),
        "{e}"
    );
    assert!(
        Scenario::builtin("gpt")
            .unwrap_err()
            .to_string()
            .contains("one of claude")
    );
}

#[test]
fn units_are_normalised() {
    let s = Scenario::parse(
        &format!("{MIN}[think]\nfirst_call = {{ dist = \"uniform\", min_s = 1, max_ms = 2500 }}\n[load]\nduration_s = 3\ndrain_ms = 10\n"),
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        s.think.first_call,
        Dist::Uniform {
            min: 1e6,
            max: 2.5e6
        }
    );
    assert_eq!(s.load.duration_us, 3_000_000);
    assert_eq!(s.load.drain_us, 10_000);
}
