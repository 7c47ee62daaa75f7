import type { Principal } from '@aibox/identity';

/** A JSON Schema object describing a tool's arguments (draft 2020-12, as OpenAI function tools take it). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** Who calls a tool, in which turn; `signal` aborts when the turn is cancelled or the tool times out. */
export interface ToolContext {
  readonly principal: Principal;
  readonly tenantId: string;
  readonly userId: string;
  readonly turnId: string;
  readonly conversationId: string;
  /** The turn's cap token as the gateway issued it, for tools that call other mesh services. */
  readonly capToken: string | undefined;
  readonly signal: AbortSignal;
  /** Records a turn event of the tool's own (a sandbox run), with bodies captured beside it. */
  readonly record: (
    type: 'sandbox_exec',
    attributes: Record<string, unknown>,
    bodies: readonly { kind: string; contentType: string; body: string }[],
  ) => void;
}

/** What a tool answered: text for the model; `isError` when the tool ran and reported a failure. */
export interface ToolOutput {
  readonly text: string;
  readonly isError?: boolean;
}

/**
 * A tool the model may call. `name` is what the model sees (`^[a-zA-Z0-9_-]{1,64}$`); arguments are validated
 * against `parameters` before `run` is called.
 */
export interface Tool {
  readonly name: string;
  readonly description: string;
  readonly parameters: JsonSchema;
  /** Shorter than the runtime's `AGENT_TOOL_TIMEOUT_MS`, if the tool wants. */
  readonly timeoutMs?: number;
  /** Always needs a user's approval, whatever the agent says. */
  readonly requiresApproval?: boolean;
  run(args: Record<string, unknown>, context: ToolContext): Promise<ToolOutput>;
}

/** One MCP server of an agent (admins only configure these: a stdio server is a program the runtime starts). */
export interface McpServerConfig {
  /** `^[a-z0-9_-]{1,32}$`; its tools are named `mcp__<name>__<tool>` for the model. */
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  /** stdio: the program and its arguments, environment and working directory. */
  readonly command?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** http (streamable HTTP): the endpoint and extra headers (e.g. an API key). */
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Only these of the server's tools (by their MCP name); all when absent. */
  readonly tools?: readonly string[];
  /** Every tool of this server needs an approval. */
  readonly requires_approval?: boolean;
}

/** What of an agent decides which tools a turn gets. */
export interface AgentToolScope {
  /** Built-in tool names (`current_time`, `http_fetch`, …) the agent allows. */
  readonly tools: readonly string[];
  readonly mcpServers: readonly McpServerConfig[];
  /** Tool names (model-facing) that need an approval; `all` makes every tool need one. */
  readonly approval: { readonly tools: readonly string[]; readonly all: boolean };
}
