import { flagSetting, intSetting, textSetting } from '@aibox/platform';
import { z } from 'zod';

function listSetting() {
  return z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter((item) => item !== ''),
  );
}

/** agent-runtime's own settings, merged into the platform's base settings. */
export const runtimeConfigSchema = z.object({
  /** The PostgreSQL schema of the runtime's tables: several deployments (or test runs) can share one database. */
  AGENT_SQL_SCHEMA: textSetting()
    .refine((value) => /^[a-z_][a-z0-9_]{0,62}$/.test(value), 'must be a lower-case SQL identifier')
    .default('agent_runtime'),

  /** Most model calls of one turn (each tool round is one more). */
  AGENT_MAX_STEPS: intSetting(1, 100).default(8),
  /** Most tokens (prompt + completion, summed over the turn's model calls) one turn may spend. */
  AGENT_MAX_TURN_TOKENS: intSetting(1_000, 10_000_000).default(200_000),
  /** A tool call that takes longer fails with `tool_timeout` (a tool may declare a shorter one). */
  AGENT_TOOL_TIMEOUT_MS: intSetting(100, 600_000).default(30_000),
  /** Tool output kept in the prompt and the stream; the rest is cut and marked truncated. */
  AGENT_TOOL_OUTPUT_MAX_BYTES: intSetting(256, 4_194_304).default(65_536),
  /** How long an approval waits for a decision before it is denied. */
  AGENT_APPROVAL_TTL_S: intSetting(1, 86_400).default(600),
  /** Stream events of a finished turn stay replayable (`Last-Event-ID`) in memory this long. */
  AGENT_STREAM_RETAIN_S: intSetting(1, 86_400).default(900),
  /**
   * After its last event, a turn is sealed (`turn_sealed` / `turn_failed`) this much later, so that events the
   * router publishes just after its answer ends still land in the turn.
   */
  AGENT_SEAL_DELAY_MS: intSetting(0, 60_000).default(750),
  /** Deleted conversations are purged (with their messages) this long after deletion. */
  AGENT_PURGE_AFTER_S: intSetting(0, 31_536_000).default(604_800),
  /** The purge sweep runs this often. */
  AGENT_PURGE_INTERVAL_MS: intSetting(1_000, 86_400_000).default(3_600_000),
  /** Timeout of one router call until its first byte (and of a whole title generation). */
  AGENT_ROUTER_TIMEOUT_MS: intSetting(100, 900_000).default(120_000),
  /** Generate a conversation title with the `title` role after its first turn. */
  AGENT_TITLES: flagSetting().default(true),

  /** `http_fetch`: off unless enabled, and then only for these domains (a domain also allows its subdomains). */
  AGENT_HTTP_FETCH_ENABLED: flagSetting().default(false),
  AGENT_HTTP_FETCH_ALLOW: listSetting().default([]),
  AGENT_HTTP_FETCH_MAX_BYTES: intSetting(1_024, 16_777_216).default(1_048_576),
  AGENT_HTTP_FETCH_TIMEOUT_MS: intSetting(100, 120_000).default(10_000),

  /** MCP servers' tool lists are refreshed this often (and whenever a server says its list changed). */
  AGENT_MCP_REFRESH_MS: intSetting(1_000, 86_400_000).default(300_000),
  /** Connecting to an MCP server and listing its tools. */
  AGENT_MCP_CONNECT_TIMEOUT_MS: intSetting(100, 120_000).default(10_000),
  /** The tenant-wide default agent's system prompt. */
  AGENT_DEFAULT_SYSTEM_PROMPT: textSetting().default(
    'You are a helpful assistant. Answer clearly and concisely. Use the tools you are given when they help.',
  ),
});

export type RuntimeConfigSchema = typeof runtimeConfigSchema;
