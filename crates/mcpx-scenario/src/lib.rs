//! `mcpx-scenario`: the sans-IO half of the load tester (work in progress).
