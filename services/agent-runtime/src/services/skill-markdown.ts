import { parseDocument, stringify } from 'yaml';
import type { z } from 'zod';

import { skillFields, skillFrontMatter } from '../dtos/skill.dto.js';
import { RuntimeError } from '../errors/runtime.error.js';
import type { Skill } from './agent.js';

/** What a skill's Markdown holds: the front matter's fields and the body after it. */
export type SkillContent = Pick<Skill, 'name' | 'description' | 'whenToUse' | 'tools' | 'body'>;

const FRONT_MATTER_FIELDS = Object.keys(skillFrontMatter.shape).join(', ');
const FENCE = /^---[ \t]*$/;

function invalid(detail: string): RuntimeError {
  return new RuntimeError('skill_invalid', detail);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    return `the front matter has unknown ${issue.keys.length === 1 ? 'field' : 'fields'} ${keys} (it takes ${FRONT_MATTER_FIELDS})`;
  }
  const path = issue.path.map(String).join('.');
  return path === ''
    ? `the front matter: ${issue.message}`
    : `front matter field "${path}": ${issue.message}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a skill written as Markdown: YAML front matter between `---` lines (`name` and `description`
 * required, `when_to_use` and `tools` optional, nothing else), then the body. Throws `skill_invalid` naming
 * what is wrong.
 */
export function parseSkillMarkdown(markdown: string): SkillContent {
  const lines = markdown.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (!FENCE.test(lines[0] ?? '')) {
    throw invalid(
      'the Markdown must start with a front matter block: a "---" line, the YAML fields, a "---" line',
    );
  }
  const end = lines.findIndex((line, index) => index > 0 && FENCE.test(line));
  if (end < 0) throw invalid('the front matter is not closed by a "---" line');

  const yaml = lines.slice(1, end).join('\n');
  const document = parseDocument(yaml, { prettyErrors: false, uniqueKeys: true });
  const [error] = document.errors;
  if (error !== undefined) {
    // The line in the whole document, as its author sees it: the YAML starts after the opening fence.
    const line = yaml.slice(0, error.pos[0]).split('\n').length + 1;
    throw invalid(
      `the front matter is not valid YAML (line ${line}): ${error.message.split('\n')[0] ?? error.code}`,
    );
  }
  const value: unknown = document.toJS({ maxAliasCount: 50 });
  if (!isMapping(value)) {
    throw invalid(`the front matter must be YAML fields (${FRONT_MATTER_FIELDS})`);
  }
  const front = skillFrontMatter.safeParse(value);
  if (!front.success) {
    throw invalid(front.error.issues.map(describeIssue)[0] ?? 'the front matter is not valid');
  }
  const body = skillFields.body.safeParse(lines.slice(end + 1).join('\n'));
  if (!body.success) {
    throw invalid(`the body after the front matter: ${body.error.issues[0]?.message ?? 'is not valid'}`);
  }
  return {
    name: front.data.name,
    description: front.data.description,
    whenToUse: front.data.when_to_use ?? '',
    tools: front.data.tools ?? [],
    body: body.data,
  };
}

/** The skill as Markdown that {@link parseSkillMarkdown} reads back to the same fields. */
export function serializeSkillMarkdown(skill: SkillContent): string {
  const front = {
    name: skill.name,
    description: skill.description,
    ...(skill.whenToUse === '' ? {} : { when_to_use: skill.whenToUse }),
    ...(skill.tools.length === 0 ? {} : { tools: [...skill.tools] }),
  };
  return `---\n${stringify(front, { lineWidth: 0 })}---\n\n${skill.body}\n`;
}
