import { z } from 'zod';

import type { Visibility } from '../repositories/runtime-schema.js';
import type { Skill } from '../services/agent.js';
import { boundedText, displayName, toolName, visibility } from './agent.dto.js';

export const SKILL_BODY_MAX_BYTES = 32_768;
/** A whole Markdown document: front matter and body. */
export const SKILL_MARKDOWN_MAX_BYTES = 40_960;

/** A skill's fields as the API and the Markdown front matter name them. */
export const skillFields = {
  name: displayName(),
  description: boundedText(2_048).trim().min(1, 'must not be empty'),
  when_to_use: boundedText(2_048).trim(),
  tools: z.array(toolName, { error: 'must be a list of tool names' }).max(64),
  /** The instructions, Markdown. */
  body: boundedText(SKILL_BODY_MAX_BYTES).trim().min(1, 'must not be empty'),
};

/** The YAML front matter of a skill's Markdown. */
export const skillFrontMatter = z.strictObject({
  name: skillFields.name,
  description: skillFields.description,
  when_to_use: skillFields.when_to_use.optional(),
  tools: skillFields.tools.optional(),
});

export interface SkillFieldsBody {
  readonly name: string;
  readonly description: string;
  readonly when_to_use: string;
  readonly tools: readonly string[];
  readonly body: string;
}

/** Either a Markdown document (front matter + body) or the fields themselves. */
export type SkillSource<Fields> = { readonly markdown: string } | { readonly fields: Fields };

const EXPLICIT_FIELDS = ['name', 'description', 'when_to_use', 'tools', 'body'] as const;
const REQUIRED_FIELDS = ['name', 'description', 'body'] as const;

const skillBody = z.strictObject({
  markdown: boundedText(SKILL_MARKDOWN_MAX_BYTES).optional(),
  name: skillFields.name.optional(),
  description: skillFields.description.optional(),
  when_to_use: skillFields.when_to_use.optional(),
  tools: skillFields.tools.optional(),
  body: skillFields.body.optional(),
  visibility: visibility.optional(),
});
type SkillBody = z.output<typeof skillBody>;

function explicitFieldsIn(body: SkillBody): string[] {
  return EXPLICIT_FIELDS.filter((key) => body[key] !== undefined);
}

/** `{markdown, visibility?}` or `{name, description, when_to_use?, tools?, body, visibility?}`. */
export const createSkillBody = skillBody.transform(
  (body, context): SkillSource<SkillFieldsBody> & { readonly visibility: Visibility } => {
    const visibility = body.visibility ?? 'private';
    if (body.markdown !== undefined) {
      for (const key of explicitFieldsIn(body)) {
        context.addIssue({
          code: 'custom',
          path: [key],
          message: 'cannot be sent with markdown (its front matter holds it)',
        });
      }
      return { markdown: body.markdown, visibility };
    }
    const { name, description, body: instructions } = body;
    if (name === undefined || description === undefined || instructions === undefined) {
      for (const key of REQUIRED_FIELDS) {
        if (body[key] === undefined) {
          context.addIssue({ code: 'custom', path: [key], message: 'is required (or send markdown)' });
        }
      }
      return z.NEVER;
    }
    return {
      fields: {
        name,
        description,
        when_to_use: body.when_to_use ?? '',
        tools: body.tools ?? [],
        body: instructions,
      },
      visibility,
    };
  },
);
export type CreateSkillBody = z.output<typeof createSkillBody>;

/**
 * `{markdown, visibility?}` replaces the name, description, when_to_use, tools and body at once (what the front
 * matter leaves out becomes empty); otherwise only the fields sent change.
 */
export const patchSkillBody = skillBody.transform(
  (body, context): SkillSource<Partial<SkillFieldsBody>> & { readonly visibility?: Visibility } => {
    const visibility = body.visibility === undefined ? {} : { visibility: body.visibility };
    const explicit = explicitFieldsIn(body);
    if (body.markdown !== undefined) {
      for (const key of explicit) {
        context.addIssue({
          code: 'custom',
          path: [key],
          message: 'cannot be sent with markdown (its front matter holds it)',
        });
      }
      return { markdown: body.markdown, ...visibility };
    }
    if (explicit.length === 0 && body.visibility === undefined) {
      context.addIssue({ code: 'custom', path: [], message: 'nothing to change' });
      return z.NEVER;
    }
    const { markdown: _markdown, visibility: _visibility, ...fields } = body;
    return { fields, ...visibility };
  },
);
export type PatchSkillBody = z.output<typeof patchSkillBody>;

export const skillParams = z.strictObject({ id: z.string().min(1).max(64) });
export type SkillParams = z.output<typeof skillParams>;

export const skillQuery = z.strictObject({ format: z.enum(['json', 'markdown']).default('json') });
export type SkillQuery = z.output<typeof skillQuery>;

export interface SkillView {
  readonly id: string;
  readonly owner_id: string;
  readonly name: string;
  readonly description: string;
  readonly when_to_use: string;
  readonly tools: readonly string[];
  readonly body: string;
  readonly visibility: Visibility;
  readonly created_at: string;
  readonly updated_at: string;
}

/** A skill in the format a `GET` asked for, with the content type to answer it with. */
export type RenderedSkill =
  | { readonly contentType: 'application/json; charset=utf-8'; readonly body: SkillView }
  | { readonly contentType: 'text/markdown; charset=utf-8'; readonly body: string };

export function skillView(skill: Skill): SkillView {
  return {
    id: skill.id,
    owner_id: skill.ownerId,
    name: skill.name,
    description: skill.description,
    when_to_use: skill.whenToUse,
    tools: skill.tools,
    body: skill.body,
    visibility: skill.visibility,
    created_at: skill.createdAt.toISOString(),
    updated_at: skill.updatedAt.toISOString(),
  };
}
