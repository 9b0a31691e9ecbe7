// A small MCP server written with the official TypeScript SDK (@modelcontextprotocol/sdk, pinned
// in peers/package-lock.json), for mcpx-client's interop tests. Tools: `echo` (text) and `count`
// (progress notifications, then a text result).
//
// Usage: MCPX_PEERS=<peers dir> node ts_server.mjs <mode> [port]
//   mode: stateful-sse | stateful-json | stateless-sse | stateless-json  (Streamable HTTP on /mcp)
//         legacy                                                        (HTTP+SSE: GET /sse, POST /messages)
//         stdio                                                         (newline-delimited JSON)
// HTTP modes print "listening <port>" on stdout once the port is open.

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const [mode, port = '0'] = process.argv.slice(2);
const peers = process.env.MCPX_PEERS;
if (!mode || !peers) {
  console.error('usage: MCPX_PEERS=<peers dir> node ts_server.mjs <mode> [port]');
  process.exit(2);
}
const require = createRequire(path.join(peers, 'node_modules', 'resolve-from-here.js'));
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { SSEServerTransport } = require('@modelcontextprotocol/sdk/server/sse.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { z } = require('zod');

function build() {
  const server = new McpServer({ name: 'ts-interop', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes text', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool(
    'count',
    { description: 'Counts with progress', inputSchema: { to: z.number() } },
    async ({ to }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= to; i++) {
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: to },
          });
        }
      }
      return { content: [{ type: 'text', text: `counted to ${to}` }] };
    },
  );
  return server;
}

if (mode === 'stdio') {
  await build().connect(new StdioServerTransport());
} else {
  const sessions = new Map(); // session id -> transport (stateful), or SSE session id -> transport
  const json = mode.endsWith('-json');
  const http = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (mode === 'legacy') {
        if (req.method === 'GET' && url.pathname === '/sse') {
          const t = new SSEServerTransport('/messages', res);
          sessions.set(t.sessionId, t);
          res.on('close', () => sessions.delete(t.sessionId));
          await build().connect(t);
          return;
        }
        if (req.method === 'POST' && url.pathname === '/messages') {
          const t = sessions.get(url.searchParams.get('sessionId'));
          if (!t) {
            res.writeHead(404).end('unknown session');
            return;
          }
          await t.handlePostMessage(req, res);
          return;
        }
        res.writeHead(405).end();
        return;
      }
      if (url.pathname !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      if (mode.startsWith('stateless')) {
        const t = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
        const server = build();
        res.on('close', () => {
          t.close();
          server.close();
        });
        await server.connect(t);
        await t.handleRequest(req, res);
        return;
      }
      const sid = req.headers['mcp-session-id'];
      let t = sid ? sessions.get(sid) : undefined;
      if (!t) {
        if (sid) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(
            JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
          );
          return;
        }
        t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: json,
          onsessioninitialized: (id) => sessions.set(id, t),
        });
        t.onclose = () => t.sessionId && sessions.delete(t.sessionId);
        await build().connect(t);
      }
      await t.handleRequest(req, res);
    } catch (e) {
      console.error(e);
      if (!res.headersSent) res.writeHead(500).end(String(e));
    }
  });
  http.listen(Number(port), '127.0.0.1', () => {
    console.log(`listening ${http.address().port}`);
  });
}
