import type { Skill } from './agent.js';

export interface SelectSkillsOptions {
  /** Most skills returned (default 3). */
  readonly max?: number;
  /** A skill must score more than this (default 1: one term every candidate shares is not enough). */
  readonly minScore?: number;
}

const DEFAULT_MAX = 3;
const DEFAULT_MIN_SCORE = 1;
/** Added when the message names the skill verbatim: that outweighs any number of shared words. */
const NAME_BOOST = 10;

const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between ' +
    'both but by can could did do does doing down during each few for from further had has have having he her ' +
    'here hers herself him himself his how i if in into is it its itself just let me more most my myself no nor ' +
    'not now of off on once only or other our ours ourselves out over own please same she should so some such ' +
    'than that the their theirs them themselves then there these they this those through to too under until up ' +
    'us use used uses using very want was we were what when where which while who whom why will with would you your ' +
    'yours yourself yourselves'
  ).split(' '),
);

const VOWEL = /[aeiouy]/;

/** A light suffix stripper: `reports`, `reporting`, `reported` → `report`; `summarize(d)` → `summariz`. */
export function stem(word: string): string {
  let stemmed = word;
  let verbal = false;
  if (word.length > 4 && word.endsWith('ies')) {
    stemmed = `${word.slice(0, -3)}y`;
  } else if (/(?:ss|x|ch|sh)es$/.test(word)) {
    stemmed = word.slice(0, -2);
  } else if (word.length > 5 && word.endsWith('ing') && VOWEL.test(word.slice(0, -3))) {
    stemmed = word.slice(0, -3);
    verbal = true;
  } else if (
    word.length > 4 &&
    word.endsWith('ed') &&
    !word.endsWith('eed') &&
    VOWEL.test(word.slice(0, -2))
  ) {
    stemmed = word.slice(0, -2);
    verbal = true;
  } else if (word.length > 3 && /[^siu]s$/.test(word)) {
    stemmed = word.slice(0, -1);
  }
  // `running` → `runn` → `run`, `stopped` → `stopp` → `stop` (not `process`, `fill`, `buzz`).
  if (verbal && /([b-df-hj-km-np-rtv-y])\1$/.test(stemmed)) stemmed = stemmed.slice(0, -1);
  // `invoice` / `invoicing`, `create` / `created` meet at `invoic`, `creat`.
  if (stemmed.length > 4 && stemmed.endsWith('e')) stemmed = stemmed.slice(0, -1);
  return stemmed;
}

/** The distinct stemmed terms of a text: lower-case letter/digit runs, stop words and single letters dropped. */
export function terms(text: string): Set<string> {
  const found = new Set<string>();
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (word.length < 2 || STOP_WORDS.has(word)) continue;
    found.add(stem(word));
  }
  return found;
}

/** Lower-case words separated by single spaces, so `PDF-Processing` and `pdf processing` compare equal. */
function phrase(text: string): string {
  return ` ${text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '')
    .join(' ')} `;
}

interface Scored {
  readonly skill: Skill;
  readonly score: number;
}

/**
 * The skills relevant to a user's message, best first, at most `max`: a deterministic lexical score — each
 * distinct term the message shares with the skill's name, description and when_to_use, weighted by how rare
 * the term is among the candidates (smoothed IDF, at least 1) — plus {@link NAME_BOOST} when the message
 * holds the skill's name verbatim (case, punctuation and spacing aside). Ties go by name, then id.
 */
export function selectSkills(
  message: string,
  skills: readonly Skill[],
  options: SelectSkillsOptions = {},
): Skill[] {
  const max = options.max ?? DEFAULT_MAX;
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE;
  if (max <= 0 || skills.length === 0) return [];

  const asked = terms(message);
  const askedPhrase = phrase(message);
  const described = skills.map((skill) => terms(`${skill.name} ${skill.description} ${skill.whenToUse}`));
  const documentFrequency = new Map<string, number>();
  for (const skillTerms of described) {
    for (const term of skillTerms) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
  }
  const idf = (term: string): number =>
    Math.log((1 + skills.length) / (1 + (documentFrequency.get(term) ?? 0))) + 1;

  const scored: Scored[] = skills.map((skill, index) => {
    let score = 0;
    for (const term of described[index] ?? []) {
      if (asked.has(term)) score += idf(term);
    }
    const name = phrase(skill.name);
    if (name.trim() !== '' && askedPhrase.includes(name)) score += NAME_BOOST;
    return { skill, score };
  });
  return scored
    .filter((entry) => entry.score > minScore)
    .sort(
      (a, b) => b.score - a.score || compare(a.skill.name, b.skill.name) || compare(a.skill.id, b.skill.id),
    )
    .slice(0, max)
    .map((entry) => entry.skill);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The system-prompt section that loads skills: one `## Skill: <name>` heading and its body each. */
export function skillPrompt(skills: readonly Skill[]): string {
  return skills.map((skill) => `## Skill: ${skill.name}\n${skill.body}`).join('\n\n');
}
