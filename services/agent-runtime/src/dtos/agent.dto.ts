import { z } from 'zod';

import type { Visibility } from '../repositories/runtime-schema.js';
import type { Agent } from '../services/agent.js';
import type { McpServerConfig } from '../tools/tool.js';

/**
 * What a response shows instead of an MCP server's header and environment values (they often hold API keys):
 * the keys stay visible, the values never leave the service, to anyone. Sent back in a PATCH, it keeps the
 * stored value of that key.
 */
export const MASKED = '***';

export const SYSTEM_PROMPT_MAX_BYTES = 32_768;

/** A string whose absence is reported as `missing` rather than as a type mismatch. */
export function text(missing = 'is required') {
  return z.string({ error: (issue) => (issue.input === undefined ? missing : 'must be a string') });
}

/** Text PostgreSQL can hold (no NUL) of at most `maxBytes` UTF-8 bytes. */
export function boundedText(maxBytes: number, missing?: string) {
  return text(missing)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
    .refine(
      (value) => Buffer.byteLength(value, 'utf8') <= maxBytes,
      `must be at most ${maxBytes} bytes (UTF-8)`,
    );
}

/** A one-line name shown in lists: trimmed, 1–100 characters, no control characters. */
export function displayName() {
  return text()
    .trim()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');
}

/** A tool name as agents and skills list it: a built-in (`current_time`), `mcp:<server>/<tool>` or `mcp:<server>/*`. */
export const toolName = z
  .string()
  .regex(/^[A-Za-z0-9_.:/*-]{1,200}$/, 'must be 1-200 of A-Z a-z 0-9 _ . : / * -');

export const visibility = z.enum(['private', 'tenant', 'managed']);

/** A router role alias, never a concrete model. */
const modelRole = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a role alias like "default"');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name');
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be an HTTP header name (1-128 token characters)');
/** A header value cannot hold a line break or another control character (it would split the header). */
const headerValue = z
  .string()
  .regex(/^[^\p{Cc}]{0,8192}$/u, 'must be at most 8192 characters without control characters');

function httpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
  );
}

const mcpCommon = {
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be 1-32 of a-z 0-9 _ -'),
  tools: z.array(z.string().min(1).max(128)).max(256).optional(),
  requires_approval: z.boolean().optional(),
};

/** One MCP server: stdio (a program the runtime starts) or http (streamable HTTP), each with only its fields. */
export const mcpServer = z.discriminatedUnion('transport', [
  z.strictObject({
    ...mcpCommon,
    transport: z.literal('stdio'),
    command: boundedText(4_096, 'is required for transport stdio').min(1, 'must not be empty'),
    args: z.array(boundedText(4_096)).max(64).optional(),
    env: z.record(envName, boundedText(8_192)).optional(),
    cwd: boundedText(4_096).min(1, 'must not be empty').optional(),
  }),
  z.strictObject({
    ...mcpCommon,
    transport: z.literal('http'),
    url: text('is required for transport http')
      .max(2_048)
      .refine(httpUrl, 'must be an http(s) URL without credentials (put those in headers)'),
    headers: z.record(headerName, headerValue).optional(),
  }),
]);

const mcpServers = z
  .array(mcpServer)
  .max(32)
  .superRefine((servers, context) => {
    const seen = new Set<string>();
    servers.forEach((server, index) => {
      if (seen.has(server.name)) {
        context.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `"${server.name}" is used twice`,
        });
      }
      seen.add(server.name);
    });
  });

const approval = z.strictObject({
  /** Model-facing tool names that need a user's approval. */
  tools: z.array(toolName).max(256).default([]),
  /** Every tool call needs an approval. */
  all: z.boolean().default(false),
});

const agentFields = {
  name: displayName(),
  description: boundedText(4_096),
  system_prompt: boundedText(SYSTEM_PROMPT_MAX_BYTES),
  model_role: modelRole,
  tools: z.array(toolName).max(128),
  /** Skill ids; each must be a skill the caller can see. */
  skills: z.array(z.string().min(1).max(64)).max(64),
  /** Admins only: a stdio server is a program the runtime starts. */
  mcp_servers: mcpServers,
  approval,
  visibility,
};

export const createAgentBody = z.strictObject({
  name: agentFields.name,
  description: agentFields.description.default(''),
  system_prompt: agentFields.system_prompt.default(''),
  model_role: agentFields.model_role.default('default'),
  tools: agentFields.tools.default([]),
  skills: agentFields.skills.default([]),
  mcp_servers: agentFields.mcp_servers.default([]),
  approval: agentFields.approval.default({ tools: [], all: false }),
  visibility: agentFields.visibility.default('private'),
});
export type CreateAgentBody = z.output<typeof createAgentBody>;

/** Only the fields sent change; `mcp_servers` and `approval` are replaced whole. */
export const patchAgentBody = z
  .strictObject({
    name: agentFields.name.optional(),
    description: agentFields.description.optional(),
    system_prompt: agentFields.system_prompt.optional(),
    model_role: agentFields.model_role.optional(),
    tools: agentFields.tools.optional(),
    skills: agentFields.skills.optional(),
    mcp_servers: agentFields.mcp_servers.optional(),
    approval: agentFields.approval.optional(),
    visibility: agentFields.visibility.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'nothing to change');
export type PatchAgentBody = z.output<typeof patchAgentBody>;

export const agentParams = z.strictObject({ id: z.string().min(1).max(64) });
export type AgentParams = z.output<typeof agentParams>;

/** An agent as the API shows it; MCP header and environment values are always {@link MASKED}. */
export interface AgentView {
  readonly id: string;
  readonly owner_id: string;
  readonly name: string;
  readonly description: string;
  readonly system_prompt: string;
  readonly model_role: string;
  readonly tools: readonly string[];
  readonly skills: readonly string[];
  readonly mcp_servers: readonly McpServerConfig[];
  readonly approval: { readonly tools: readonly string[]; readonly all: boolean };
  readonly visibility: Visibility;
  readonly created_at: string;
  readonly updated_at: string;
}

function masked(values: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  return values === undefined
    ? undefined
    : Object.fromEntries(Object.keys(values).map((key) => [key, MASKED]));
}

/** The server with its header and environment values replaced by {@link MASKED}. */
export function maskMcpServer(server: McpServerConfig): McpServerConfig {
  const headers = masked(server.headers);
  const env = masked(server.env);
  return {
    ...server,
    ...(headers === undefined ? {} : { headers }),
    ...(env === undefined ? {} : { env }),
  };
}

export function agentView(agent: Agent): AgentView {
  return {
    id: agent.id,
    owner_id: agent.ownerId,
    name: agent.name,
    description: agent.description,
    system_prompt: agent.systemPrompt,
    model_role: agent.modelRole,
    tools: agent.tools,
    skills: agent.skills,
    mcp_servers: agent.mcpServers.map(maskMcpServer),
    approval: { tools: agent.approval.tools, all: agent.approval.all },
    visibility: agent.visibility,
    created_at: agent.createdAt.toISOString(),
    updated_at: agent.updatedAt.toISOString(),
  };
}
