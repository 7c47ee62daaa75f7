import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { McpHub, type McpHubLogger } from '../src/tools/mcp/mcp-hub.js';
import type { AgentToolScope, McpServerConfig } from '../src/tools/tool.js';
import { ToolRegistry, type ToolCallResult, type ToolSet } from '../src/tools/tool-registry.js';
import {
  startHttpMcpServer,
  stdioServerConfig,
  unreachableServerConfig,
  type HttpMcpServer,
} from './support/mcp-servers.js';
import { toolContext } from './support/tool-context.js';

interface LogLine {
  readonly level: string;
  readonly obj: object;
  readonly msg: string;
}

function recordingLogger(lines: LogLine[]): McpHubLogger {
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, obj, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const context = toolContext();

function scopeOf(mcpServers: readonly McpServerConfig[]): AgentToolScope {
  return { tools: [], mcpServers, approval: { tools: [], all: false } };
}

function textOf(result: ToolCallResult): string {
  if (!result.ok) throw new Error(`expected output, got ${result.code}: ${result.text}`);
  return result.text;
}

describe('MCP tools through the hub and the registry', () => {
  const logs: LogLine[] = [];
  let http: HttpMcpServer;
  let hub: McpHub;
  let registry: ToolRegistry;
  let remote: McpServerConfig;
  const local = stdioServerConfig('local');

  beforeAll(async () => {
    http = await startHttpMcpServer();
    remote = { name: 'remote', transport: 'http', url: http.url, headers: { 'x-api-key': 'k-123' } };
    hub = new McpHub({ connectTimeoutMs: 10_000, refreshMs: 60_000, logger: recordingLogger(logs) });
    registry = new ToolRegistry({ defaultTimeoutMs: 10_000, outputMaxBytes: 65_536 }, [], hub);
  });

  afterAll(async () => {
    await hub.close();
    await http.close();
  });

  it('lists the tools of a stdio and an http server under mcp__ names', async () => {
    const set = await registry.forAgent(scopeOf([local, remote]));
    expect(set.unavailable).toEqual([]);
    expect(set.names()).toEqual([
      'mcp__local__add',
      'mcp__local__fail',
      'mcp__local__pid',
      'mcp__local__picture',
      'mcp__local__crash',
      'mcp__local__grow',
      'mcp__remote__echo',
    ]);
    const add = set.definitions().find((definition) => definition.function.name === 'mcp__local__add');
    expect(add?.function).toEqual({
      name: 'mcp__local__add',
      description: 'Adds two numbers.',
      parameters: {
        type: 'object',
        properties: { a: { type: 'number' }, b: { type: 'number' } },
        required: ['a', 'b'],
      },
    });
  });

  it('calls tools of both servers and sends the configured headers', async () => {
    const set = await registry.forAgent(scopeOf([local, remote]));
    expect(await set.call('mcp__local__add', '{"a": 2, "b": 40}', context)).toEqual({
      ok: true,
      text: '42',
      truncated: false,
    });
    expect(textOf(await set.call('mcp__remote__echo', '{"text": "hi"}', context))).toBe('echo: hi');
    expect(http.apiKeys.length).toBeGreaterThan(0);
    expect(http.apiKeys.every((key) => key === 'k-123')).toBe(true);
  });

  it('describes non-text content and adds structured content when there is no text', async () => {
    const set = await registry.forAgent(scopeOf([local]));
    expect(textOf(await set.call('mcp__local__picture', '{}', context))).toBe(
      '[image image/png, 12 bytes]\n{"width":2,"height":2}',
    );
  });

  it('maps an isError result to tool_failed, and checks arguments before calling', async () => {
    const set = await registry.forAgent(scopeOf([local]));
    expect(await set.call('mcp__local__fail', '{}', context)).toEqual({
      ok: false,
      code: 'tool_failed',
      text: 'this tool always fails',
    });
    const invalid = await set.call('mcp__local__add', '{"a": "two", "b": 1}', context);
    expect(invalid).toMatchObject({ ok: false, code: 'tool_arguments_invalid' });
    expect(invalid.text).toContain('/a must be number');
  });

  it('keeps only allowlisted tools and shares the connection between configs of one server', async () => {
    const limited = stdioServerConfig('limited', 'shared', {
      tools: ['add', 'pid'],
      requires_approval: true,
    });
    const set = await registry.forAgent(scopeOf([local, limited]));
    expect(set.names().filter((name) => name.startsWith('mcp__limited__'))).toEqual([
      'mcp__limited__add',
      'mcp__limited__pid',
    ]);
    expect(set.requiresApproval('mcp__limited__add')).toBe(true);
    expect(set.requiresApproval('mcp__local__add')).toBe(false);
    const pids = await Promise.all([
      set.call('mcp__local__pid', '{}', context),
      set.call('mcp__limited__pid', '{}', context),
    ]);
    expect(textOf(pids[0])).toBe(textOf(pids[1]));
  });

  it('lists a tool a server adds once it says its list changed', async () => {
    const growing = stdioServerConfig('growing', 'growing');
    const before = await registry.forAgent(scopeOf([growing]));
    expect(before.has('mcp__growing__added')).toBe(false);
    expect(textOf(await before.call('mcp__growing__grow', '{}', context))).toBe('grown');
    const after = await registry.forAgent(scopeOf([growing]));
    expect(after.has('mcp__growing__added')).toBe(true);
    expect(textOf(await after.call('mcp__growing__added', '{}', context))).toBe('added is here');
  });

  it('finds a tool added quietly at the next periodic refresh', async () => {
    const quiet = stdioServerConfig('quiet', 'quiet', { env: { AIBOX_TEST_MCP_QUIET: '1' } });
    // Without a notification, a hub whose refresh is a minute away does not see the new tool yet.
    const slow = await registry.forAgent(scopeOf([quiet]));
    expect(textOf(await slow.call('mcp__quiet__grow', '{}', context))).toBe('grown');
    expect((await registry.forAgent(scopeOf([quiet]))).has('mcp__quiet__added')).toBe(false);

    const quickHub = new McpHub({ connectTimeoutMs: 10_000, refreshMs: 200, logger: recordingLogger([]) });
    try {
      const quickRegistry = new ToolRegistry(
        { defaultTimeoutMs: 10_000, outputMaxBytes: 65_536 },
        [],
        quickHub,
      );
      const quick = await quickRegistry.forAgent(scopeOf([quiet]));
      expect(textOf(await quick.call('mcp__quiet__grow', '{}', context))).toBe('grown');
      await vi.waitFor(
        async () => {
          expect((await quickRegistry.forAgent(scopeOf([quiet]))).has('mcp__quiet__added')).toBe(true);
        },
        { timeout: 5_000, interval: 50 },
      );
    } finally {
      await quickHub.close();
    }
  });

  it('leaves out a server that cannot be reached, without failing the others', async () => {
    const down = await unreachableServerConfig('down');
    const set = await registry.forAgent(scopeOf([down, remote]));
    expect(set.names()).toEqual(['mcp__remote__echo']);
    expect(set.unavailable).toHaveLength(1);
    expect(set.unavailable[0]?.server).toBe('down');
    expect(set.unavailable[0]?.error).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it('starts a stdio server again after its process is gone', async () => {
    const fragile = stdioServerConfig('fragile', 'fragile');
    const set: ToolSet = await registry.forAgent(scopeOf([fragile]));
    const first = textOf(await set.call('mcp__fragile__pid', '{}', context));
    const crashed = await set.call('mcp__fragile__crash', '{}', context);
    expect(crashed).toMatchObject({ ok: false, code: 'tool_failed' });
    expect(crashed.text).toContain('Connection closed');
    const second = textOf(await set.call('mcp__fragile__pid', '{}', context));
    expect(second).not.toBe(first);
    expect(() => process.kill(Number(first), 0)).toThrow();
  });

  it('drains stdio servers’ stderr into the log at debug', () => {
    expect(logs).toContainEqual({
      level: 'debug',
      obj: { mcpServer: 'local', line: 'aibox test stdio MCP server ready' },
      msg: 'MCP stderr',
    });
  });

  it('probes a config: the tool names, or why it cannot be used', async () => {
    expect(await hub.probe(remote)).toEqual({ ok: true, tools: ['echo'] });
    const stdio = await hub.probe(stdioServerConfig('probe', 'probe'));
    expect(stdio).toMatchObject({
      ok: true,
      tools: expect.arrayContaining(['add', 'fail', 'grow']) as unknown,
    });
    const down = await hub.probe(await unreachableServerConfig('down'));
    expect(down.ok).toBe(false);
    const missing = await hub.probe({
      name: 'missing',
      transport: 'stdio',
      command: '/nonexistent/mcp-server',
    });
    expect(missing).toMatchObject({ ok: false, error: expect.stringContaining('ENOENT') as unknown });
  });

  it('stops the stdio servers when closed', async () => {
    const set = await registry.forAgent(scopeOf([local]));
    const pid = Number(textOf(await set.call('mcp__local__pid', '{}', context)));
    await hub.close();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await set.call('mcp__local__pid', '{}', context)).toMatchObject({
      ok: false,
      code: 'tool_failed',
      text: 'mcp__local__pid failed: the MCP hub is closed',
    });
  });
});
