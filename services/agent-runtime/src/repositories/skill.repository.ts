import { sql, type Selectable } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import { RuntimeError } from '../errors/runtime.error.js';
import type { Skill } from '../services/agent.js';
import { isUniqueViolation, stringList } from './agent.repository.js';
import type { RuntimeTables } from './runtime-schema.js';

/** What a new skill is made of; the store stamps the times. */
export type NewSkill = Omit<Skill, 'createdAt' | 'updatedAt'>;

/** The fields an update may change; those left out keep their value. */
export type SkillChanges = Partial<Omit<Skill, 'id' | 'ownerId' | 'createdAt' | 'updatedAt'>>;

function toSkill(row: Selectable<RuntimeTables['skills']>): Skill {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    description: row.description,
    whenToUse: row.when_to_use,
    tools: stringList(row.tools),
    body: row.body,
    visibility: row.visibility,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function nameTaken(error: unknown, name: string | undefined): unknown {
  return isUniqueViolation(error) ? new RuntimeError('skill_name_taken', name, { cause: error }) : error;
}

export class SkillRepository {
  constructor(private readonly sql: SqlStore<RuntimeTables>) {}

  /** The skills `userId` can see: their own, and every tenant-shared or managed one; by name. */
  async listVisible(tenantId: string, userId: string): Promise<Skill[]> {
    const rows = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .selectFrom('skills')
        .selectAll()
        .where((eb) => eb.or([eb('owner_id', '=', userId), eb('visibility', '<>', 'private')]))
        .orderBy('name')
        .orderBy('id')
        .execute(),
    );
    return rows.map(toSkill);
  }

  async find(tenantId: string, id: string): Promise<Skill | undefined> {
    const row = await this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.selectFrom('skills').selectAll().where('id', '=', id).executeTakeFirst());
    return row === undefined ? undefined : toSkill(row);
  }

  /** Those of `ids` that exist, whoever can see them, in no particular order. */
  async findMany(tenantId: string, ids: readonly string[]): Promise<Skill[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .selectFrom('skills')
        .selectAll()
        .where('id', 'in', [...ids])
        .execute(),
    );
    return rows.map(toSkill);
  }

  /** Throws `skill_name_taken` when the owner has a skill of that name. */
  async insert(tenantId: string, skill: NewSkill): Promise<Skill> {
    try {
      const row = await this.sql.forTenant(tenantId).transaction((trx) =>
        trx
          .insertInto('skills')
          .values({
            id: skill.id,
            tenant_id: tenantId,
            owner_id: skill.ownerId,
            name: skill.name,
            description: skill.description,
            when_to_use: skill.whenToUse,
            tools: JSON.stringify(skill.tools),
            body: skill.body,
            visibility: skill.visibility,
          })
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
      return toSkill(row);
    } catch (error: unknown) {
      throw nameTaken(error, skill.name);
    }
  }

  /** The changed skill, or `undefined` when it is gone; throws `skill_name_taken` on a rename into a taken name. */
  async update(tenantId: string, id: string, changes: SkillChanges): Promise<Skill | undefined> {
    try {
      const row = await this.sql.forTenant(tenantId).transaction((trx) =>
        trx
          .updateTable('skills')
          .set({
            ...(changes.name === undefined ? {} : { name: changes.name }),
            ...(changes.description === undefined ? {} : { description: changes.description }),
            ...(changes.whenToUse === undefined ? {} : { when_to_use: changes.whenToUse }),
            ...(changes.tools === undefined ? {} : { tools: JSON.stringify(changes.tools) }),
            ...(changes.body === undefined ? {} : { body: changes.body }),
            ...(changes.visibility === undefined ? {} : { visibility: changes.visibility }),
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst(),
      );
      return row === undefined ? undefined : toSkill(row);
    } catch (error: unknown) {
      throw nameTaken(error, changes.name);
    }
  }

  /** Whether there was such a skill. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.deleteFrom('skills').where('id', '=', id).executeTakeFirst());
    return result.numDeletedRows > 0n;
  }
}
