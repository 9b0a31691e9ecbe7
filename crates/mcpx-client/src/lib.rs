//! `mcpx-client`: the MCP client (work in progress).
