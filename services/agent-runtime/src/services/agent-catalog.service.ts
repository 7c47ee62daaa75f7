import { newTurnId, type Principal } from '@aibox/identity';
import { PlatformError } from '@aibox/platform';

import {
  agentView,
  MASKED,
  type AgentView,
  type CreateAgentBody,
  type PatchAgentBody,
} from '../dtos/agent.dto.js';
import {
  skillView,
  type CreateSkillBody,
  type PatchSkillBody,
  type RenderedSkill,
  type SkillFieldsBody,
  type SkillQuery,
  type SkillView,
} from '../dtos/skill.dto.js';
import { RuntimeError } from '../errors/runtime.error.js';
import type { AgentChanges, AgentRepository } from '../repositories/agent.repository.js';
import type { Visibility } from '../repositories/runtime-schema.js';
import type { SkillChanges, SkillRepository } from '../repositories/skill.repository.js';
import type { McpServerConfig } from '../tools/tool.js';
import { DEFAULT_AGENT_ID, type Agent, type Skill } from './agent.js';
import { parseSkillMarkdown, serializeSkillMarkdown, type SkillContent } from './skill-markdown.js';

/** The role that may publish managed agents and skills, configure MCP servers and change shared items. */
const ADMIN_ROLE = 'admin';
/** The owner id of what the runtime has built in. */
export const SYSTEM_OWNER = 'system';
/** The built-in agent is the same on every replica and across restarts. */
const BUILT_IN_AT = new Date(0);

interface Owned {
  readonly ownerId: string;
  readonly visibility: Visibility;
}

function isAdmin(principal: Principal): boolean {
  return principal.roles.includes(ADMIN_ROLE);
}

/** Private items are their owner's alone; tenant and managed ones everybody in the tenant sees. */
function canSee(principal: Principal, item: Owned): boolean {
  return item.visibility !== 'private' || item.ownerId === principal.uid;
}

/** The owner changes their own items; an administrator also changes shared ones (never others' private ones). */
function canChange(principal: Principal, item: Owned): boolean {
  return item.ownerId === principal.uid || (item.visibility !== 'private' && isAdmin(principal));
}

function forbidden(detail: string): PlatformError {
  return new PlatformError('forbidden', { detail });
}

function assertMayPublish(principal: Principal, visibility: Visibility | undefined, what: string): void {
  if (visibility === 'managed' && !isAdmin(principal)) {
    throw forbidden(`only an administrator may make ${what} managed`);
  }
}

/** A stdio MCP server is a program the runtime starts, an http one a place it sends credentials: admins only. */
function assertMayConfigureMcp(principal: Principal, servers: readonly McpServerConfig[] | undefined): void {
  if (servers !== undefined && servers.length > 0 && !isAdmin(principal))
    throw new RuntimeError('mcp_forbidden');
}

function restoreSecrets(
  values: Readonly<Record<string, string>> | undefined,
  stored: Readonly<Record<string, string>> | undefined,
  what: string,
): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => {
      if (value !== MASKED) return [key, value];
      const kept = stored?.[key];
      if (kept === undefined) {
        throw new PlatformError('invalid_request', {
          detail: `${what} "${key}" is "${MASKED}", which stands for a stored value, and none is stored: send the value`,
        });
      }
      return [key, kept];
    }),
  );
}

/**
 * The servers as they will be stored: a {@link MASKED} header or environment value takes the value stored
 * for the same key of the same-named server, so a client can send back what it read.
 */
function withStoredSecrets(
  servers: readonly McpServerConfig[],
  stored: readonly McpServerConfig[],
): McpServerConfig[] {
  return servers.map((server) => {
    const before = stored.find((candidate) => candidate.name === server.name);
    const headers = restoreSecrets(server.headers, before?.headers, `mcp_servers "${server.name}" header`);
    const env = restoreSecrets(server.env, before?.env, `mcp_servers "${server.name}" env`);
    return {
      ...server,
      ...(headers === undefined ? {} : { headers }),
      ...(env === undefined ? {} : { env }),
    };
  });
}

function builtInAgent(systemPrompt: string): Agent {
  return {
    id: DEFAULT_AGENT_ID,
    ownerId: SYSTEM_OWNER,
    name: 'Assistant',
    description: 'The general assistant every tenant has.',
    systemPrompt,
    modelRole: 'default',
    tools: ['current_time'],
    skills: [],
    mcpServers: [],
    approval: { tools: [], all: false },
    visibility: 'managed',
    createdAt: BUILT_IN_AT,
    updatedAt: BUILT_IN_AT,
  };
}

export interface AgentCatalogOptions {
  /** `AGENT_DEFAULT_SYSTEM_PROMPT`. */
  readonly defaultSystemPrompt: string;
}

/**
 * The agents of a tenant: the built-in default agent (read-only, not stored) and the stored ones, each
 * private to its owner, shared with the tenant, or managed (published by an administrator). Another user's
 * private agent is answered exactly like a missing one.
 */
export class AgentCatalog {
  readonly defaultAgent: Agent;

  constructor(
    private readonly agents: AgentRepository,
    private readonly skills: SkillRepository,
    options: AgentCatalogOptions,
  ) {
    this.defaultAgent = builtInAgent(options.defaultSystemPrompt);
  }

  /** The default agent first, then the caller's own, tenant-shared and managed agents by name. */
  async list(principal: Principal): Promise<{ data: AgentView[] }> {
    const stored = await this.agents.listVisible(principal.tid, principal.uid);
    return { data: [this.defaultAgent, ...stored].map(agentView) };
  }

  async get(principal: Principal, id: string): Promise<AgentView> {
    return agentView(await this.resolve(principal, id));
  }

  async create(principal: Principal, body: CreateAgentBody): Promise<AgentView> {
    assertMayPublish(principal, body.visibility, 'an agent');
    assertMayConfigureMcp(principal, body.mcp_servers);
    const mcpServers = withStoredSecrets(body.mcp_servers, []);
    const skills = await this.attachable(principal, body.skills, []);
    const agent = await this.agents.insert(principal.tid, {
      id: newTurnId(),
      ownerId: principal.uid,
      name: body.name,
      description: body.description,
      systemPrompt: body.system_prompt,
      modelRole: body.model_role,
      tools: body.tools,
      skills,
      mcpServers,
      approval: body.approval,
      visibility: body.visibility,
    });
    return agentView(agent);
  }

  async update(principal: Principal, id: string, body: PatchAgentBody): Promise<AgentView> {
    const current = await this.changeable(principal, id);
    if (body.visibility !== current.visibility) assertMayPublish(principal, body.visibility, 'an agent');
    assertMayConfigureMcp(principal, body.mcp_servers);
    const changes: AgentChanges = {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.system_prompt === undefined ? {} : { systemPrompt: body.system_prompt }),
      ...(body.model_role === undefined ? {} : { modelRole: body.model_role }),
      ...(body.tools === undefined ? {} : { tools: body.tools }),
      ...(body.skills === undefined
        ? {}
        : { skills: await this.attachable(principal, body.skills, current.skills) }),
      ...(body.mcp_servers === undefined
        ? {}
        : { mcpServers: withStoredSecrets(body.mcp_servers, current.mcpServers) }),
      ...(body.approval === undefined ? {} : { approval: body.approval }),
      ...(body.visibility === undefined ? {} : { visibility: body.visibility }),
    };
    const updated = await this.agents.update(principal.tid, id, changes);
    if (updated === undefined) throw new RuntimeError('agent_unknown');
    return agentView(updated);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.changeable(principal, id);
    if (!(await this.agents.delete(principal.tid, id))) throw new RuntimeError('agent_unknown');
  }

  /** The agent a turn runs with: the default one when none (or `default`) is named; `agent_unknown` if not visible. */
  async resolve(principal: Principal, agentId: string | undefined): Promise<Agent> {
    if (agentId === undefined || agentId === DEFAULT_AGENT_ID) return this.defaultAgent;
    const agent = await this.agents.find(principal.tid, agentId);
    if (agent === undefined || !canSee(principal, agent)) throw new RuntimeError('agent_unknown');
    return agent;
  }

  /**
   * The agent's attached skills that still exist and that its owner can still see (a skill made private
   * after it was attached to someone else's agent drops out), in the agent's order.
   */
  async skillsOf(tenantId: string, agent: Agent): Promise<Skill[]> {
    if (agent.skills.length === 0) return [];
    const found = new Map(
      (await this.skills.findMany(tenantId, agent.skills)).map((skill) => [skill.id, skill]),
    );
    return agent.skills.flatMap((id) => {
      const skill = found.get(id);
      return skill !== undefined && (skill.visibility !== 'private' || skill.ownerId === agent.ownerId)
        ? [skill]
        : [];
    });
  }

  private async changeable(principal: Principal, id: string): Promise<Agent> {
    if (id === DEFAULT_AGENT_ID) throw forbidden('the default agent is built in and cannot be changed');
    const agent = await this.resolve(principal, id);
    if (!canChange(principal, agent)) {
      throw forbidden('only its owner or an administrator may change a shared agent');
    }
    return agent;
  }

  /** The skill ids, deduplicated; each the caller can see, or already attached. Else `skill_unknown`. */
  private async attachable(
    principal: Principal,
    ids: readonly string[],
    attached: readonly string[],
  ): Promise<string[]> {
    const wanted = [...new Set(ids)];
    const added = wanted.filter((id) => !attached.includes(id));
    const visible = new Set(
      (await this.skills.findMany(principal.tid, added))
        .filter((skill) => canSee(principal, skill))
        .map((skill) => skill.id),
    );
    const unknown = added.filter((id) => !visible.has(id));
    if (unknown.length > 0) throw new RuntimeError('skill_unknown', unknown.join(', '));
    return wanted;
  }
}

function contentOf(fields: Partial<SkillFieldsBody>): Partial<SkillContent> {
  return {
    ...(fields.name === undefined ? {} : { name: fields.name }),
    ...(fields.description === undefined ? {} : { description: fields.description }),
    ...(fields.when_to_use === undefined ? {} : { whenToUse: fields.when_to_use }),
    ...(fields.tools === undefined ? {} : { tools: fields.tools }),
    ...(fields.body === undefined ? {} : { body: fields.body }),
  };
}

/**
 * Skills, with the same visibility rules as agents: private to the owner, shared with the tenant, or managed
 * (administrators only). Written as Markdown with front matter or as fields; readable back as either.
 */
export class SkillCatalog {
  constructor(private readonly skills: SkillRepository) {}

  async list(principal: Principal): Promise<{ data: SkillView[] }> {
    return { data: (await this.skills.listVisible(principal.tid, principal.uid)).map(skillView) };
  }

  async get(principal: Principal, id: string): Promise<SkillView> {
    return skillView(await this.visible(principal, id));
  }

  /** The skill as JSON, or as the Markdown it can be written as. */
  async render(principal: Principal, id: string, format: SkillQuery['format']): Promise<RenderedSkill> {
    const skill = await this.visible(principal, id);
    return format === 'markdown'
      ? { contentType: 'text/markdown; charset=utf-8', body: serializeSkillMarkdown(skill) }
      : { contentType: 'application/json; charset=utf-8', body: skillView(skill) };
  }

  async create(principal: Principal, body: CreateSkillBody): Promise<SkillView> {
    assertMayPublish(principal, body.visibility, 'a skill');
    const content: SkillContent =
      'markdown' in body
        ? parseSkillMarkdown(body.markdown)
        : {
            name: body.fields.name,
            description: body.fields.description,
            whenToUse: body.fields.when_to_use,
            tools: body.fields.tools,
            body: body.fields.body,
          };
    const skill = await this.skills.insert(principal.tid, {
      id: newTurnId(),
      ownerId: principal.uid,
      ...content,
      visibility: body.visibility,
    });
    return skillView(skill);
  }

  async update(principal: Principal, id: string, body: PatchSkillBody): Promise<SkillView> {
    const current = await this.changeable(principal, id);
    if (body.visibility !== current.visibility) assertMayPublish(principal, body.visibility, 'a skill');
    const changes: SkillChanges = {
      ...('markdown' in body ? parseSkillMarkdown(body.markdown) : contentOf(body.fields)),
      ...(body.visibility === undefined ? {} : { visibility: body.visibility }),
    };
    const updated = await this.skills.update(principal.tid, id, changes);
    if (updated === undefined) throw new RuntimeError('skill_unknown');
    return skillView(updated);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.changeable(principal, id);
    if (!(await this.skills.delete(principal.tid, id))) throw new RuntimeError('skill_unknown');
  }

  private async visible(principal: Principal, id: string): Promise<Skill> {
    const skill = await this.skills.find(principal.tid, id);
    if (skill === undefined || !canSee(principal, skill)) throw new RuntimeError('skill_unknown');
    return skill;
  }

  private async changeable(principal: Principal, id: string): Promise<Skill> {
    const skill = await this.visible(principal, id);
    if (!canChange(principal, skill)) {
      throw forbidden('only its owner or an administrator may change a shared skill');
    }
    return skill;
  }
}
