//! `mcpx-replay`: `mcpx record` and `mcpx replay` (work in progress).
