import { describe, expect, it } from 'vitest';

import type { Skill } from './agent.js';
import { selectSkills, skillPrompt, stem, terms } from './skill-selector.js';

let next = 0;
function skill(name: string, description: string, whenToUse = ''): Skill {
  next += 1;
  return {
    id: `skill-${String(next).padStart(3, '0')}`,
    ownerId: 'alice',
    name,
    description,
    whenToUse,
    tools: [],
    body: `Instructions of ${name}.`,
    visibility: 'tenant',
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };
}

const REPORTS = skill(
  'sales-report',
  'Writes quarterly sales reports from CRM figures',
  'Revenue and pipeline questions',
);
const INVOICES = skill(
  'invoicing',
  'Creates and checks invoices for customers',
  'Billing, payment reminders',
);
const HAIKU = skill('haiku', 'Writes haiku poems', 'When a poem is requested');
const TRAVEL = skill('travel-planner', 'Plans trips: flights, hotels and itineraries');
const ALL = [REPORTS, INVOICES, HAIKU, TRAVEL];

describe('stem and terms', () => {
  it('meets inflections of a word at one stem', () => {
    expect(new Set(['reports', 'reporting', 'reported', 'report'].map(stem))).toEqual(new Set(['report']));
    expect(new Set(['invoice', 'invoices', 'invoicing', 'invoiced'].map(stem))).toEqual(new Set(['invoic']));
    expect(stem('running')).toBe('run');
    expect(stem('processes')).toBe('process');
    expect(stem('string')).toBe('string');
    expect(stem('strings')).toBe('string');
    expect(stem('queries')).toBe('query');
    expect([stem('status'), stem('analysis'), stem('bus')]).toEqual(['status', 'analysis', 'bus']);
  });

  it('drops stop words, single letters and punctuation', () => {
    expect(terms('What is the status of my Invoices? (a)')).toEqual(new Set(['status', 'invoic']));
  });
});

describe('selectSkills', () => {
  it('picks the relevant skill and leaves the irrelevant ones out', () => {
    expect(selectSkills('Please create an invoice for ACME and send a payment reminder', ALL)).toEqual([
      INVOICES,
    ]);
    expect(selectSkills('How did the pipeline revenue look last quarter?', ALL)).toEqual([REPORTS]);
  });

  it('selects nothing for a message that shares no terms', () => {
    expect(selectSkills('What is the capital of Mongolia?', ALL)).toEqual([]);
    expect(selectSkills('', ALL)).toEqual([]);
    expect(selectSkills('invoices', [])).toEqual([]);
  });

  it('ranks a skill named verbatim above skills that only share words', () => {
    const message = 'Use travel planner to write quarterly sales reports about CRM figures';
    const [first, second] = selectSkills(message, ALL);
    expect(first).toBe(TRAVEL);
    expect(second).toBe(REPORTS);
  });

  it('needs more than one word every candidate shares, unless minScore is lowered', () => {
    const a = skill('alpha', 'Writes emails');
    const b = skill('beta', 'Writes letters');
    expect(selectSkills('writes', [a, b])).toEqual([]);
    expect(selectSkills('writes', [a, b], { minScore: 0 })).toEqual([a, b]);
    expect(selectSkills('writes letters', [a, b])).toEqual([b]);
  });

  it('returns at most max skills, best first', () => {
    const message = 'sales report, invoice, haiku poem and a trip with flights';
    expect(selectSkills(message, ALL)).toHaveLength(3);
    expect(selectSkills(message, ALL, { max: 2 })).toHaveLength(2);
    expect(selectSkills(message, ALL, { max: 0 })).toEqual([]);
  });

  it('orders equal scores by name then id, whatever the input order', () => {
    const first = skill('same', 'Translates documents');
    const second = skill('same', 'Translates documents');
    const other = skill('another', 'Translates documents');
    const message = 'translate these documents';
    const expected = [other, first, second];
    expect(selectSkills(message, [second, other, first])).toEqual(expected);
    expect(selectSkills(message, [first, second, other])).toEqual(expected);
  });
});

describe('skillPrompt', () => {
  it('gives each skill a heading and its body', () => {
    expect(skillPrompt([HAIKU, TRAVEL])).toBe(
      '## Skill: haiku\nInstructions of haiku.\n\n## Skill: travel-planner\nInstructions of travel-planner.',
    );
    expect(skillPrompt([])).toBe('');
  });
});
