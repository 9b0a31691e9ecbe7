"""A small MCP server written with the official Python SDK (`mcp` from PyPI, pinned in
peers/requirements.txt), for mcpx-client's interop tests. Tools: `echo` (text) and `count`
(progress notifications, then a text result).

Usage: .peers/venv/bin/python py_server.py <mode> <port>
  mode: stateful-sse | stateful-json | stateless-sse | stateless-json  (Streamable HTTP on /mcp)
        legacy                                                        (HTTP+SSE: GET /sse)
        stdio                                                         (newline-delimited JSON)
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import Context, MCPServer

mode = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0

server = MCPServer("py-interop")


@server.tool()
def echo(text: str) -> str:
    """Echoes text."""
    return text


@server.tool()
async def count(to: int, ctx: Context) -> str:
    """Counts with progress."""
    for i in range(1, to + 1):
        await ctx.report_progress(i, to)
    return f"counted to {to}"


if mode == "stdio":
    server.run("stdio")
elif mode == "legacy":
    server.run("sse", host="127.0.0.1", port=port)
else:
    server.run(
        "streamable-http",
        host="127.0.0.1",
        port=port,
        json_response=mode.endswith("-json"),
        stateless_http=mode.startswith("stateless"),
    )
