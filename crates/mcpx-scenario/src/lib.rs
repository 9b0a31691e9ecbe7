//! `mcpx-scenario`: the sans-IO brain of `mcpx load`.
#![forbid(unsafe_code)]

mod args;
mod dist;
mod error;
mod format;
mod plan;
mod reader;
mod rng;
pub mod sim;
mod target;
mod user;

pub use args::{
    MAX_ARGS_BYTES, MAX_ARRAY_ITEMS, MAX_SCHEMA_DEPTH, generate_arguments, generate_value, validate,
};
pub use dist::{Dist, MAX_COUNT, MAX_ZIPF_RANKS, Unit, Zipf};
pub use error::ScenarioError;
pub use format::*;
pub use plan::{CallableTool, Plan};
pub use rng::{DOMAIN_ARRIVALS, DOMAIN_RANK, DOMAIN_TARGET, DOMAIN_USER, Rng};
pub use target::{
    CallBehaviour, CallReply, GetStreamPolicy, MODERN_VERSION, MockTarget, MockTool, ServerCaps,
    ToolInfo,
};
pub use user::*;
