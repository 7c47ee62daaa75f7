import { enableTenantIsolation, type Migration } from '@aibox/stores';
import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

/** Who may see an agent or a skill: its owner only, everybody in the tenant, or everybody (admins edit). */
export type Visibility = 'private' | 'tenant' | 'managed';

/**
 * Every table holds tenant data: row-level security on all of them, and every repository reaches them only
 * through `forTenant` transactions. JSON columns are written as text (`JSON.stringify`) and read as values.
 */
export interface RuntimeTables {
  agents: {
    id: string;
    tenant_id: string;
    owner_id: string;
    name: string;
    description: string;
    system_prompt: string;
    model_role: string;
    /** Tool names the agent may use (built-ins, `mcp:<server>/<tool>` or `mcp:<server>/*`). */
    tools: Json;
    /** Skill ids attached to the agent. */
    skills: Json;
    /** `McpServerConfig[]`. */
    mcp_servers: Json;
    /** `{ "tools": [names needing an approval], "all": boolean }`. */
    approval: Json;
    visibility: Visibility;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  skills: {
    id: string;
    tenant_id: string;
    owner_id: string;
    name: string;
    description: string;
    when_to_use: string;
    /** Tool names the skill uses, enabled while it is loaded (if the agent allows them). */
    tools: Json;
    /** The instructions (Markdown, without the front matter). */
    body: string;
    visibility: Visibility;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  conversations: {
    id: string;
    tenant_id: string;
    user_id: string;
    agent_id: string;
    title: string | null;
    /** `{ "conversation_id", "message_id" }` of the message it was forked from. */
    forked_from: Json | null;
    created_at: Generated<Date>;
    updated_at: Timestamp;
    deleted_at: Date | null;
  };
  messages: {
    id: string;
    tenant_id: string;
    conversation_id: string;
    turn_id: string | null;
    /** Order within the conversation. */
    seq: number;
    role: 'user' | 'assistant' | 'tool';
    /** A string, or OpenAI content parts (`text`, `image_url`). */
    content: Json;
    /** Assistant messages: the tool calls it made, OpenAI-shaped. */
    tool_calls: Json | null;
    /** Tool messages: the call they answer. */
    tool_call_id: string | null;
    /** Tool messages: `{ "ok": boolean, "code": string | null }`; null on rows stored before migration 0003. */
    tool_outcome: Json | null;
    status: 'complete' | 'partial' | 'cancelled' | 'failed';
    created_at: Generated<Date>;
  };
  turns: {
    turn_id: string;
    tenant_id: string;
    user_id: string;
    conversation_id: string;
    agent_id: string;
    kind: 'chat' | 'replay';
    status: 'running' | 'done' | 'failed' | 'cancelled';
    error_code: string | null;
    /** For a replay: the turn it re-ran. */
    replay_of: string | null;
    usage: Json | null;
    /** The turn's stream events once it ended, for clients resuming with `Last-Event-ID`. */
    events: Json | null;
    started_at: Generated<Date>;
    ended_at: Date | null;
  };
  /**
   * Turns running in this runtime, across tenants and without row-level security: after a crash the runtime
   * finds here the turns it must close (their rows stay tenant-scoped in `turns`).
   */
  running_turns: {
    turn_id: string;
    tenant_id: string;
    user_id: string;
    started_at: Generated<Date>;
  };
  approvals: {
    id: string;
    tenant_id: string;
    user_id: string;
    turn_id: string;
    conversation_id: string;
    tool: string;
    arguments: Json;
    status: 'pending' | 'approved' | 'denied' | 'expired';
    reason: string | null;
    decided_by: string | null;
    created_at: Generated<Date>;
    expires_at: Date;
    decided_at: Date | null;
  };
}

async function timestamps<DB>(db: Kysely<DB>, table: string): Promise<void> {
  await sql`alter table ${sql.table(table)} add column created_at timestamptz not null default now()`.execute(
    db,
  );
}

export const RUNTIME_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_agents_skills_conversations': {
    async up(db) {
      await db.schema
        .createTable('agents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('system_prompt', 'text', (c) => c.notNull())
        .addColumn('model_role', 'text', (c) => c.notNull())
        .addColumn('tools', 'jsonb', (c) => c.notNull())
        .addColumn('skills', 'jsonb', (c) => c.notNull())
        .addColumn('mcp_servers', 'jsonb', (c) => c.notNull())
        .addColumn('approval', 'jsonb', (c) => c.notNull())
        .addColumn('visibility', 'text', (c) =>
          c.notNull().check(sql`visibility in ('private', 'tenant', 'managed')`),
        )
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('agents_owner_name', ['tenant_id', 'owner_id', 'name'])
        .execute();
      await timestamps(db, 'agents');
      await enableTenantIsolation(db, 'agents');

      await db.schema
        .createTable('skills')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('when_to_use', 'text', (c) => c.notNull())
        .addColumn('tools', 'jsonb', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('visibility', 'text', (c) =>
          c.notNull().check(sql`visibility in ('private', 'tenant', 'managed')`),
        )
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('skills_owner_name', ['tenant_id', 'owner_id', 'name'])
        .execute();
      await timestamps(db, 'skills');
      await enableTenantIsolation(db, 'skills');

      await db.schema
        .createTable('conversations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('agent_id', 'text', (c) => c.notNull())
        .addColumn('title', 'text')
        .addColumn('forked_from', 'jsonb')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('deleted_at', 'timestamptz')
        .execute();
      await timestamps(db, 'conversations');
      await db.schema
        .createIndex('conversations_user_updated')
        .on('conversations')
        .columns(['tenant_id', 'user_id', 'updated_at', 'id'])
        .execute();
      await enableTenantIsolation(db, 'conversations');

      await db.schema
        .createTable('messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('conversation_id', 'text', (c) =>
          c.notNull().references('conversations.id').onDelete('cascade'),
        )
        .addColumn('turn_id', 'text')
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('user', 'assistant', 'tool')`))
        .addColumn('content', 'jsonb', (c) => c.notNull())
        .addColumn('tool_calls', 'jsonb')
        .addColumn('tool_call_id', 'text')
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('complete', 'partial', 'cancelled', 'failed')`),
        )
        .addUniqueConstraint('messages_conversation_seq', ['conversation_id', 'seq'])
        .execute();
      await timestamps(db, 'messages');
      await enableTenantIsolation(db, 'messages');

      await db.schema
        .createTable('turns')
        .addColumn('turn_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('conversation_id', 'text', (c) => c.notNull())
        .addColumn('agent_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('chat', 'replay')`))
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('running', 'done', 'failed', 'cancelled')`),
        )
        .addColumn('error_code', 'text')
        .addColumn('replay_of', 'text')
        .addColumn('usage', 'jsonb')
        .addColumn('events', 'jsonb')
        .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('ended_at', 'timestamptz')
        .execute();
      await enableTenantIsolation(db, 'turns');

      await db.schema
        .createTable('approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('turn_id', 'text', (c) => c.notNull())
        .addColumn('conversation_id', 'text', (c) => c.notNull())
        .addColumn('tool', 'text', (c) => c.notNull())
        .addColumn('arguments', 'jsonb', (c) => c.notNull())
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('pending', 'approved', 'denied', 'expired')`),
        )
        .addColumn('reason', 'text')
        .addColumn('decided_by', 'text')
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        .addColumn('decided_at', 'timestamptz')
        .execute();
      await timestamps(db, 'approvals');
      await db.schema
        .createIndex('approvals_user_status')
        .on('approvals')
        .columns(['tenant_id', 'user_id', 'status'])
        .execute();
      await enableTenantIsolation(db, 'approvals');
    },
  },
  '0002_running_turns': {
    async up(db) {
      await db.schema
        .createTable('running_turns')
        .addColumn('turn_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  /** A tool message's outcome, so a stored tool call shows whether it failed; older rows stay null (unknown). */
  '0003_message_tool_outcome': {
    async up(db) {
      await db.schema.alterTable('messages').addColumn('tool_outcome', 'jsonb').execute();
    },
  },
};
