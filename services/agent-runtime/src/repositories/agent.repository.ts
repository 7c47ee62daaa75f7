import { sql, type Selectable } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import { RuntimeError } from '../errors/runtime.error.js';
import type { Agent } from '../services/agent.js';
import type { McpServerConfig } from '../tools/tool.js';
import type { RuntimeTables } from './runtime-schema.js';

/** What a new agent is made of; the store stamps the times. */
export type NewAgent = Omit<Agent, 'createdAt' | 'updatedAt'>;

/** The fields an update may change; those left out keep their value. */
export type AgentChanges = Partial<Omit<Agent, 'id' | 'ownerId' | 'createdAt' | 'updatedAt'>>;

/** PostgreSQL's unique_violation: the only unique key an insert or rename can hit is (tenant, owner, name). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/** JSON read back from a column; anything not a list of strings reads as an empty list. */
export function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function approvalOf(value: unknown): Agent['approval'] {
  const approval = (typeof value === 'object' && value !== null ? value : {}) as {
    tools?: unknown;
    all?: unknown;
  };
  return { tools: stringList(approval.tools), all: approval.all === true };
}

function toAgent(row: Selectable<RuntimeTables['agents']>): Agent {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    description: row.description,
    systemPrompt: row.system_prompt,
    modelRole: row.model_role,
    tools: stringList(row.tools),
    skills: stringList(row.skills),
    // Written only through the validated API (mcpServer in agent.dto.ts).
    mcpServers: Array.isArray(row.mcp_servers) ? (row.mcp_servers as McpServerConfig[]) : [],
    approval: approvalOf(row.approval),
    visibility: row.visibility,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function nameTaken(error: unknown, name: string | undefined): unknown {
  return isUniqueViolation(error) ? new RuntimeError('agent_name_taken', name, { cause: error }) : error;
}

/** Stored agents (the built-in default agent is not one of them). */
export class AgentRepository {
  constructor(private readonly sql: SqlStore<RuntimeTables>) {}

  /** The agents `userId` can see: their own, and every tenant-shared or managed one; by name. */
  async listVisible(tenantId: string, userId: string): Promise<Agent[]> {
    const rows = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .selectFrom('agents')
        .selectAll()
        .where((eb) => eb.or([eb('owner_id', '=', userId), eb('visibility', '<>', 'private')]))
        .orderBy('name')
        .orderBy('id')
        .execute(),
    );
    return rows.map(toAgent);
  }

  async find(tenantId: string, id: string): Promise<Agent | undefined> {
    const row = await this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst());
    return row === undefined ? undefined : toAgent(row);
  }

  /** Throws `agent_name_taken` when the owner has an agent of that name. */
  async insert(tenantId: string, agent: NewAgent): Promise<Agent> {
    try {
      const row = await this.sql.forTenant(tenantId).transaction((trx) =>
        trx
          .insertInto('agents')
          .values({
            id: agent.id,
            tenant_id: tenantId,
            owner_id: agent.ownerId,
            name: agent.name,
            description: agent.description,
            system_prompt: agent.systemPrompt,
            model_role: agent.modelRole,
            tools: JSON.stringify(agent.tools),
            skills: JSON.stringify(agent.skills),
            mcp_servers: JSON.stringify(agent.mcpServers),
            approval: JSON.stringify(agent.approval),
            visibility: agent.visibility,
          })
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
      return toAgent(row);
    } catch (error: unknown) {
      throw nameTaken(error, agent.name);
    }
  }

  /** The changed agent, or `undefined` when it is gone; throws `agent_name_taken` on a rename into a taken name. */
  async update(tenantId: string, id: string, changes: AgentChanges): Promise<Agent | undefined> {
    try {
      const row = await this.sql.forTenant(tenantId).transaction((trx) =>
        trx
          .updateTable('agents')
          .set({
            ...(changes.name === undefined ? {} : { name: changes.name }),
            ...(changes.description === undefined ? {} : { description: changes.description }),
            ...(changes.systemPrompt === undefined ? {} : { system_prompt: changes.systemPrompt }),
            ...(changes.modelRole === undefined ? {} : { model_role: changes.modelRole }),
            ...(changes.tools === undefined ? {} : { tools: JSON.stringify(changes.tools) }),
            ...(changes.skills === undefined ? {} : { skills: JSON.stringify(changes.skills) }),
            ...(changes.mcpServers === undefined ? {} : { mcp_servers: JSON.stringify(changes.mcpServers) }),
            ...(changes.approval === undefined ? {} : { approval: JSON.stringify(changes.approval) }),
            ...(changes.visibility === undefined ? {} : { visibility: changes.visibility }),
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst(),
      );
      return row === undefined ? undefined : toAgent(row);
    } catch (error: unknown) {
      throw nameTaken(error, changes.name);
    }
  }

  /** Whether there was such an agent. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.deleteFrom('agents').where('id', '=', id).executeTakeFirst());
    return result.numDeletedRows > 0n;
  }
}
