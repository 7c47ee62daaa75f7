import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Principal } from '@aibox/identity';
import { openSqlStore, type SqlStore } from '@aibox/stores';
import { dropSchemas, needs, postgresUrl } from '@aibox/testing';

import { createAgentBody, patchAgentBody, type AgentView } from '../src/dtos/agent.dto.js';
import { createSkillBody, patchSkillBody, type SkillView } from '../src/dtos/skill.dto.js';
import { AgentRepository } from '../src/repositories/agent.repository.js';
import { RUNTIME_MIGRATIONS, type RuntimeTables } from '../src/repositories/runtime-schema.js';
import { SkillRepository } from '../src/repositories/skill.repository.js';
import { AgentCatalog, SkillCatalog } from '../src/services/agent-catalog.service.js';

const ADAPTERS = ['pglite', ...((await needs('postgres')) ? ['postgres' as const] : [])] as const;

const DEFAULT_PROMPT = 'You are the test assistant.';
const TENANT = 'acme';

function principal(uid: string, roles: string[] = ['member'], tid = TENANT): Principal {
  return { tid, uid, email: `${uid}@example.test`, roles, iss: 'test', sub: uid, iat: 0, exp: 0 };
}

const ALICE = principal('alice');
const BOB = principal('bob');
const ADMIN = principal('carol', ['member', 'admin']);
const OUTSIDER = principal('alice', ['member', 'admin'], 'globex');

const HTTP_SERVER = {
  name: 'crm',
  transport: 'http',
  url: 'https://crm.example.test/mcp',
  headers: { Authorization: 'Bearer crm-secret-1', 'X-Team': 'sales' },
} as const;
const STDIO_SERVER = {
  name: 'files',
  transport: 'stdio',
  command: '/usr/bin/files-mcp',
  args: ['--root', '/srv'],
  env: { FILES_TOKEN: 'files-secret-1' },
} as const;

const SKILL_MARKDOWN = `---
name: quarterly-report
description: Writes the quarterly sales report
tools: [current_time]
---
Ask which quarter, then summarize the figures.
`;

interface Store {
  readonly sql: SqlStore<RuntimeTables>;
  cleanup(): Promise<void>;
}

async function openStore(adapter: (typeof ADAPTERS)[number]): Promise<Store> {
  if (adapter === 'pglite') {
    const sql = await openSqlStore<RuntimeTables>({ service: 'agent-runtime' });
    return { sql, cleanup: () => Promise.resolve() };
  }
  const schema = `agent_t${randomBytes(6).toString('hex')}`;
  const sql = await openSqlStore<RuntimeTables>({
    service: 'agent-runtime',
    databaseUrl: postgresUrl(),
    schema,
  });
  return {
    sql,
    cleanup: () => dropSchemas([schema]),
  };
}

describe.each(ADAPTERS)('agents and skills on %s', (adapter) => {
  let store: Store;
  let agents: AgentCatalog;
  let skills: SkillCatalog;

  beforeAll(async () => {
    store = await openStore(adapter);
    await store.sql.migrate(RUNTIME_MIGRATIONS);
    const skillRepository = new SkillRepository(store.sql);
    agents = new AgentCatalog(new AgentRepository(store.sql), skillRepository, {
      defaultSystemPrompt: DEFAULT_PROMPT,
    });
    skills = new SkillCatalog(skillRepository);
  });
  afterAll(async () => {
    await store.sql.close();
    await store.cleanup();
  });

  function createAgent(who: Principal, body: Record<string, unknown>): Promise<AgentView> {
    return agents.create(who, createAgentBody.parse(body));
  }
  function patchAgent(who: Principal, id: string, body: Record<string, unknown>): Promise<AgentView> {
    return agents.update(who, id, patchAgentBody.parse(body));
  }
  function createSkill(who: Principal, body: Record<string, unknown>): Promise<SkillView> {
    return skills.create(who, createSkillBody.parse(body));
  }
  async function listedAgents(who: Principal): Promise<string[]> {
    return (await agents.list(who)).data.map((agent) => agent.id);
  }

  describe('the default agent', () => {
    it('is listed first, resolved when no agent or "default" is named, and has no skills', async () => {
      const own = await createAgent(ALICE, { name: 'Aardvark helper' });
      const listed = await listedAgents(ALICE);
      expect(listed[0]).toBe('default');
      expect(listed).toContain(own.id);

      const resolved = await agents.resolve(BOB, undefined);
      expect(resolved).toMatchObject({
        id: 'default',
        name: 'Assistant',
        ownerId: 'system',
        systemPrompt: DEFAULT_PROMPT,
        modelRole: 'default',
        tools: ['current_time'],
        visibility: 'managed',
      });
      expect(await agents.resolve(BOB, 'default')).toBe(resolved);
      expect(await agents.get(BOB, 'default')).toMatchObject({
        id: 'default',
        owner_id: 'system',
        skills: [],
      });
      expect(await agents.skillsOf(TENANT, resolved)).toEqual([]);
    });

    it('cannot be changed or deleted, not even by an administrator', async () => {
      await expect(patchAgent(ADMIN, 'default', { name: 'Mine' })).rejects.toMatchObject({
        code: 'forbidden',
        httpStatus: 403,
      });
      await expect(agents.delete(ADMIN, 'default')).rejects.toMatchObject({
        code: 'forbidden',
        httpStatus: 403,
      });
    });
  });

  describe('visibility', () => {
    it("answers another user's private agent exactly like a missing one", async () => {
      const secret = await createAgent(ALICE, { name: 'Diary', system_prompt: 'Private notes.' });
      expect(secret).toMatchObject({ owner_id: 'alice', visibility: 'private', model_role: 'default' });
      expect(await agents.get(ALICE, secret.id)).toEqual(secret);

      for (const other of [BOB, ADMIN]) {
        expect(await listedAgents(other)).not.toContain(secret.id);
        for (const attempt of [
          () => agents.get(other, secret.id),
          () => agents.resolve(other, secret.id),
          () => patchAgent(other, secret.id, { name: 'Taken over' }),
          () => agents.delete(other, secret.id),
          () => agents.get(other, 'no-such-agent'),
        ]) {
          await expect(attempt()).rejects.toMatchObject({ code: 'agent_unknown', httpStatus: 404 });
        }
      }
      expect(await agents.get(ALICE, secret.id)).toMatchObject({ name: 'Diary' });
    });

    it('shows tenant agents to everyone, lets only the owner or an administrator change them', async () => {
      const shared = await createAgent(ALICE, { name: 'Team helper', visibility: 'tenant' });
      expect(await listedAgents(BOB)).toContain(shared.id);
      expect(await agents.resolve(BOB, shared.id)).toMatchObject({ id: shared.id, ownerId: 'alice' });

      await expect(patchAgent(BOB, shared.id, { description: 'mine now' })).rejects.toMatchObject({
        code: 'forbidden',
        httpStatus: 403,
      });
      await expect(agents.delete(BOB, shared.id)).rejects.toMatchObject({ code: 'forbidden' });

      expect(await patchAgent(ALICE, shared.id, { description: 'by the owner' })).toMatchObject({
        description: 'by the owner',
      });
      const edited = await patchAgent(ADMIN, shared.id, { system_prompt: 'by an admin' });
      expect(edited).toMatchObject({
        owner_id: 'alice',
        system_prompt: 'by an admin',
        description: 'by the owner',
      });
      expect(Date.parse(edited.updated_at)).toBeGreaterThanOrEqual(Date.parse(shared.updated_at));

      await agents.delete(ADMIN, shared.id);
      await expect(agents.get(ALICE, shared.id)).rejects.toMatchObject({ code: 'agent_unknown' });
      await expect(agents.delete(ALICE, shared.id)).rejects.toMatchObject({ code: 'agent_unknown' });
    });

    it('lets only administrators publish managed agents', async () => {
      await expect(createAgent(BOB, { name: 'Official', visibility: 'managed' })).rejects.toMatchObject({
        code: 'forbidden',
        httpStatus: 403,
      });
      const own = await createAgent(BOB, { name: 'Bob private' });
      await expect(patchAgent(BOB, own.id, { visibility: 'managed' })).rejects.toMatchObject({
        code: 'forbidden',
      });
      expect(await patchAgent(BOB, own.id, { visibility: 'tenant' })).toMatchObject({ visibility: 'tenant' });

      const managed = await createAgent(ADMIN, { name: 'Official', visibility: 'managed' });
      expect(await listedAgents(BOB)).toContain(managed.id);
      await expect(patchAgent(BOB, managed.id, { name: 'Unofficial' })).rejects.toMatchObject({
        code: 'forbidden',
      });
    });

    it('lets only administrators configure MCP servers', async () => {
      await expect(createAgent(BOB, { name: 'Tooling', mcp_servers: [STDIO_SERVER] })).rejects.toMatchObject({
        code: 'mcp_forbidden',
        httpStatus: 403,
      });
      const own = await createAgent(BOB, { name: 'Tooling' });
      await expect(patchAgent(BOB, own.id, { mcp_servers: [HTTP_SERVER] })).rejects.toMatchObject({
        code: 'mcp_forbidden',
      });
      expect(await patchAgent(BOB, own.id, { mcp_servers: [] })).toMatchObject({ mcp_servers: [] });

      const tooled = await createAgent(ADMIN, {
        name: 'Tooling',
        mcp_servers: [STDIO_SERVER],
        visibility: 'tenant',
      });
      expect(tooled.mcp_servers).toHaveLength(1);
    });

    it('keeps tenants apart', async () => {
      const shared = await createAgent(ALICE, { name: 'Acme shared', visibility: 'tenant' });
      const skill = await createSkill(ALICE, { markdown: SKILL_MARKDOWN, visibility: 'tenant' });

      expect(await listedAgents(OUTSIDER)).toEqual(['default']);
      expect((await skills.list(OUTSIDER)).data).toEqual([]);
      await expect(agents.get(OUTSIDER, shared.id)).rejects.toMatchObject({ code: 'agent_unknown' });
      await expect(agents.resolve(OUTSIDER, shared.id)).rejects.toMatchObject({ code: 'agent_unknown' });
      await expect(patchAgent(OUTSIDER, shared.id, { name: 'x' })).rejects.toMatchObject({
        code: 'agent_unknown',
      });
      await expect(skills.get(OUTSIDER, skill.id)).rejects.toMatchObject({ code: 'skill_unknown' });
      await expect(createAgent(OUTSIDER, { name: 'Borrower', skills: [skill.id] })).rejects.toMatchObject({
        code: 'skill_unknown',
      });

      // The same owner id and name in another tenant is another agent.
      const twin = await createAgent(OUTSIDER, { name: 'Acme shared' });
      expect(twin.id).not.toBe(shared.id);
      const resolved = await agents.resolve(ALICE, shared.id);
      expect(await agents.skillsOf('globex', { ...resolved, skills: [skill.id] })).toEqual([]);
    });
  });

  describe('skills of agents', () => {
    it('attaches only skills the caller can see, and hands the turn engine those that still exist', async () => {
      const alicePrivate = await createSkill(ALICE, {
        name: 'alice-notes',
        description: 'Alice private notes',
        body: 'Only for Alice.',
      });
      const shared = await createSkill(ALICE, {
        name: 'shared-glossary',
        description: 'Company glossary',
        body: 'Terms.',
        visibility: 'tenant',
      });
      const bobOwn = await createSkill(BOB, {
        name: 'bob-style',
        description: 'Bob writing style',
        body: 'Short.',
      });

      await expect(createAgent(BOB, { name: 'Sneaky', skills: [alicePrivate.id] })).rejects.toMatchObject({
        code: 'skill_unknown',
      });
      await expect(createAgent(BOB, { name: 'Sneaky', skills: ['no-such-skill'] })).rejects.toMatchObject({
        code: 'skill_unknown',
      });

      const agent = await createAgent(BOB, {
        name: 'Writer',
        skills: [bobOwn.id, shared.id, bobOwn.id],
        visibility: 'tenant',
      });
      expect(agent.skills).toEqual([bobOwn.id, shared.id]);
      const resolved = await agents.resolve(ALICE, agent.id);
      expect((await agents.skillsOf(TENANT, resolved)).map((skill) => skill.name)).toEqual([
        'bob-style',
        'shared-glossary',
      ]);

      // An admin editing Bob's shared agent may keep the skills it has without seeing Bob's private one.
      expect(await patchAgent(ADMIN, agent.id, { skills: [bobOwn.id] })).toMatchObject({
        skills: [bobOwn.id],
      });
      await expect(patchAgent(ADMIN, agent.id, { skills: [alicePrivate.id] })).rejects.toMatchObject({
        code: 'skill_unknown',
      });
      await patchAgent(BOB, agent.id, { skills: [bobOwn.id, shared.id] });

      // A skill deleted, or made private by someone other than the agent's owner, drops out.
      await skills.update(ALICE, shared.id, patchSkillBody.parse({ visibility: 'private' }));
      expect(
        (await agents.skillsOf(TENANT, await agents.resolve(BOB, agent.id))).map((skill) => skill.id),
      ).toEqual([bobOwn.id]);
      await skills.delete(BOB, bobOwn.id);
      expect(await agents.skillsOf(TENANT, await agents.resolve(BOB, agent.id))).toEqual([]);
    });
  });

  describe('names', () => {
    it('are unique per owner, for agents and skills', async () => {
      await createAgent(ALICE, { name: 'Planner' });
      await expect(createAgent(ALICE, { name: 'Planner' })).rejects.toMatchObject({
        code: 'agent_name_taken',
        httpStatus: 409,
      });
      await createAgent(BOB, { name: 'Planner' });
      const other = await createAgent(ALICE, { name: 'Planner 2' });
      await expect(patchAgent(ALICE, other.id, { name: 'Planner' })).rejects.toMatchObject({
        code: 'agent_name_taken',
      });

      await createSkill(ALICE, { name: 'planning', description: 'Plans', body: 'Plan.' });
      await expect(
        createSkill(ALICE, { markdown: '---\nname: planning\ndescription: Again\n---\nPlan again.\n' }),
      ).rejects.toMatchObject({ code: 'skill_name_taken', httpStatus: 409 });
      await createSkill(BOB, { name: 'planning', description: 'Plans', body: 'Plan.' });
    });
  });

  describe('MCP secrets', () => {
    it('are never shown, survive a PATCH that sends the masked values back, and can be replaced', async () => {
      const created = await createAgent(ADMIN, {
        name: 'CRM agent',
        mcp_servers: [HTTP_SERVER, STDIO_SERVER],
        visibility: 'tenant',
      });
      expect(created.mcp_servers).toEqual([
        { ...HTTP_SERVER, headers: { Authorization: '***', 'X-Team': '***' } },
        { ...STDIO_SERVER, env: { FILES_TOKEN: '***' } },
      ]);
      const listed = (await agents.list(BOB)).data.find((agent) => agent.id === created.id);
      expect(JSON.stringify(listed)).not.toMatch(/secret/);
      expect(JSON.stringify(await agents.get(ADMIN, created.id))).not.toMatch(/secret/);

      // The turn engine gets the real values.
      expect((await agents.resolve(BOB, created.id)).mcpServers).toEqual([HTTP_SERVER, STDIO_SERVER]);

      // Round trip: what was read goes back with one header changed and one added.
      const [http, stdio] = created.mcp_servers;
      const patched = await patchAgent(ADMIN, created.id, {
        mcp_servers: [
          { ...http, headers: { ...http?.headers, 'X-Team': 'support', 'X-New': 'fresh' } },
          stdio,
        ],
      });
      expect(patched.mcp_servers[0]?.headers).toEqual({
        Authorization: '***',
        'X-Team': '***',
        'X-New': '***',
      });
      expect((await agents.resolve(ADMIN, created.id)).mcpServers).toEqual([
        {
          ...HTTP_SERVER,
          headers: { Authorization: 'Bearer crm-secret-1', 'X-Team': 'support', 'X-New': 'fresh' },
        },
        STDIO_SERVER,
      ]);

      // A masked value with nothing stored under that key (or that server name) is refused.
      await expect(
        patchAgent(ADMIN, created.id, { mcp_servers: [{ ...STDIO_SERVER, env: { OTHER: '***' } }] }),
      ).rejects.toMatchObject({ code: 'invalid_request', httpStatus: 400 });
      await expect(
        patchAgent(ADMIN, created.id, {
          mcp_servers: [{ ...STDIO_SERVER, name: 'renamed', env: { FILES_TOKEN: '***' } }],
        }),
      ).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(
        createAgent(ADMIN, {
          name: 'Copy',
          mcp_servers: [{ ...HTTP_SERVER, headers: { Authorization: '***' } }],
        }),
      ).rejects.toMatchObject({ code: 'invalid_request' });
      expect((await agents.resolve(ADMIN, created.id)).mcpServers[1]).toEqual(STDIO_SERVER);
    });
  });

  describe('skills', () => {
    it('are written as Markdown or fields and read back as either', async () => {
      const created = await createSkill(ALICE, {
        markdown: SKILL_MARKDOWN.replace('quarterly-report', 'qr-md'),
      });
      expect(created).toMatchObject({
        owner_id: 'alice',
        name: 'qr-md',
        description: 'Writes the quarterly sales report',
        when_to_use: '',
        tools: ['current_time'],
        body: 'Ask which quarter, then summarize the figures.',
        visibility: 'private',
      });
      const markdown = await skills.render(ALICE, created.id, 'markdown');
      expect(markdown.contentType).toBe('text/markdown; charset=utf-8');
      expect(markdown.body).toBe(
        '---\nname: qr-md\ndescription: Writes the quarterly sales report\ntools:\n  - current_time\n---\n\n' +
          'Ask which quarter, then summarize the figures.\n',
      );
      expect(await skills.render(ALICE, created.id, 'json')).toEqual({
        contentType: 'application/json; charset=utf-8',
        body: created,
      });

      const patched = await skills.update(
        ALICE,
        created.id,
        patchSkillBody.parse({ when_to_use: 'Sales questions' }),
      );
      expect(patched).toMatchObject({
        name: 'qr-md',
        when_to_use: 'Sales questions',
        tools: ['current_time'],
      });
      const replaced = await skills.update(
        ALICE,
        created.id,
        patchSkillBody.parse({ markdown: '---\nname: qr-2\ndescription: Shorter\n---\nNew body.\n' }),
      );
      expect(replaced).toMatchObject({
        name: 'qr-2',
        description: 'Shorter',
        when_to_use: '',
        tools: [],
        body: 'New body.',
      });

      await expect(createSkill(ALICE, { markdown: '---\nname: broken\n---\nbody\n' })).rejects.toMatchObject({
        code: 'skill_invalid',
        httpStatus: 400,
        message: expect.stringContaining('"description"') as unknown,
      });
      await expect(
        skills.update(ALICE, created.id, patchSkillBody.parse({ markdown: 'no front matter' })),
      ).rejects.toMatchObject({ code: 'skill_invalid' });
    });

    it('follow the visibility rules of agents', async () => {
      const secret = await createSkill(ALICE, { name: 'alice-only', description: 'Mine', body: 'Secret.' });
      const shared = await createSkill(ALICE, {
        name: 'team-tips',
        description: 'Tips',
        body: 'Tips.',
        visibility: 'tenant',
      });
      const bobSees = (await skills.list(BOB)).data.map((skill) => skill.id);
      expect(bobSees).toContain(shared.id);
      expect(bobSees).not.toContain(secret.id);
      for (const attempt of [
        () => skills.get(BOB, secret.id),
        () => skills.render(ADMIN, secret.id, 'markdown'),
        () => skills.update(ADMIN, secret.id, patchSkillBody.parse({ body: 'x' })),
        () => skills.delete(BOB, secret.id),
      ]) {
        await expect(attempt()).rejects.toMatchObject({ code: 'skill_unknown', httpStatus: 404 });
      }
      await expect(skills.update(BOB, shared.id, patchSkillBody.parse({ body: 'x' }))).rejects.toMatchObject({
        code: 'forbidden',
      });
      await expect(skills.delete(BOB, shared.id)).rejects.toMatchObject({ code: 'forbidden' });
      expect(await skills.update(ADMIN, shared.id, patchSkillBody.parse({ body: 'Edited.' }))).toMatchObject({
        body: 'Edited.',
      });

      await expect(
        createSkill(BOB, { name: 'official', description: 'x', body: 'x', visibility: 'managed' }),
      ).rejects.toMatchObject({ code: 'forbidden' });
      await expect(
        skills.update(ALICE, secret.id, patchSkillBody.parse({ visibility: 'managed' })),
      ).rejects.toMatchObject({ code: 'forbidden' });
      const managed = await createSkill(ADMIN, {
        name: 'official',
        description: 'x',
        body: 'x',
        visibility: 'managed',
      });
      expect((await skills.list(BOB)).data.map((skill) => skill.id)).toContain(managed.id);

      await skills.delete(ADMIN, shared.id);
      await expect(skills.get(ALICE, shared.id)).rejects.toMatchObject({ code: 'skill_unknown' });
    });
  });
});
