//! `mcpx-load`: the load tester's I/O half (work in progress): virtual users from
//! `mcpx-scenario` driven over `mcpx-client`, measured into HdrHistograms.
