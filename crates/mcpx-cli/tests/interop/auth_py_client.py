"""The official Python SDK client's OAuth flow (`mcp` from PyPI, its `OAuthClientProvider`)
against `mcpx serve --auth-jwks ...` (the authorization server is the Rust one in
tests/auth_as): the provider meets the 401, reads the protected resource metadata and the
authorization server's, registers a client dynamically, and hands the authorization URL to the
redirect handler, which follows the (auto-approving) authorize endpoint itself and keeps the
code from the redirect for the callback handler; the provider then exchanges the code (PKCE)
for a token and retries. Ends with tools/call.

Usage: .peers/venv/bin/python auth_py_client.py <url>
Exits non-zero with a message naming the failed check; prints one summary line on success.
"""

from __future__ import annotations

import sys
import urllib.parse

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

# Never visited: the redirect handler reads the code from the authorize endpoint's redirect.
REDIRECT = "http://127.0.0.1:1/callback"


def check(cond: object, what: str, detail: object = None) -> None:
    if not cond:
        raise SystemExit(f"check failed: {what}" + ("" if detail is None else f": {detail!r}"))


class Memory:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def run(url: str) -> str:
    redirects: list[dict[str, list[str]]] = []

    async def on_redirect(authorization_url: str) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorization_url).query)
        check(query.get("resource") == [url], "resource = the MCP URL", query)
        check(query.get("code_challenge_method") == ["S256"], "PKCE S256", query)
        async with httpx2.AsyncClient(follow_redirects=False) as http:
            r = await http.get(authorization_url)
        check(r.status_code == 302, "authorize redirects", r.status_code)
        location = r.headers["location"]
        check(location.startswith(REDIRECT), "back to the redirect URI", location)
        redirects.append(urllib.parse.parse_qs(urllib.parse.urlsplit(location).query))

    async def on_callback() -> AuthorizationCodeResult:
        q = redirects[-1]
        return AuthorizationCodeResult(
            code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
        )

    storage = Memory()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="mcpx-auth-py",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=on_redirect,
        callback_handler=on_callback,
    )
    http = create_mcp_http_client(auth=provider)
    transport = streamable_http_client(url, http_client=http)
    async with http, Client(transport, read_timeout_seconds=30) as client:
        tools = await client.list_tools()
        check(any(t.name == "echo" for t in tools.tools), "echo listed")
        result = await client.call_tool("echo", {"text": "hello oauth"})
        check(not result.is_error, "echo answered", result)
        text = result.content[0].text
        check(text == "hello oauth", "echo text", text)
        version = client.protocol_version
    check(len(redirects) == 1, "one authorization", len(redirects))
    check(storage.tokens is not None and storage.client is not None, "token and client kept")
    return f"python-sdk oauth ({version}): registered, authorized (PKCE), token, tools/call ok"


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: auth_py_client.py <url>")
    print(anyio.run(run, sys.argv[1]))


if __name__ == "__main__":
    main()
