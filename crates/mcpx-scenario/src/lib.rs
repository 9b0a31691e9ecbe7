//! `mcpx-scenario`: the sans-IO brain of `mcpx load`.
#![forbid(unsafe_code)]

mod dist;
mod error;
mod format;
mod reader;
mod rng;

pub use dist::{Dist, MAX_COUNT, MAX_ZIPF_RANKS, Unit, Zipf};
pub use error::ScenarioError;
pub use format::*;
pub use rng::{DOMAIN_ARRIVALS, DOMAIN_RANK, DOMAIN_TARGET, DOMAIN_USER, Rng};
