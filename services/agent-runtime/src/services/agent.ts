import type { Visibility } from '../repositories/runtime-schema.js';
import type { McpServerConfig } from '../tools/tool.js';

/** An agent as the runtime uses it: who it is, what model role it asks for, what it may do. */
export interface Agent {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly description: string;
  readonly systemPrompt: string;
  /** A router role alias (`default`, …), never a concrete model. */
  readonly modelRole: string;
  readonly tools: readonly string[];
  readonly skills: readonly string[];
  readonly mcpServers: readonly McpServerConfig[];
  readonly approval: { readonly tools: readonly string[]; readonly all: boolean };
  readonly visibility: Visibility;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The id of the agent every tenant has without creating it. */
export const DEFAULT_AGENT_ID = 'default';

/** A named instruction bundle, loaded into an agent's prompt when a message makes it relevant. */
export interface Skill {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly description: string;
  readonly whenToUse: string;
  readonly tools: readonly string[];
  readonly body: string;
  readonly visibility: Visibility;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}
