import { createHash } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ContentBlock,
} from '@modelcontextprotocol/sdk/types.js';

import type { JsonSchema, McpServerConfig, Tool, ToolOutput } from '../tool.js';

/** The pino methods the hub logs with; no line carries tool arguments. */
export interface McpHubLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface McpHubOptions {
  /** AGENT_MCP_CONNECT_TIMEOUT_MS: connecting and listing the tools, together. */
  readonly connectTimeoutMs: number;
  /** AGENT_MCP_REFRESH_MS: tool lists are listed again this often. */
  readonly refreshMs: number;
  readonly logger: McpHubLogger;
}

/** What `probe` found: the server's tool names (MCP names, before any allowlist), or why it failed. */
export type McpProbeResult =
  { readonly ok: true; readonly tools: string[] } | { readonly ok: false; readonly error: string };

const CLIENT_INFO = { name: 'aibox-agent-runtime', version: '0.1.0' };
/** The tool registry's per-call signal is the real limit; this only keeps the SDK's 60 s default out of the way. */
const CALL_TIMEOUT_CEILING_MS = 3_600_000;
/** A server that hands out cursors forever must not keep a listing going forever. */
const MAX_LIST_PAGES = 100;
const MAX_STDERR_LINE = 2_000;
const MODEL_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** An MCP tool as listed, with the schema the model and the registry's validator get. */
interface ListedTool {
  readonly name: string;
  readonly description: string;
  readonly parameters: JsonSchema;
}

/** A cached connection and the promise of it being connected with its tools listed. */
interface Slot {
  readonly conn: Connection;
  readonly ready: Promise<Connection>;
}

interface Connection {
  readonly key: string;
  readonly server: string;
  readonly client: Client;
  tools: readonly ListedTool[];
  /** The list must be fetched again (the refresh timer ticked or the server said it changed). */
  stale: boolean;
  refreshing: Promise<void> | undefined;
  /** The transport reported an error: check the connection is alive before using it again. */
  suspect: boolean;
  timer: NodeJS.Timeout | undefined;
  inFlight: number;
  retired: boolean;
  closed: boolean;
}

/**
 * The model-facing name of an MCP tool: `mcp__<server>__<tool>`. A name that would not match
 * `^[a-zA-Z0-9_-]{1,64}$` is sanitized, cut and given a hash of the original, so two MCP names never collapse
 * into one.
 */
export function mcpToolName(server: string, tool: string): string {
  const plain = `mcp__${server}__${tool}`;
  if (MODEL_TOOL_NAME.test(plain)) return plain;
  const suffix = `_${createHash('sha256').update(`${server}\u0000${tool}`).digest('hex').slice(0, 8)}`;
  return plain.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64 - suffix.length) + suffix;
}

/** What makes two configs the same connection; names, allowlists and approval rules share one. */
function connectionKey(server: McpServerConfig): string {
  const sorted = (record: Readonly<Record<string, string>> | undefined) =>
    record === undefined ? null : Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([
    server.transport,
    server.command ?? null,
    server.args ?? [],
    sorted(server.env),
    server.cwd ?? null,
    server.url ?? null,
    sorted(server.headers),
  ]);
}

/** The message of `error`, with its cause's (fetch says only "fetch failed"; the cause says why). */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'string' ? error : 'unknown error';
  const cause: unknown = error.cause;
  return cause instanceof Error && cause.message !== ''
    ? `${error.message} (${cause.message})`
    : error.message;
}

/** A `data` listener logging a stream's lines at debug (each cut to a sane length). */
function linesOf(server: string, logger: McpHubLogger): (chunk: Buffer | string) => void {
  let pending = '';
  return (chunk) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = (lines.pop() ?? '').slice(-MAX_STDERR_LINE);
    for (const line of lines) {
      if (line.trim() !== '')
        logger.debug({ mcpServer: server, line: line.slice(0, MAX_STDERR_LINE) }, 'MCP stderr');
    }
  };
}

/** Rejects with a readable timeout after `ms`, unless `work` settles first. */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function describeBlock(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'image':
      return `[image ${block.mimeType}, ${base64Bytes(block.data)} bytes]`;
    case 'audio':
      return `[audio ${block.mimeType}, ${base64Bytes(block.data)} bytes]`;
    case 'resource_link':
      return `[resource link ${block.uri}${block.mimeType === undefined ? '' : ` (${block.mimeType})`}]`;
    case 'resource': {
      const { resource } = block;
      const type = resource.mimeType === undefined ? '' : ` (${resource.mimeType})`;
      if ('text' in resource) return `[resource ${resource.uri}${type}]\n${resource.text}`;
      return `[resource ${resource.uri}${type}, ${base64Bytes(resource.blob)} bytes]`;
    }
  }
}

function base64Bytes(data: string): number {
  return Buffer.byteLength(data, 'base64');
}

/** MCP content as text for the model: text parts joined, other parts described in a line. */
function outputOf(result: CallToolResult | { toolResult: unknown }): ToolOutput {
  if ('toolResult' in result) return { text: JSON.stringify(result.toolResult) };
  const parts = result.content.map(describeBlock);
  const hasText = result.content.some((block) => block.type === 'text');
  if (!hasText && result.structuredContent !== undefined)
    parts.push(JSON.stringify(result.structuredContent));
  return { text: parts.join('\n'), isError: result.isError === true };
}

/**
 * Connections to the MCP servers agents use, shared by every turn: connected on first use, tool lists cached
 * and refreshed (on a timer and when a server says its list changed), dead connections replaced on next use.
 */
export class McpHub {
  private readonly connections = new Map<string, Slot>();
  private closed = false;

  constructor(private readonly options: McpHubOptions) {}

  /** The server's tools its config allows, as `Tool`s named for the model; throws when it cannot be reached. */
  async toolsOf(server: McpServerConfig): Promise<Tool[]> {
    const conn = await this.connection(server);
    if (conn.stale || conn.refreshing !== undefined) await this.refresh(conn);
    const allow = server.tools === undefined ? undefined : new Set(server.tools);
    return conn.tools
      .filter((tool) => allow === undefined || allow.has(tool.name))
      .map((tool) => this.toolOf(server, tool));
  }

  /** Connects afresh (never from the cache, and closed again) to check a config an admin is saving. */
  async probe(server: McpServerConfig): Promise<McpProbeResult> {
    let client: Client | undefined;
    try {
      client = new Client(CLIENT_INFO);
      const connected = client;
      const tools = await withDeadline(
        (async () => {
          await connected.connect(this.transportOf(server), { timeout: this.options.connectTimeoutMs });
          return this.list(connected);
        })(),
        this.options.connectTimeoutMs,
        `MCP server ${server.name}`,
      );
      return { ok: true, tools: tools.map((tool) => tool.name) };
    } catch (error: unknown) {
      return { ok: false, error: messageOf(error) };
    } finally {
      await client?.close().catch(() => undefined);
    }
  }

  /** Closes every connection (stdio servers are stopped) and stops the refresh timers. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()].map((slot) => slot.conn);
    this.connections.clear();
    for (const conn of all) {
      conn.retired = true;
      clearInterval(conn.timer);
    }
    await Promise.all(all.map(async (conn) => this.shut(conn)));
  }

  private toolOf(server: McpServerConfig, listed: ListedTool): Tool {
    return {
      name: mcpToolName(server.name, listed.name),
      description: listed.description,
      parameters: listed.parameters,
      ...(server.requires_approval === true ? { requiresApproval: true } : {}),
      run: async (args, context) => this.call(server, listed.name, args, context.signal),
    };
  }

  private async call(
    server: McpServerConfig,
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ToolOutput> {
    // Looked up per call, not kept by the tool: a connection that died since the tools were listed is replaced.
    const conn = await this.connection(server);
    conn.inFlight += 1;
    try {
      const result = await conn.client.callTool({ name, arguments: args }, undefined, {
        signal,
        timeout: CALL_TIMEOUT_CEILING_MS,
      });
      return outputOf(result);
    } finally {
      conn.inFlight -= 1;
      if (conn.retired && conn.inFlight === 0) void this.shut(conn);
    }
  }

  private async connection(server: McpServerConfig): Promise<Connection> {
    if (this.closed) throw new Error('the MCP hub is closed');
    const key = connectionKey(server);
    const existing = this.connections.get(key);
    if (existing !== undefined) {
      const conn = await existing.ready;
      if (!conn.retired && (!conn.suspect || (await this.alive(conn)))) return conn;
    }
    // Another caller may have replaced the dead connection while this one waited.
    const current = this.connections.get(key);
    if (current !== undefined && current !== existing) return current.ready;
    return this.open(key, server);
  }

  /** After a transport error: a ping decides whether the connection is still usable. */
  private async alive(conn: Connection): Promise<boolean> {
    try {
      await conn.client.ping({ timeout: this.options.connectTimeoutMs });
      conn.suspect = false;
      return true;
    } catch (error: unknown) {
      this.options.logger.warn({ mcpServer: conn.server, err: messageOf(error) }, 'MCP connection lost');
      this.retire(conn);
      return false;
    }
  }

  private open(key: string, server: McpServerConfig): Promise<Connection> {
    const client = new Client(CLIENT_INFO);
    const conn: Connection = {
      key,
      server: server.name,
      client,
      tools: [],
      stale: false,
      refreshing: undefined,
      suspect: false,
      timer: undefined,
      inFlight: 0,
      retired: false,
      closed: false,
    };
    client.onclose = () => {
      if (!conn.retired) this.options.logger.warn({ mcpServer: conn.server }, 'MCP connection closed');
      this.retire(conn);
    };
    client.onerror = (error) => {
      this.options.logger.warn({ mcpServer: conn.server, err: messageOf(error) }, 'MCP transport error');
      conn.suspect = true;
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      conn.stale = true;
      void this.refresh(conn);
    });
    const ready = this.start(conn, server);
    // A failure reaches whoever awaits `ready`; this only keeps it from counting as unhandled meanwhile.
    ready.catch(() => undefined);
    this.connections.set(key, { conn, ready });
    return ready;
  }

  private async start(conn: Connection, server: McpServerConfig): Promise<Connection> {
    const { connectTimeoutMs, refreshMs, logger } = this.options;
    try {
      conn.tools = await withDeadline(
        (async () => {
          await conn.client.connect(this.transportOf(server), { timeout: connectTimeoutMs });
          return this.list(conn.client);
        })(),
        connectTimeoutMs,
        `MCP server ${server.name}`,
      );
    } catch (error: unknown) {
      logger.warn(
        { mcpServer: server.name, transport: server.transport, err: messageOf(error) },
        'MCP connect failed',
      );
      this.retire(conn);
      throw error;
    }
    conn.timer = setInterval(() => {
      conn.stale = true;
      void this.refresh(conn);
    }, refreshMs);
    conn.timer.unref();
    logger.info(
      { mcpServer: server.name, transport: server.transport, tools: conn.tools.length },
      'MCP connected',
    );
    return conn;
  }

  /** Lists again while the list is stale; a failure keeps the last list (a dead connection closes by itself). */
  private refresh(conn: Connection): Promise<void> {
    if (conn.refreshing !== undefined) return conn.refreshing;
    const run = async () => {
      try {
        while (conn.stale && !conn.retired) {
          conn.stale = false;
          conn.tools = await withDeadline(
            this.list(conn.client),
            this.options.connectTimeoutMs,
            'tools/list',
          );
        }
      } catch (error: unknown) {
        this.options.logger.warn(
          { mcpServer: conn.server, err: messageOf(error) },
          'MCP tool list refresh failed',
        );
      }
    };
    const refreshing = run().finally(() => {
      if (conn.refreshing === refreshing) conn.refreshing = undefined;
    });
    conn.refreshing = refreshing;
    return refreshing;
  }

  private async list(client: Client): Promise<ListedTool[]> {
    if (client.getServerCapabilities()?.tools === undefined) return [];
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
      const result = await client.listTools(cursor === undefined ? undefined : { cursor }, {
        timeout: this.options.connectTimeoutMs,
      });
      for (const tool of result.tools) {
        const description = tool.description ?? tool.title ?? tool.annotations?.title ?? '';
        tools.push({
          name: tool.name,
          description: description === '' ? `The ${tool.name} tool of an MCP server.` : description,
          parameters: tool.inputSchema,
        });
      }
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
    return tools;
  }

  private transportOf(server: McpServerConfig): Transport {
    switch (server.transport) {
      case 'stdio': {
        if (server.command === undefined) throw new Error(`MCP server ${server.name} has no command`);
        const transport = new StdioClientTransport({
          command: server.command,
          args: [...(server.args ?? [])],
          ...(server.env === undefined ? {} : { env: { ...server.env } }),
          ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
          stderr: 'pipe',
        });
        // Drained so a chatty server never blocks on a full pipe; kept at debug, where arguments may show.
        transport.stderr?.on('data', linesOf(server.name, this.options.logger));
        return transport;
      }
      case 'http': {
        if (server.url === undefined) throw new Error(`MCP server ${server.name} has no url`);
        return new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: { headers: { ...server.headers } },
        });
      }
    }
  }

  /** Drops a connection from the cache; its client closes once no call is using it. */
  private retire(conn: Connection): void {
    if (conn.retired) return;
    conn.retired = true;
    clearInterval(conn.timer);
    if (this.connections.get(conn.key)?.conn === conn) this.connections.delete(conn.key);
    if (conn.inFlight === 0) void this.shut(conn);
  }

  private async shut(conn: Connection): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    try {
      await conn.client.close();
    } catch (error: unknown) {
      this.options.logger.warn({ mcpServer: conn.server, err: messageOf(error) }, 'MCP close failed');
    }
  }
}
