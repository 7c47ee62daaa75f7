import { describe, expect, it } from 'vitest';

import type { Role } from '../dtos/provider.dto.js';
import { InferenceError, type InferenceErrorCode } from '../errors/inference.error.js';
import { ModelResolver, isRole, type Resolution } from './model-resolver.js';
import type { RoutingSnapshot, SnapshotProvider } from './routing-snapshot.js';

function provider(
  name: string,
  options: { enabled?: boolean; keyUnreadable?: boolean; apiKey?: string } = {},
): SnapshotProvider {
  const keyUnreadable = options.keyUnreadable ?? false;
  return {
    name,
    kind: 'chat_completions',
    baseUrl: `https://${name}.example/v1`,
    enabled: options.enabled ?? true,
    keyUnreadable,
    ...(keyUnreadable ? {} : { apiKey: options.apiKey ?? `sk-${name}` }),
  };
}

function snapshot(
  providers: readonly SnapshotProvider[],
  roles: Partial<Record<Role, readonly string[]>>,
): RoutingSnapshot {
  return {
    builtAt: new Date('2025-06-01T00:00:00Z'),
    providers: new Map(providers.map((entry) => [entry.name, entry])),
    roles: new Map(Object.entries(roles) as [Role, readonly string[]][]),
    prices: new Map(),
    budgets: new Map(),
    spendSeq: 0,
  };
}

/** The candidates' `<provider>/<model>` ids, in order. */
function ids(resolution: Resolution): string[] {
  return resolution.candidates.map((candidate) => candidate.id);
}

/** The code of the InferenceError `run` throws. */
function codeOf(run: () => unknown): InferenceErrorCode {
  try {
    run();
  } catch (error: unknown) {
    expect(error).toBeInstanceOf(InferenceError);
    return (error as InferenceError).code;
  }
  throw new Error('expected an InferenceError, nothing was thrown');
}

describe('isRole', () => {
  it('knows the roles and nothing else', () => {
    expect(isRole('default')).toBe(true);
    expect(isRole('embedding')).toBe(true);
    expect(isRole('Default')).toBe(false);
    expect(isRole('openai/gpt-4o')).toBe(false);
  });
});

describe('ModelResolver.resolve', () => {
  const openai = provider('openai');
  const azure = provider('azure');
  const ollama = provider('ollama');

  it('expands a role into its candidates in role order', () => {
    const snap = snapshot([openai, azure, ollama], {
      default: ['openai/gpt-4o', 'ollama/llama3', 'azure/gpt-4o-mini'],
    });
    const resolution = new ModelResolver().resolve(snap, 'default');
    expect(resolution.role).toBe('default');
    expect(resolution.candidates).toEqual([
      { provider: openai, model: 'gpt-4o', id: 'openai/gpt-4o' },
      { provider: ollama, model: 'llama3', id: 'ollama/llama3' },
      { provider: azure, model: 'gpt-4o-mini', id: 'azure/gpt-4o-mini' },
    ]);
    expect(resolution.candidates[0]?.provider).toBe(openai);
  });

  it('refuses an unset role with role_not_configured', () => {
    const snap = snapshot([openai], { default: ['openai/gpt-4o'], vision: [] });
    expect(codeOf(() => new ModelResolver().resolve(snap, 'title'))).toBe('role_not_configured');
    expect(codeOf(() => new ModelResolver().resolve(snap, 'vision'))).toBe('role_not_configured');
    expect(() => new ModelResolver().resolve(snap, 'title')).toThrow(
      /PUT \/v1\/admin\/inference\/roles\/title/,
    );
  });

  it('resolves a concrete model a role offers to that one candidate', () => {
    const snap = snapshot([openai, azure], {
      default: ['openai/gpt-4o', 'azure/gpt-4o'],
      title: ['azure/gpt-4o-mini'],
    });
    const resolution = new ModelResolver().resolve(snap, 'azure/gpt-4o-mini');
    expect(resolution.role).toBeUndefined();
    expect(resolution.candidates).toEqual([
      { provider: azure, model: 'gpt-4o-mini', id: 'azure/gpt-4o-mini' },
    ]);
    // A concrete model is not load-balanced onto the other provider serving the same model.
    const resolver = new ModelResolver();
    expect(ids(resolver.resolve(snap, 'openai/gpt-4o'))).toEqual(['openai/gpt-4o']);
    expect(ids(resolver.resolve(snap, 'openai/gpt-4o'))).toEqual(['openai/gpt-4o']);
  });

  it.each([
    ['a model of a known provider no role offers', 'openai/gpt-3.5-turbo'],
    ['an unknown provider', 'nobody/gpt-4o'],
    ['a string without a slash', 'gpt-4o'],
    ['an empty string', ''],
    ['a role name in the wrong case', 'DEFAULT'],
  ])('refuses %s with model_unknown', (_case, requested) => {
    const snap = snapshot([openai], { default: ['openai/gpt-4o'] });
    expect(codeOf(() => new ModelResolver().resolve(snap, requested))).toBe('model_unknown');
  });

  it('refuses a model a role offers on a provider the snapshot does not have', () => {
    const snap = snapshot([openai], { default: ['openai/gpt-4o', 'deleted/gpt-4o'] });
    expect(codeOf(() => new ModelResolver().resolve(snap, 'deleted/gpt-4o'))).toBe('model_unknown');
    // The role itself skips the missing provider.
    expect(ids(new ModelResolver().resolve(snap, 'default'))).toEqual(['openai/gpt-4o']);
  });

  it('skips disabled providers', () => {
    const off = provider('off', { enabled: false });
    const snap = snapshot([off, ollama], { default: ['off/gpt-4o', 'ollama/llama3'] });
    expect(ids(new ModelResolver().resolve(snap, 'default'))).toEqual(['ollama/llama3']);
  });

  it('refuses with role_no_backend when every provider is disabled', () => {
    const off = provider('off', { enabled: false });
    const down = provider('down', { enabled: false, keyUnreadable: true });
    const snap = snapshot([off, down], { default: ['off/gpt-4o', 'down/llama3'] });
    expect(codeOf(() => new ModelResolver().resolve(snap, 'default'))).toBe('role_no_backend');
    expect(codeOf(() => new ModelResolver().resolve(snap, 'off/gpt-4o'))).toBe('role_no_backend');
  });

  it('skips providers whose key does not decrypt', () => {
    const broken = provider('broken', { keyUnreadable: true });
    const snap = snapshot([broken, ollama], { default: ['broken/gpt-4o', 'ollama/llama3'] });
    expect(ids(new ModelResolver().resolve(snap, 'default'))).toEqual(['ollama/llama3']);
  });

  it('refuses with provider_key_missing when no usable provider is left and a key is unreadable', () => {
    const broken = provider('broken', { keyUnreadable: true });
    const off = provider('off', { enabled: false });
    const snap = snapshot([broken, off], { default: ['broken/gpt-4o', 'off/gpt-4o'] });
    expect(codeOf(() => new ModelResolver().resolve(snap, 'default'))).toBe('provider_key_missing');
    expect(codeOf(() => new ModelResolver().resolve(snap, 'broken/gpt-4o'))).toBe('provider_key_missing');
  });

  it('serves a keyless provider (no key stored is not an unreadable key)', () => {
    const local: SnapshotProvider = {
      name: 'local',
      kind: 'responses',
      baseUrl: 'http://127.0.0.1:8000/v1',
      enabled: true,
      keyUnreadable: false,
    };
    const snap = snapshot([local], { embedding: ['local/bge-m3'] });
    expect(new ModelResolver().resolve(snap, 'embedding').candidates).toEqual([
      { provider: local, model: 'bge-m3', id: 'local/bge-m3' },
    ]);
  });

  it('rotates a model served by two providers across calls, keeping the other as fallback', () => {
    const snap = snapshot([openai, azure], { default: ['openai/gpt-4o', 'azure/gpt-4o'] });
    const resolver = new ModelResolver();
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['openai/gpt-4o', 'azure/gpt-4o']);
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['azure/gpt-4o', 'openai/gpt-4o']);
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['openai/gpt-4o', 'azure/gpt-4o']);
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['azure/gpt-4o', 'openai/gpt-4o']);
  });

  it('rotates through three providers', () => {
    const snap = snapshot([openai, azure, ollama], {
      default: ['openai/m', 'azure/m', 'ollama/m'],
    });
    const resolver = new ModelResolver();
    const orders = Array.from({ length: 4 }, () => ids(resolver.resolve(snap, 'default')));
    expect(orders).toEqual([
      ['openai/m', 'azure/m', 'ollama/m'],
      ['azure/m', 'ollama/m', 'openai/m'],
      ['ollama/m', 'openai/m', 'azure/m'],
      ['openai/m', 'azure/m', 'ollama/m'],
    ]);
  });

  it('keeps a different model after the balanced group, wherever the role lists it', () => {
    const resolver = new ModelResolver();
    const after = snapshot([openai, azure, ollama], {
      default: ['openai/gpt-4o', 'azure/gpt-4o', 'ollama/llama3'],
    });
    expect(ids(resolver.resolve(after, 'default'))).toEqual([
      'openai/gpt-4o',
      'azure/gpt-4o',
      'ollama/llama3',
    ]);
    expect(ids(resolver.resolve(after, 'default'))).toEqual([
      'azure/gpt-4o',
      'openai/gpt-4o',
      'ollama/llama3',
    ]);

    const between = snapshot([openai, azure, ollama], {
      title: ['openai/gpt-4o', 'ollama/llama3', 'azure/gpt-4o'],
    });
    const fresh = new ModelResolver();
    expect(ids(fresh.resolve(between, 'title'))).toEqual(['openai/gpt-4o', 'azure/gpt-4o', 'ollama/llama3']);
    expect(ids(fresh.resolve(between, 'title'))).toEqual(['azure/gpt-4o', 'openai/gpt-4o', 'ollama/llama3']);

    const before = snapshot([openai, azure, ollama], {
      memory: ['ollama/llama3', 'openai/gpt-4o', 'azure/gpt-4o'],
    });
    const third = new ModelResolver();
    expect(ids(third.resolve(before, 'memory'))).toEqual(['ollama/llama3', 'openai/gpt-4o', 'azure/gpt-4o']);
    expect(ids(third.resolve(before, 'memory'))).toEqual(['ollama/llama3', 'azure/gpt-4o', 'openai/gpt-4o']);
  });

  it('does not balance onto a disabled provider', () => {
    const off = provider('off', { enabled: false });
    const snap = snapshot([openai, off], { default: ['openai/gpt-4o', 'off/gpt-4o'] });
    const resolver = new ModelResolver();
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['openai/gpt-4o']);
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['openai/gpt-4o']);
  });

  it('splits a model id at its first slash only', () => {
    const p = provider('p');
    const q = provider('q');
    const snap = snapshot([p, q], { default: ['p/meta/llama-3', 'q/meta/llama-3'] });
    const resolver = new ModelResolver();
    expect(resolver.resolve(snap, 'default').candidates).toEqual([
      { provider: p, model: 'meta/llama-3', id: 'p/meta/llama-3' },
      { provider: q, model: 'meta/llama-3', id: 'q/meta/llama-3' },
    ]);
    expect(ids(resolver.resolve(snap, 'default'))).toEqual(['q/meta/llama-3', 'p/meta/llama-3']);
    expect(new ModelResolver().resolve(snap, 'q/meta/llama-3').candidates).toEqual([
      { provider: q, model: 'meta/llama-3', id: 'q/meta/llama-3' },
    ]);
    expect(codeOf(() => new ModelResolver().resolve(snap, 'meta/llama-3'))).toBe('model_unknown');
  });
});
