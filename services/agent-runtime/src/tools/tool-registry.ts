import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

import type { McpHub } from './mcp/mcp-hub.js';
import type { AgentToolScope, JsonSchema, McpServerConfig, Tool, ToolContext } from './tool.js';

/** Limits every tool call of the runtime shares (AGENT_TOOL_TIMEOUT_MS, AGENT_TOOL_OUTPUT_MAX_BYTES). */
export interface ToolRegistryOptions {
  readonly defaultTimeoutMs: number;
  readonly outputMaxBytes: number;
}

/** Why a tool call did not produce a usable answer. */
export type ToolCallErrorCode =
  'tool_unknown' | 'tool_arguments_invalid' | 'tool_timeout' | 'tool_failed' | 'tool_cancelled';

/** A tool call's outcome; `text` is always something the model can read. */
export type ToolCallResult =
  | { readonly ok: true; readonly text: string; readonly truncated: boolean }
  | { readonly ok: false; readonly code: ToolCallErrorCode; readonly text: string };

/** One entry of the OpenAI Chat Completions `tools` array. */
export interface ToolDefinition {
  readonly type: 'function';
  readonly function: { readonly name: string; readonly description: string; readonly parameters: JsonSchema };
}

/** An MCP server whose tools a turn does not get (unreachable, or its tools clash with others). */
export interface UnavailableMcpServer {
  readonly server: string;
  readonly error: string;
}

/** A tool name an agent or a skill asked for that the turn does not get, and why. */
export interface WithheldTool {
  readonly name: string;
  /** `not_allowed`: a skill named it but the agent does not allow it; `unknown`: no such built-in tool here. */
  readonly reason: 'not_allowed' | 'unknown';
}

/** The part of the MCP hub the registry needs. */
export type McpToolSource = Pick<McpHub, 'toolsOf'>;

const TRUNCATION_MARK = '\n[output truncated]';

// addUsedSchema: false, because MCP servers reuse `$id`s freely and Ajv would refuse a second schema with one.
const AJV_OPTIONS = { allErrors: true, strict: false, addUsedSchema: false, logger: false } as const;

/** A tool of a `ToolSet` and where it comes from. */
export interface ToolSetEntry {
  readonly tool: Tool;
  /** The MCP server the tool comes from; absent for built-ins. */
  readonly server: McpServerConfig | undefined;
}

/**
 * Compiles argument schemas with Ajv, once per schema object (MCP tool lists keep their schema objects until a
 * refresh). Draft-07 schemas (what many MCP servers publish) get a draft-07 validator, everything else 2020-12.
 */
export class ArgumentValidators {
  private readonly draft2020 = new Ajv2020(AJV_OPTIONS);
  private readonly draft07 = new Ajv(AJV_OPTIONS);
  private readonly compiled = new WeakMap<JsonSchema, ValidateFunction | null>();

  /** Problems with `args`, empty when valid. A schema Ajv cannot compile validates nothing: see `compile`. */
  check(schema: JsonSchema, args: Record<string, unknown>): string[] {
    const validate = this.compile(schema);
    if (validate === null || validate(args)) return [];
    return (validate.errors ?? []).map(describeSchemaError);
  }

  private compile(schema: JsonSchema): ValidateFunction | null {
    const known = this.compiled.get(schema);
    if (known !== undefined) return known;
    let validate: ValidateFunction | null;
    try {
      const { $schema, ...rest } = schema;
      const ajv = typeof $schema === 'string' && /draft-0[4-7]/.test($schema) ? this.draft07 : this.draft2020;
      validate = ajv.compile(rest);
    } catch {
      // An MCP server's odd schema must not make its tool unusable: the server validates its own input, and
      // the built-in tools' schemas are compiled by their tests.
      validate = null;
    }
    this.compiled.set(schema, validate);
    return validate;
  }
}

function describeSchemaError(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(arguments)' : error.instancePath;
  const params = error.params as Record<string, unknown>;
  const detail =
    typeof params['additionalProperty'] === 'string'
      ? `: ${params['additionalProperty']}`
      : Array.isArray(params['allowedValues'])
        ? `: ${params['allowedValues'].map((value) => JSON.stringify(value)).join(', ')}`
        : '';
  return `${at} ${error.message ?? 'is not valid'}${detail}`;
}

/** `text` cut to at most `maxBytes` UTF-8 bytes (mark included), at a character boundary. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text, truncated: false };
  let cut = Math.max(0, maxBytes - Buffer.byteLength(TRUNCATION_MARK));
  // A continuation byte (top bits 10) at the cut means the character before it would be split.
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return { text: bytes.subarray(0, cut).toString('utf8') + TRUNCATION_MARK, truncated: true };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'the tool failed';
}

type RunOutcome =
  | { readonly kind: 'output'; readonly text: string; readonly isError: boolean }
  | { readonly kind: 'thrown'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'cancelled' };

/**
 * Runs `tool` with its own AbortController that aborts on the timeout or on the turn's signal, and races the run
 * against both: a tool that ignores its signal still ends the call in time (its late answer is dropped).
 */
function runBounded(
  tool: Tool,
  args: Record<string, unknown>,
  context: ToolContext,
  timeoutMs: number,
): Promise<RunOutcome> {
  const controller = new AbortController();
  return new Promise<RunOutcome>((resolve) => {
    const finish = (outcome: RunOutcome): void => {
      clearTimeout(timer);
      context.signal.removeEventListener('abort', onCancel);
      resolve(outcome);
    };
    const onCancel = (): void => {
      controller.abort(context.signal.reason);
      finish({ kind: 'cancelled' });
    };
    const timer = setTimeout(() => {
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
      finish({ kind: 'timeout' });
    }, timeoutMs);
    context.signal.addEventListener('abort', onCancel, { once: true });
    // An async wrapper, so that a tool throwing synchronously is a rejected run like any other.
    const run = async () => tool.run(args, { ...context, signal: controller.signal });
    run().then(
      (output) => {
        finish({ kind: 'output', text: output.text, isError: output.isError === true });
      },
      (error: unknown) => {
        finish({ kind: 'thrown', error });
      },
    );
  });
}

/** The tools one turn may use, as the model sees them. */
export class ToolSet {
  constructor(
    private readonly entries: ReadonlyMap<string, ToolSetEntry>,
    private readonly scope: AgentToolScope,
    private readonly options: ToolRegistryOptions,
    private readonly validators: ArgumentValidators,
    /** MCP servers whose tools are missing from this set. */
    readonly unavailable: readonly UnavailableMcpServer[],
    /** Names asked for that this set does not hold. */
    readonly withheld: readonly WithheldTool[],
  ) {}

  /** The model-facing names, in the order `definitions()` lists them. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The Chat Completions `tools` array; empty when the turn has no tool. */
  definitions(): ToolDefinition[] {
    return [...this.entries.values()].map(({ tool }) => {
      // `$schema` only tells the validator which draft to use; some model APIs refuse the key.
      const { $schema: _draft, ...parameters } = tool.parameters;
      return { type: 'function', function: { name: tool.name, description: tool.description, parameters } };
    });
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Whether a call needs a user's approval first; false for a name the set does not hold (the call fails). */
  requiresApproval(name: string): boolean {
    const entry = this.entries.get(name);
    if (entry === undefined) return false;
    return (
      entry.tool.requiresApproval === true ||
      entry.server?.requires_approval === true ||
      this.scope.approval.all ||
      this.scope.approval.tools.includes(name)
    );
  }

  /**
   * Validates and runs one call. Empty arguments (`""`) count as `{}`: models send them for tools without
   * parameters. Never throws: every failure is a result the model can read.
   */
  async call(name: string, rawArguments: string, context: ToolContext): Promise<ToolCallResult> {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      const known = this.names();
      const offer = known.length === 0 ? 'No tools are available.' : `Available tools: ${known.join(', ')}.`;
      return { ok: false, code: 'tool_unknown', text: `There is no tool named "${name}". ${offer}` };
    }
    const parsed = parseArguments(rawArguments);
    if (typeof parsed === 'string') {
      return {
        ok: false,
        code: 'tool_arguments_invalid',
        text: `The arguments of ${name} are not valid: ${parsed}`,
      };
    }
    const problems = this.validators.check(entry.tool.parameters, parsed);
    if (problems.length > 0) {
      return {
        ok: false,
        code: 'tool_arguments_invalid',
        text: `The arguments of ${name} do not match its schema:\n${problems.map((p) => `- ${p}`).join('\n')}`,
      };
    }
    if (context.signal.aborted) {
      return { ok: false, code: 'tool_cancelled', text: `The call of ${name} was cancelled.` };
    }
    const timeoutMs = entry.tool.timeoutMs ?? this.options.defaultTimeoutMs;
    const outcome = await runBounded(entry.tool, parsed, context, timeoutMs);
    switch (outcome.kind) {
      case 'output': {
        const cut = truncateUtf8(outcome.text, this.options.outputMaxBytes);
        if (outcome.isError) return { ok: false, code: 'tool_failed', text: cut.text };
        return { ok: true, text: cut.text, truncated: cut.truncated };
      }
      case 'thrown':
        return {
          ok: false,
          code: 'tool_failed',
          text: truncateUtf8(`${name} failed: ${messageOf(outcome.error)}`, this.options.outputMaxBytes).text,
        };
      case 'timeout':
        return { ok: false, code: 'tool_timeout', text: `${name} did not finish within ${timeoutMs} ms.` };
      case 'cancelled':
        return { ok: false, code: 'tool_cancelled', text: `The call of ${name} was cancelled.` };
    }
  }
}

/** The arguments as an object, or what is wrong with them. */
function parseArguments(raw: string): Record<string, unknown> | string {
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error: unknown) {
    return `they are not JSON (${messageOf(error)})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `they must be a JSON object, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  }
  return value as Record<string, unknown>;
}

/**
 * Decides which tools a turn gets: the built-ins an agent allows and its MCP servers' tools.
 *
 * Tools a loaded skill names (`extraTools`) are honoured only when the agent allows them too: a skill is user
 * content and must not widen what an admin or agent owner granted. Those it names beyond that are reported in
 * `ToolSet.withheld`.
 */
export class ToolRegistry {
  private readonly builtins: ReadonlyMap<string, Tool>;
  private readonly validators = new ArgumentValidators();

  constructor(
    private readonly options: ToolRegistryOptions,
    builtins: readonly Tool[],
    private readonly mcp: McpToolSource,
  ) {
    this.builtins = new Map(builtins.map((tool) => [tool.name, tool]));
  }

  async forAgent(scope: AgentToolScope, extraTools: readonly string[] = []): Promise<ToolSet> {
    const entries = new Map<string, ToolSetEntry>();
    const withheld: WithheldTool[] = [];
    const allowed = new Set(scope.tools);
    for (const name of new Set([...scope.tools, ...extraTools])) {
      const tool = this.builtins.get(name);
      if (!allowed.has(name)) withheld.push({ name, reason: 'not_allowed' });
      else if (tool === undefined) withheld.push({ name, reason: 'unknown' });
      else entries.set(name, { tool, server: undefined });
    }

    const unavailable: UnavailableMcpServer[] = [];
    // In parallel: one slow server must not add its connect time to every other's.
    const listed = await Promise.all(
      scope.mcpServers.map(async (server) => {
        try {
          return { server, tools: await this.mcp.toolsOf(server) };
        } catch (error: unknown) {
          unavailable.push({ server: server.name, error: messageOf(error) });
          return { server, tools: [] };
        }
      }),
    );
    for (const { server, tools } of listed) {
      const clashes: string[] = [];
      for (const tool of tools) {
        if (entries.has(tool.name)) clashes.push(tool.name);
        else entries.set(tool.name, { tool, server });
      }
      if (clashes.length > 0) {
        unavailable.push({ server: server.name, error: `tool names already taken: ${clashes.join(', ')}` });
      }
    }
    return new ToolSet(entries, scope, this.options, this.validators, unavailable, withheld);
  }
}
