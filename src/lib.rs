//! mcpx: a fast, lean Model Context Protocol engine and load tester.
//!
//! This facade re-exports the workspace crates behind cargo features, so an embedder adds one
//! dependency:
//!
//! - `wire` (default): [`wire`], the sans-IO zero-copy JSON-RPC / MCP codec with SSE and stdio
//!   framing (`mcpx-wire`).
//! - `server` (default): [`proto`], the sans-IO protocol core (`mcpx-proto`), and [`server`],
//!   the Streamable HTTP server (`mcpx-server`); `examples/server.rs` is a complete small server.
//!
//! The client and the load tester (`load`) arrive as their crates land.

#![forbid(unsafe_code)]

#[cfg(feature = "wire")]
pub use mcpx_wire as wire;

#[cfg(feature = "server")]
pub use mcpx_proto as proto;

#[cfg(feature = "server")]
pub use mcpx_server as server;

/// The README's code blocks, compiled and run as doc tests so the README cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
