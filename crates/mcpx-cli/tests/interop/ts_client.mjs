// The official TypeScript SDK client (@modelcontextprotocol/sdk, pinned in peers/package-lock.json)
// against `mcpx serve` over Streamable HTTP: lists and calls every tool (progress through
// `onprogress`, logging through a notification handler, sampling and elicitation answered by
// request handlers registered on the client with the matching capabilities), reads every resource
// and the template, lists and gets every prompt, completes a prompt argument.
//
// Usage: MCPX_PEERS=/path/to/.peers node ts_client.mjs <url> [auto|sse|json]
// In `json` mode the server drops everything sent before a response, so the tools that need a
// server-to-client request (sampling, elicitation) are skipped and no notification is required.
// Exits non-zero with a message naming the failed check; prints one summary line on success.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [url, mode = 'auto'] = process.argv.slice(2);
const peers = process.env.MCPX_PEERS;
if (!url || !peers) {
  console.error('usage: MCPX_PEERS=<peers dir> node ts_client.mjs <url> [auto|sse|json]');
  process.exit(2);
}
// Resolve the SDK from the pinned peers folder, never from wherever this script lives.
const require = createRequire(path.join(peers, 'node_modules', 'resolve-from-here.js'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} = require('@modelcontextprotocol/sdk/types.js');
const sdkVersion = JSON.parse(
  readFileSync(path.join(peers, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8'),
).version;

const PNG_1X1_RED =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC';
const streaming = mode !== 'json';

let step = 'connect';
function check(cond, what, detail) {
  if (!cond) {
    const extra = detail === undefined ? '' : `: ${JSON.stringify(detail)}`;
    throw new Error(`check failed in ${step}: ${what}${extra}`);
  }
}
const text0 = (r) => r.content?.[0]?.text ?? '';

// Server-to-client requests the handlers saw, by method.
const seen = { sampling: [], elicitation: [] };
const logs = [];

const client = new Client(
  { name: 'mcpx-interop-ts', version: '1.0.0' },
  { capabilities: { sampling: {}, elicitation: { form: {} } } },
);
client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
  seen.sampling.push(req.params);
  const prompt = req.params.messages?.[0]?.content?.text ?? '';
  return {
    role: 'assistant',
    content: { type: 'text', text: `sampled(${prompt})` },
    model: 'mcpx-interop-model',
    stopReason: 'endTurn',
  };
});
client.setRequestHandler(ElicitRequestSchema, async (req) => {
  seen.elicitation.push(req.params);
  const props = req.params.requestedSchema?.properties ?? {};
  const content = {};
  if ('username' in props) {
    content.username = 'interop-user';
    content.email = 'interop@example.com';
  } else if ('untitledSingle' in props) {
    Object.assign(content, {
      untitledSingle: 'option2',
      titledSingle: 'value3',
      legacyEnum: 'opt1',
      untitledMulti: ['option1', 'option3'],
      titledMulti: ['value2'],
    });
  } else {
    // Accept with the defaults the schema offers (SEP-1034).
    for (const [k, v] of Object.entries(props)) if ('default' in v) content[k] = v.default;
  }
  return { action: 'accept', content };
});
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  logs.push(n.params);
});

// What each tool must answer. `needs` names a server-to-client feature: skipped in json mode.
const STATELESS_DIAGNOSTICS = [
  'test_input_required_result_elicitation',
  'test_input_required_result_sampling',
  'test_input_required_result_list_roots',
  'test_input_required_result_request_state',
  'test_input_required_result_tampered_state',
  'test_input_required_result_multiple_inputs',
  'test_input_required_result_multi_round',
  'test_input_required_result_capabilities',
  'test_missing_capability',
  'test_streaming_elicitation',
  'test_logging_tool',
];

const TOOLS = {
  echo: { args: { text: 'hello from the TS SDK' }, check: (r) => check(text0(r) === 'hello from the TS SDK', 'echo echoes', r) },
  test_simple_text: { check: (r) => check(r.content[0].type === 'text' && text0(r).length > 0, 'one text block', r) },
  test_image_content: {
    check: (r) => check(r.content[0].type === 'image' && r.content[0].mimeType === 'image/png' && r.content[0].data === PNG_1X1_RED, 'a PNG image block', r),
  },
  test_audio_content: {
    check: (r) => check(r.content[0].type === 'audio' && r.content[0].mimeType === 'audio/wav' && r.content[0].data.length > 0, 'a WAV audio block', r),
  },
  test_embedded_resource: {
    check: (r) => {
      const res = r.content[0].resource;
      check(r.content[0].type === 'resource' && res.uri === 'test://embedded-resource' && res.mimeType === 'text/plain' && res.text.length > 0, 'an embedded text resource', r);
    },
  },
  test_multiple_content_types: {
    check: (r) => check(JSON.stringify(r.content.map((c) => c.type)) === '["text","image","resource"]', 'text, image, resource blocks', r),
  },
  test_tool_with_logging: {
    before: async () => {
      await client.setLoggingLevel('debug');
      logs.length = 0;
    },
    check: async (r) => {
      check(text0(r).length > 0, 'a text result', r);
      if (!streaming) return;
      // Notifications precede the response on its SSE stream.
      const mine = logs.filter((l) => l.logger === 'test_tool_with_logging');
      check(mine.length === 3, '3 log notifications before the response', logs);
      check(mine.every((l) => l.level === 'info'), 'log level info', mine);
    },
  },
  test_tool_with_progress: {
    progress: true,
    check: (r, progress) => {
      check(text0(r).length > 0, 'a text result', r);
      if (!streaming) return;
      check(
        JSON.stringify(progress.map((p) => [p.progress, p.total])) === '[[0,100],[50,100],[100,100]]',
        'onprogress called with 0, 50, 100 of 100',
        progress,
      );
      check(progress[1].message === 'Halfway', 'progress message', progress);
    },
  },
  test_error_handling: { check: (r) => check(r.isError === true && text0(r).length > 0, 'isError with a text', r) },
  test_sampling: {
    needs: 'sampling',
    args: { prompt: 'What is mcpx?' },
    check: (r) => {
      check(!r.isError && text0(r) === 'LLM response: sampled(What is mcpx?)', 'the sampled answer', r);
      const p = seen.sampling.at(-1);
      check(p?.messages?.[0]?.content?.text === 'What is mcpx?' && p.maxTokens === 100, 'the sampling request', p);
    },
  },
  test_elicitation: {
    needs: 'elicitation',
    args: { message: 'Who are you?' },
    check: (r) => {
      check(!r.isError && text0(r).includes('action=accept') && text0(r).includes('interop@example.com'), 'the elicited answer', r);
      const p = seen.elicitation.at(-1);
      check(p?.message === 'Who are you?' && p.requestedSchema.required.includes('email'), 'the elicitation request', p);
    },
  },
  test_elicitation_sep1034_defaults: {
    needs: 'elicitation',
    check: (r) => {
      const t = text0(r);
      check(!r.isError && t.includes('action=accept') && t.includes('"name":"John Doe"') && t.includes('"age":30') && t.includes('"verified":true'), 'defaults accepted', r);
    },
  },
  test_elicitation_sep1330_enums: {
    needs: 'elicitation',
    check: (r) => {
      const t = text0(r);
      check(!r.isError && t.includes('action=accept') && t.includes('"titledMulti":["value2"]') && t.includes('"legacyEnum":"opt1"'), 'enum choices accepted', r);
    },
  },
  json_schema_2020_12_tool: {
    args: { name: 'mcpx', address: { street: '1 Main St', city: 'Paris' } },
    check: (r) => check(!r.isError && text0(r).includes('"city":"Paris"'), 'arguments received', r),
  },
  test_reconnection: { check: (r) => check(!r.isError && text0(r).length > 0, 'a text result', r) },
};

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  check(transport.sessionId, 'a session id after initialize');
  const version = transport.protocolVersion;
  const caps = client.getServerCapabilities();
  for (const c of ['tools', 'resources', 'prompts', 'logging', 'completions']) check(caps?.[c], `server capability ${c}`, caps);

  step = 'ping';
  await client.ping();

  step = 'tools/list';
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const name of Object.keys(TOOLS)) check(names.includes(name), `tool ${name} listed`, names);
  // The 2026-07-28 diagnostics (multi round-trip, logging gate, capability errors) are
  // exercised by the conformance suite's --requirements 2026-07-28 run; here they must be
  // listed, not called.
  const diagnostics = tools.filter((t) => STATELESS_DIAGNOSTICS.includes(t.name));
  check(diagnostics.length === STATELESS_DIAGNOSTICS.length, '2026-07-28 diagnostics listed', names);
  tools.splice(0, tools.length, ...tools.filter((t) => !STATELESS_DIAGNOSTICS.includes(t.name)));
  for (const t of tools) {
    check(TOOLS[t.name], `a check for listed tool ${t.name} (add one to ts_client.mjs)`);
    check(t.description && t.inputSchema?.type === 'object', `description and inputSchema of ${t.name}`, t);
  }
  const schemaTool = tools.find((t) => t.name === 'json_schema_2020_12_tool');
  check(schemaTool.inputSchema.$schema === 'https://json-schema.org/draft/2020-12/schema' && schemaTool.inputSchema.$defs?.address, '2020-12 schema kept', schemaTool);

  let called = 0;
  const skipped = [];
  for (const t of tools) {
    const spec = TOOLS[t.name];
    step = `tools/call ${t.name}`;
    if (spec.needs && !streaming) {
      skipped.push(t.name);
      continue;
    }
    if (spec.before) await spec.before();
    const progress = [];
    const options = spec.progress ? { onprogress: (p) => progress.push(p) } : {};
    const result = await client.callTool({ name: t.name, arguments: spec.args ?? {} }, undefined, options);
    await spec.check(result, progress);
    called++;
  }
  if (streaming) {
    check(seen.sampling.length === 1, 'one sampling request', seen.sampling.length);
    check(seen.elicitation.length === 3, 'three elicitation requests', seen.elicitation.length);
  }

  step = 'resources/list';
  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri).sort();
  check(JSON.stringify(uris) === '["test://static-binary","test://static-text","test://watched-resource"]', 'the static resources', uris);
  for (const r of resources) {
    step = `resources/read ${r.uri}`;
    const { contents } = await client.readResource({ uri: r.uri });
    check(contents.length === 1 && contents[0].uri === r.uri && contents[0].mimeType === r.mimeType, 'one content with uri and mimeType', contents);
    if (r.uri === 'test://static-binary') check(contents[0].blob === PNG_1X1_RED, 'the PNG blob', contents);
    else check(contents[0].text.length > 0, 'a text', contents);
  }
  step = 'resources/templates/list';
  const { resourceTemplates } = await client.listResourceTemplates();
  check(resourceTemplates.length === 1 && resourceTemplates[0].uriTemplate === 'test://template/{id}/data', 'the template', resourceTemplates);
  step = 'resources/read test://template/123/data';
  const tpl = await client.readResource({ uri: 'test://template/123/data' });
  check(JSON.parse(tpl.contents[0].text).id === '123', 'the id substituted', tpl);
  step = 'resources/subscribe';
  await client.subscribeResource({ uri: 'test://watched-resource' });
  await client.unsubscribeResource({ uri: 'test://watched-resource' });

  step = 'prompts/list';
  // `test_input_required_result_prompt` is a 2026-07-28 diagnostic like the tools above.
  const prompts = (await client.listPrompts()).prompts.filter((p) => p.name !== 'test_input_required_result_prompt');
  const PROMPTS = {
    test_simple_prompt: { check: (m) => check(m[0].content.text.length > 0, 'a text message', m) },
    test_prompt_with_arguments: {
      args: { arg1: 'alpha', arg2: 'beta' },
      check: (m) => check(m[0].content.text.includes('alpha') && m[0].content.text.includes('beta'), 'both arguments in the text', m),
    },
    test_prompt_with_embedded_resource: {
      args: { resourceUri: 'test://example-resource' },
      check: (m) => check(m[0].content.type === 'resource' && m[0].content.resource.uri === 'test://example-resource', 'the embedded resource', m),
    },
    test_prompt_with_image: { check: (m) => check(m[0].content.type === 'image' && m[0].content.data === PNG_1X1_RED, 'the image', m) },
  };
  check(JSON.stringify(prompts.map((p) => p.name).sort()) === JSON.stringify(Object.keys(PROMPTS).sort()), 'the prompts', prompts);
  for (const p of prompts) {
    step = `prompts/get ${p.name}`;
    const spec = PROMPTS[p.name];
    const required = (p.arguments ?? []).filter((a) => a.required).map((a) => a.name).sort();
    check(JSON.stringify(required) === JSON.stringify(Object.keys(spec.args ?? {}).sort()), 'the required arguments', p);
    const { messages } = await client.getPrompt({ name: p.name, arguments: spec.args });
    check(messages.length > 0 && messages.every((m) => m.role && m.content), 'messages with role and content', messages);
    spec.check(messages);
  }

  step = 'completion/complete';
  const done = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'te' } });
  check(JSON.stringify(done.completion.values) === '["test","testValue1"]', 'completions of "te"', done);

  step = 'DELETE session';
  await transport.terminateSession();
  await client.close();
  const skip = skipped.length ? `; ${skipped.length} skipped in json mode: ${skipped.join(', ')}` : '';
  console.log(
    `ts-sdk ${sdkVersion} (--response-mode ${mode}, ${version}): ${called} tools, ${resources.length + 1} resources, ${prompts.length} prompts OK${skip}`,
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`ts-sdk ${sdkVersion} (--response-mode ${mode}) FAILED at ${step}: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
