"""The official Python SDK client (`mcp` from PyPI, pinned in peers/requirements.txt) against mcpx
over its other transports: `stdio_client` spawning `mcpx serve --stdio`, or `sse_client` against
`mcpx serve --legacy-sse` (the 2024-11-05 HTTP+SSE transport). Runs the same checks as
`py_client.py` (every tool with progress, logs, sampling and elicitation; every resource, prompt
and completion), with the transport handed to the SDK's `Client` instead of a URL.

Usage: .peers/venv/bin/python py_transports.py stdio <path to mcpx> [--connect auto|legacy]
       .peers/venv/bin/python py_transports.py sse <http://127.0.0.1:PORT/sse>
`--connect auto` (stdio only) lets the SDK probe `server/discover` and adopt the stateless era
(2026-07-28) over stdio; `legacy` forces the initialize handshake. Over SSE the handshake is the
only choice (the transport belongs to the session era).
Exits non-zero with a message naming the failed check; prints one summary line on success.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import anyio  # noqa: E402
import py_client  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transport", choices=["stdio", "sse"])
    parser.add_argument("target")
    parser.add_argument("--connect", default="legacy", choices=["auto", "legacy"])
    args = parser.parse_args()
    if args.transport == "stdio":
        server: object = StdioServerParameters(command=args.target, args=["serve", "--stdio"])
    else:
        server = sse_client(args.target)
    try:
        # "sse": every notification a handler sends reaches the client (no JSON-mode skips).
        summary = anyio.run(py_client.run, server, "sse", args.connect, set())
        print(summary.replace("--response-mode sse", f"over {args.transport}, --connect {args.connect}"))
        return 0
    except BaseException as e:  # noqa: BLE001 - any failure fails the run
        traceback.print_exc()
        leaf: BaseException = e
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        print(
            f"python-sdk {py_client.VERSION} over {args.transport} (--connect {args.connect}) "
            f"FAILED at {py_client.step}: {leaf}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
