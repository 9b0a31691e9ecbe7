// The official TypeScript SDK client (@modelcontextprotocol/sdk, pinned in peers/package-lock.json)
// against mcpx over its other transports: `StdioClientTransport` spawning `mcpx serve --stdio`, or
// `SSEClientTransport` against `mcpx serve --legacy-sse` (the 2024-11-05 HTTP+SSE transport).
// Lists and calls the conformance tools that exercise every direction of the protocol (a plain
// result, progress through `onprogress`, log notifications, sampling and elicitation answered by
// the client's request handlers), reads a resource and the template, gets a prompt, completes an
// argument; over stdio it also checks that the server exits by itself once stdin is closed.
//
// Usage: MCPX_PEERS=/path/to/.peers node ts_transports.mjs stdio <path to mcpx>
//        MCPX_PEERS=/path/to/.peers node ts_transports.mjs sse <http://127.0.0.1:PORT/sse>
// Exits non-zero with a message naming the failed check; prints one summary line on success.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [kind, target] = process.argv.slice(2);
const peers = process.env.MCPX_PEERS;
if (!['stdio', 'sse'].includes(kind) || !target || !peers) {
  console.error('usage: MCPX_PEERS=<peers dir> node ts_transports.mjs stdio <mcpx> | sse <url>');
  process.exit(2);
}
const require = createRequire(path.join(peers, 'node_modules', 'resolve-from-here.js'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { SSEClientTransport } = require('@modelcontextprotocol/sdk/client/sse.js');
const {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} = require('@modelcontextprotocol/sdk/types.js');
const sdkVersion = JSON.parse(
  readFileSync(path.join(peers, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8'),
).version;

let step = 'connect';
function check(cond, what, detail) {
  if (!cond) {
    const extra = detail === undefined ? '' : `: ${JSON.stringify(detail)}`;
    throw new Error(`check failed in ${step}: ${what}${extra}`);
  }
}
const text0 = (r) => r.content?.[0]?.text ?? '';

const seen = { sampling: 0, elicitation: 0 };
const logs = [];
const client = new Client(
  { name: 'mcpx-interop-ts-transports', version: '1.0.0' },
  { capabilities: { sampling: {}, elicitation: { form: {} } } },
);
client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
  seen.sampling++;
  const prompt = req.params.messages?.[0]?.content?.text ?? '';
  return { role: 'assistant', content: { type: 'text', text: `sampled(${prompt})` }, model: 'm', stopReason: 'endTurn' };
});
client.setRequestHandler(ElicitRequestSchema, async () => {
  seen.elicitation++;
  return { action: 'accept', content: { username: 'interop-user', email: 'interop@example.com' } };
});
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));

async function main() {
  const transport =
    kind === 'stdio'
      ? new StdioClientTransport({ command: target, args: ['serve', '--stdio'], stderr: 'pipe' })
      : new SSEClientTransport(new URL(target));
  let stderr = '';
  if (kind === 'stdio') transport.stderr?.on('data', (d) => (stderr += d));
  await client.connect(transport);
  const caps = client.getServerCapabilities();
  for (const c of ['tools', 'resources', 'prompts', 'logging', 'completions']) check(caps?.[c], `server capability ${c}`, caps);

  step = 'ping';
  await client.ping();
  step = 'tools/list';
  const names = (await client.listTools()).tools.map((t) => t.name);
  for (const n of ['echo', 'test_tool_with_progress', 'test_tool_with_logging', 'test_sampling', 'test_elicitation']) {
    check(names.includes(n), `tool ${n} listed`, names);
  }

  step = 'tools/call echo';
  const echo = await client.callTool({ name: 'echo', arguments: { text: `hello over ${kind}` } });
  check(text0(echo) === `hello over ${kind}`, 'echo echoes', echo);

  step = 'tools/call test_tool_with_progress';
  const progress = [];
  const p = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
    onprogress: (x) => progress.push(x),
  });
  check(text0(p).length > 0, 'a text result', p);
  // The server sends 0, 50 and 100 before the result (the Rust tests check the bytes). The SDK
  // runs progress handlers a microtask late but settles a response at once, and over stdio and
  // EventSource a whole read chunk is handled in one go: when the last progress and the result
  // share a chunk, the SDK drops that progress itself ("unknown token"). So the last one is
  // not required here; the first two, in order, are.
  const got = JSON.stringify(progress.map((x) => x.progress));
  check(got === '[0,50,100]' || got === '[0,50]', 'progress 0, 50 (, 100)', progress);

  step = 'tools/call test_tool_with_logging';
  await client.setLoggingLevel('debug');
  const l = await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
  check(text0(l).length > 0, 'a text result', l);
  check(logs.filter((x) => x.logger === 'test_tool_with_logging').length === 3, '3 log notifications', logs);

  step = 'tools/call test_sampling';
  const s = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'What is mcpx?' } });
  check(text0(s) === 'LLM response: sampled(What is mcpx?)' && seen.sampling === 1, 'the sampled answer', s);

  step = 'tools/call test_elicitation';
  const e = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who are you?' } });
  check(text0(e).includes('interop@example.com') && seen.elicitation === 1, 'the elicited answer', e);

  step = 'resources/read';
  const r = await client.readResource({ uri: 'test://static-text' });
  check(r.contents[0]?.text?.length > 0, 'a text', r);
  const tpl = await client.readResource({ uri: 'test://template/7/data' });
  check(JSON.parse(tpl.contents[0].text).id === '7', 'the id substituted', tpl);

  step = 'prompts/get';
  const g = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'alpha', arg2: 'beta' } });
  check(g.messages[0].content.text.includes('alpha'), 'the argument in the text', g);

  step = 'completion/complete';
  const done = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'te' } });
  check(done.completion.values.includes('test'), 'completions of "te"', done);

  step = 'close';
  const pid = transport.pid;
  const started = Date.now();
  await client.close();
  const closeMs = Date.now() - started;
  if (kind === 'stdio') {
    // The SDK ends stdin, then waits up to 2 s before SIGTERM: a prompt close means the server
    // exited by itself on EOF.
    check(closeMs < 1500, 'the server exits on stdin EOF (close took < 1.5 s)', closeMs);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    check(!alive, 'the server process is gone', pid);
    check(!stderr.includes('panicked'), 'no panic on stderr', stderr);
  }
  console.log(`ts-sdk ${sdkVersion} over ${kind}: tools, progress, logs, sampling, elicitation, resources, prompts, completion OK (close ${closeMs} ms)`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`ts-sdk ${sdkVersion} over ${kind} FAILED at ${step}: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
