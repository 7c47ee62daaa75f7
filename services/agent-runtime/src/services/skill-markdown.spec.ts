import { describe, expect, it } from 'vitest';

import { RuntimeError } from '../errors/runtime.error.js';
import { parseSkillMarkdown, serializeSkillMarkdown, type SkillContent } from './skill-markdown.js';

const REPORT = `---
name: quarterly-report
description: Writes the quarterly sales report
when_to_use: When someone asks for sales figures of a quarter
tools: [current_time, "mcp:crm/*"]
---

# Steps

1. Ask which quarter.
2. Summarize the figures.
`;

function skillInvalid(markdown: string): string {
  try {
    parseSkillMarkdown(markdown);
  } catch (error: unknown) {
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe('skill_invalid');
    return (error as RuntimeError).message;
  }
  throw new Error('the Markdown was accepted');
}

describe('parseSkillMarkdown', () => {
  it('reads the front matter fields and the body', () => {
    expect(parseSkillMarkdown(REPORT)).toEqual({
      name: 'quarterly-report',
      description: 'Writes the quarterly sales report',
      whenToUse: 'When someone asks for sales figures of a quarter',
      tools: ['current_time', 'mcp:crm/*'],
      body: '# Steps\n\n1. Ask which quarter.\n2. Summarize the figures.',
    });
  });

  it('leaves when_to_use and tools empty when the front matter omits them, and takes CRLF and a BOM', () => {
    const parsed = parseSkillMarkdown(
      '\uFEFF---\r\nname: Haiku\r\ndescription: Writes haiku\r\n---\r\nFive, seven, five.\r\n',
    );
    expect(parsed).toEqual({
      name: 'Haiku',
      description: 'Writes haiku',
      whenToUse: '',
      tools: [],
      body: 'Five, seven, five.',
    });
  });

  it('keeps a "---" line inside the body', () => {
    const parsed = parseSkillMarkdown('---\nname: a\ndescription: b\n---\nabove\n---\nbelow\n');
    expect(parsed.body).toBe('above\n---\nbelow');
  });

  it('names what is wrong', () => {
    expect(skillInvalid('# no front matter\n')).toMatch(/must start with a front matter block/);
    expect(skillInvalid('---\nname: a\ndescription: b\n')).toMatch(/not closed by a "---" line/);
    expect(skillInvalid('---\nname: a\ndescription: [unclosed\n---\nbody\n')).toMatch(
      /front matter is not valid YAML \(line 3\)/,
    );
    expect(skillInvalid('---\nname: a\nname: b\ndescription: c\n---\nbody\n')).toMatch(/not valid YAML/);
    expect(skillInvalid('---\n- name\n- description\n---\nbody\n')).toMatch(
      /front matter must be YAML fields/,
    );
    expect(skillInvalid('---\ndescription: b\n---\nbody\n')).toMatch(
      /front matter field "name": is required/,
    );
    expect(skillInvalid('---\nname: a\n---\nbody\n')).toMatch(
      /front matter field "description": is required/,
    );
    expect(skillInvalid('---\nname: 12\ndescription: b\n---\nbody\n')).toMatch(/"name": must be a string/);
    expect(skillInvalid('---\nname: a\ndescription: b\ntools: current_time\n---\nbody\n')).toMatch(
      /"tools": must be a list of tool names/,
    );
    expect(skillInvalid('---\nname: a\ndescription: b\nlicense: MIT\n---\nbody\n')).toMatch(
      /unknown field "license" \(it takes name, description, when_to_use, tools\)/,
    );
    expect(skillInvalid('---\nname: a\ndescription: b\n---\n\n  \n')).toMatch(
      /the body after the front matter: must not be empty/,
    );
  });
});

describe('serializeSkillMarkdown', () => {
  it('writes what parseSkillMarkdown reads back unchanged', () => {
    const skill: SkillContent = {
      name: 'Tricky: "quotes" # and colons',
      description: 'Line one\nline two, with: a colon',
      whenToUse: '- looks like a list',
      tools: ['current_time'],
      body: '## Heading\n\n---\n\ntext',
    };
    const markdown = serializeSkillMarkdown(skill);
    expect(markdown.startsWith('---\nname: ')).toBe(true);
    expect(parseSkillMarkdown(markdown)).toEqual(skill);
  });

  it('leaves out empty optional fields', () => {
    const markdown = serializeSkillMarkdown({
      name: 'a',
      description: 'b',
      whenToUse: '',
      tools: [],
      body: 'c',
    });
    expect(markdown).toBe('---\nname: a\ndescription: b\n---\n\nc\n');
  });

  it('round-trips a parsed document', () => {
    expect(parseSkillMarkdown(serializeSkillMarkdown(parseSkillMarkdown(REPORT)))).toEqual(
      parseSkillMarkdown(REPORT),
    );
  });
});
