// The official TypeScript SDK client's OAuth flow against `mcpx serve --auth-jwks ...` (the
// authorization server is the Rust one in tests/auth_as): the transport meets the 401, finds
// the protected resource metadata and the authorization server's, registers a client
// dynamically, and sends the user to the authorization URL through the OAuthClientProvider,
// whose redirectToAuthorization follows the (auto-approving) authorize endpoint itself and
// keeps the code from the redirect; then finishAuth exchanges the code (PKCE) for a token and
// a second connect runs with it, ending with tools/call.
//
// Usage: MCPX_PEERS=/path/to/.peers node auth_ts_client.mjs <url>
// Exits non-zero with a message naming the failed check; prints one summary line on success.

import { createRequire } from 'node:module';
import path from 'node:path';

const [url] = process.argv.slice(2);
const peers = process.env.MCPX_PEERS;
if (!url || !peers) {
  console.error('usage: MCPX_PEERS=<peers dir> node auth_ts_client.mjs <url>');
  process.exit(2);
}
const require = createRequire(path.join(peers, 'node_modules', 'resolve-from-here.js'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { UnauthorizedError } = require('@modelcontextprotocol/sdk/client/auth.js');

function check(cond, what, detail) {
  if (!cond) {
    const extra = detail === undefined ? '' : `: ${JSON.stringify(detail)}`;
    throw new Error(`check failed: ${what}${extra}`);
  }
}

// Never visited: the provider reads the code from the authorize endpoint's redirect.
const REDIRECT = 'http://127.0.0.1:1/callback';

class AutoProvider {
  constructor() {
    this.code = undefined;
    this.redirects = 0;
  }
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: 'mcpx-auth-ts',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this._tokens = tokens;
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    return this._verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    this.redirects += 1;
    check(authorizationUrl.searchParams.get('resource') === url, 'resource = the MCP URL', authorizationUrl.href);
    check(authorizationUrl.searchParams.get('code_challenge_method') === 'S256', 'PKCE S256');
    const r = await fetch(authorizationUrl, { redirect: 'manual' });
    check(r.status === 302, 'authorize redirects', r.status);
    const back = new URL(r.headers.get('location'));
    check(back.href.startsWith(REDIRECT), 'back to the redirect URI', back.href);
    this.code = back.searchParams.get('code');
    check(this.code, 'a code in the redirect');
  }
}

const provider = new AutoProvider();
const transport = () => new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
let client = new Client({ name: 'mcpx-auth-ts', version: '1.0.0' });
let first = transport();
try {
  await client.connect(first);
  throw new Error('check failed: connected without a token');
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
check(provider.redirects === 1 && provider.code, 'one authorization', provider.redirects);
await first.finishAuth(provider.code);
check(provider.tokens()?.access_token, 'a token after finishAuth');
client = new Client({ name: 'mcpx-auth-ts', version: '1.0.0' });
await client.connect(transport());
const tools = await client.listTools();
check(tools.tools.some((t) => t.name === 'echo'), 'echo listed');
const r = await client.callTool({ name: 'echo', arguments: { text: 'hello oauth' } });
check(!r.isError && r.content?.[0]?.text === 'hello oauth', 'echo answered', r);
await client.close();
console.log(`ts-sdk oauth: registered, authorized (PKCE), token, tools/call ok`);
