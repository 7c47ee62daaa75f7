import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';

import { builtinTools } from './builtin/index.js';
import type { AgentToolScope, McpServerConfig, Tool, ToolOutput } from './tool.js';
import { ToolRegistry, truncateUtf8, type McpToolSource } from './tool-registry.js';

import { generateKeySetValue, parseKeySet } from '@aibox/identity';

import { toolContext } from '../../test/support/tool-context.js';
import { SandboxClient } from '../repositories/sandbox-client.js';

const contextWith = toolContext;

function fakeTool(name: string, run: Tool['run'], extra: Partial<Tool> = {}): Tool {
  return {
    name,
    description: `The ${name} tool.`,
    parameters: { type: 'object', properties: {}, additionalProperties: false },
    run,
    ...extra,
  };
}

const answer = (text: string, isError = false): Promise<ToolOutput> => Promise.resolve({ text, isError });

const add = fakeTool('add', (args) => answer(String(Number(args['a']) + Number(args['b']))), {
  parameters: {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
    additionalProperties: false,
  },
});

/** A tool that never answers and ignores its signal; `seen` gets the signal it was given. */
function stuckTool(seen: AbortSignal[], timeoutMs?: number): Tool {
  return fakeTool(
    'stuck',
    (_args, context) => {
      seen.push(context.signal);
      return new Promise<ToolOutput>(() => undefined);
    },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
}

const noMcp: McpToolSource = {
  toolsOf: () => Promise.reject(new Error('no MCP in this test')),
};

function scopeOf(tools: readonly string[], extra: Partial<AgentToolScope> = {}): AgentToolScope {
  return { tools, mcpServers: [], approval: { tools: [], all: false }, ...extra };
}

function registryOf(tools: readonly Tool[], mcp: McpToolSource = noMcp, outputMaxBytes = 1024): ToolRegistry {
  return new ToolRegistry({ defaultTimeoutMs: 5_000, outputMaxBytes }, tools, mcp);
}

describe('ToolRegistry.forAgent', () => {
  it('gives only the built-ins the agent allows, as Chat Completions function tools', async () => {
    const set = await registryOf([add, fakeTool('other', () => answer('x'))]).forAgent(scopeOf(['add']));
    expect(set.definitions()).toEqual([
      {
        type: 'function',
        function: { name: 'add', description: 'The add tool.', parameters: add.parameters },
      },
    ]);
    expect(set.has('add')).toBe(true);
    expect(set.has('other')).toBe(false);
  });

  it('gives an empty tools array when the agent has no tool', async () => {
    const set = await registryOf([add]).forAgent(scopeOf([]));
    expect(set.definitions()).toEqual([]);
  });

  it('honours tools a skill names only when the agent allows them', async () => {
    const other = fakeTool('other', () => answer('x'));
    const set = await registryOf([add, other]).forAgent(scopeOf(['add']), ['add', 'other']);
    expect(set.names()).toEqual(['add']);
    expect(set.withheld).toEqual([{ name: 'other', reason: 'not_allowed' }]);
  });

  it('reports allowed names that are no built-in here (e.g. http_fetch turned off)', async () => {
    const set = await registryOf([add]).forAgent(scopeOf(['add', 'http_fetch']));
    expect(set.names()).toEqual(['add']);
    expect(set.withheld).toEqual([{ name: 'http_fetch', reason: 'unknown' }]);
  });

  it('adds MCP tools, and lists a server that cannot be reached instead of failing', async () => {
    const docs: McpServerConfig = { name: 'docs', transport: 'http', url: 'http://127.0.0.1:1/mcp' };
    const down: McpServerConfig = { name: 'down', transport: 'http', url: 'http://127.0.0.1:2/mcp' };
    const mcp: McpToolSource = {
      toolsOf: (server) =>
        server.name === 'docs'
          ? Promise.resolve([fakeTool('mcp__docs__search', () => answer('found'))])
          : Promise.reject(new Error('connect ECONNREFUSED')),
    };
    const set = await registryOf([add], mcp).forAgent(scopeOf(['add'], { mcpServers: [docs, down] }));
    expect(set.names()).toEqual(['add', 'mcp__docs__search']);
    expect(set.unavailable).toEqual([{ server: 'down', error: 'connect ECONNREFUSED' }]);
    expect(await set.call('mcp__docs__search', '{}', contextWith())).toEqual({
      ok: true,
      text: 'found',
      truncated: false,
    });
  });
});

describe('ToolSet.requiresApproval', () => {
  const server: McpServerConfig = {
    name: 'ops',
    transport: 'http',
    url: 'http://127.0.0.1:1/mcp',
    requires_approval: true,
  };
  const mcp: McpToolSource = {
    toolsOf: () => Promise.resolve([fakeTool('mcp__ops__restart', () => answer('ok'))]),
  };
  const risky = fakeTool('risky', () => answer('done'), { requiresApproval: true });

  it('follows the tool, the MCP server config and the agent', async () => {
    const registry = registryOf([add, risky, fakeTool('listed', () => answer('x'))], mcp);
    const set = await registry.forAgent(
      scopeOf(['add', 'risky', 'listed'], {
        mcpServers: [server],
        approval: { tools: ['listed'], all: false },
      }),
    );
    expect(set.requiresApproval('add')).toBe(false);
    expect(set.requiresApproval('risky')).toBe(true);
    expect(set.requiresApproval('listed')).toBe(true);
    expect(set.requiresApproval('mcp__ops__restart')).toBe(true);
  });

  it('asks for every tool when the agent says all, and not for a tool the set lacks', async () => {
    const set = await registryOf([add]).forAgent(scopeOf(['add'], { approval: { tools: [], all: true } }));
    expect(set.requiresApproval('add')).toBe(true);
    expect(set.requiresApproval('nope')).toBe(false);
  });
});

describe('ToolSet.call', () => {
  it('runs a tool with its validated arguments', async () => {
    const set = await registryOf([add]).forAgent(scopeOf(['add']));
    expect(await set.call('add', '{"a": 2, "b": 3}', contextWith())).toEqual({
      ok: true,
      text: '5',
      truncated: false,
    });
  });

  it('refuses a tool the set does not hold, naming the ones it has', async () => {
    const set = await registryOf([add]).forAgent(scopeOf(['add']));
    const result = await set.call('delete_everything', '{}', contextWith());
    expect(result).toMatchObject({ ok: false, code: 'tool_unknown' });
    expect(result.text).toContain('Available tools: add');
  });

  it('refuses arguments that are not JSON, with the parse problem', async () => {
    const set = await registryOf([add]).forAgent(scopeOf(['add']));
    const result = await set.call('add', '{"a": 2,', contextWith());
    expect(result).toMatchObject({ ok: false, code: 'tool_arguments_invalid' });
    expect(result.text).toMatch(/not JSON \(.+\)/);
  });

  it('refuses JSON that is not an object', async () => {
    const set = await registryOf([add]).forAgent(scopeOf(['add']));
    expect(await set.call('add', '[1, 2]', contextWith())).toMatchObject({
      ok: false,
      code: 'tool_arguments_invalid',
      text: expect.stringContaining('not an array') as unknown,
    });
    expect(await set.call('add', 'null', contextWith())).toMatchObject({ code: 'tool_arguments_invalid' });
  });

  it('lists every schema violation', async () => {
    let ran = false;
    const strict = fakeTool(
      'add',
      () => {
        ran = true;
        return answer('ran');
      },
      { parameters: add.parameters },
    );
    const set = await registryOf([strict]).forAgent(scopeOf(['add']));
    const result = await set.call('add', '{"a": "two", "c": 1}', contextWith());
    expect(result).toMatchObject({ ok: false, code: 'tool_arguments_invalid' });
    expect(result.text).toContain('/a must be number');
    expect(result.text).toContain("must have required property 'b'");
    expect(result.text).toContain('must NOT have additional properties: c');
    expect(ran).toBe(false);
  });

  it('treats empty arguments as an empty object', async () => {
    const set = await registryOf([fakeTool('ping', () => answer('pong'))]).forAgent(scopeOf(['ping']));
    expect(await set.call('ping', '', contextWith())).toEqual({ ok: true, text: 'pong', truncated: false });
  });

  it('ends a call whose tool never answers and ignores its signal, and aborts that signal', async () => {
    const seen: AbortSignal[] = [];
    const set = await registryOf([stuckTool(seen, 50)]).forAgent(scopeOf(['stuck']));
    const result = await set.call('stuck', '{}', contextWith());
    expect(result).toEqual({ ok: false, code: 'tool_timeout', text: 'stuck did not finish within 50 ms.' });
    expect(seen[0]?.aborted).toBe(true);
  });

  it('uses the runtime timeout for a tool that sets none', async () => {
    const seen: AbortSignal[] = [];
    const registry = new ToolRegistry(
      { defaultTimeoutMs: 60, outputMaxBytes: 1024 },
      [stuckTool(seen)],
      noMcp,
    );
    const set = await registry.forAgent(scopeOf(['stuck']));
    expect(await set.call('stuck', '{}', contextWith())).toMatchObject({ ok: false, code: 'tool_timeout' });
  });

  it('ends a call when the turn is cancelled, and aborts the tool', async () => {
    const seen: AbortSignal[] = [];
    const set = await registryOf([stuckTool(seen)]).forAgent(scopeOf(['stuck']));
    const turn = new AbortController();
    const pending = set.call('stuck', '{}', contextWith(turn.signal));
    await Promise.resolve();
    turn.abort(new Error('user pressed stop'));
    expect(await pending).toMatchObject({ ok: false, code: 'tool_cancelled' });
    expect(seen[0]?.aborted).toBe(true);
  });

  it('does not start a tool when the turn is already cancelled', async () => {
    const seen: AbortSignal[] = [];
    const set = await registryOf([stuckTool(seen)]).forAgent(scopeOf(['stuck']));
    expect(await set.call('stuck', '{}', contextWith(AbortSignal.abort()))).toMatchObject({
      code: 'tool_cancelled',
    });
    expect(seen).toEqual([]);
  });

  it('turns a thrown error into tool_failed with its message and no stack', async () => {
    const broken = fakeTool('broken', () => Promise.reject(new Error('disk on fire')));
    const set = await registryOf([broken]).forAgent(scopeOf(['broken']));
    const result = await set.call('broken', '{}', contextWith());
    expect(result).toEqual({ ok: false, code: 'tool_failed', text: 'broken failed: disk on fire' });
  });

  it('turns an error output into tool_failed with its text', async () => {
    const picky = fakeTool('picky', () => answer('no such city: Atlantis', true));
    const set = await registryOf([picky]).forAgent(scopeOf(['picky']));
    expect(await set.call('picky', '{}', contextWith())).toEqual({
      ok: false,
      code: 'tool_failed',
      text: 'no such city: Atlantis',
    });
  });

  it('cuts long output at a character boundary and marks it', async () => {
    const chatty = fakeTool('chatty', () => answer('ä'.repeat(1_000)));
    const set = await registryOf([chatty], noMcp, 301).forAgent(scopeOf(['chatty']));
    const result = await set.call('chatty', '{}', contextWith());
    if (!result.ok) throw new Error(`expected output, got ${result.code}`);
    expect(result.truncated).toBe(true);
    expect(result.text.endsWith('\n[output truncated]')).toBe(true);
    expect(Buffer.byteLength(result.text)).toBeLessThanOrEqual(301);
    expect(result.text).toMatch(/^ä+\n\[output truncated\]$/);
  });
});

describe('truncateUtf8', () => {
  it('keeps text that fits', () => {
    expect(truncateUtf8('short', 256)).toEqual({ text: 'short', truncated: false });
  });

  it('never splits a four-byte character', () => {
    const { text } = truncateUtf8(`${'x'.repeat(2)}${'😀'.repeat(100)}`, 40);
    expect(text).not.toContain('\uFFFD');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(40);
  });
});

describe('builtinTools', () => {
  it('has schemas that compile strictly, and http_fetch only when enabled', () => {
    const httpFetch = { enabled: true, allow: ['example.com'], maxBytes: 1024, timeoutMs: 1_000 };
    const sandbox = new SandboxClient('http://127.0.0.1:9', parseKeySet(generateKeySetValue(['k'])));
    const tools = builtinTools({ httpFetch, sandbox, now: () => new Date(0) });
    expect(tools.map((tool) => tool.name)).toEqual([
      'current_time',
      'http_fetch',
      'sandbox_exec',
      'sandbox_files',
    ]);
    for (const tool of tools) {
      expect(() => new Ajv2020({ strict: true }).compile(tool.parameters)).not.toThrow();
    }
    const off = builtinTools({
      httpFetch: { ...httpFetch, enabled: false },
      sandbox,
      now: () => new Date(0),
    });
    expect(off.map((tool) => tool.name)).toEqual(['current_time', 'sandbox_exec', 'sandbox_files']);
  });
});
