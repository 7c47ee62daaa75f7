import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { freePort } from '@aibox/testing';

import { startUpstream, type Upstream } from './support/openai-upstream.js';
import { startRouter, type TestRouter } from './support/router.js';

const OPENAI_KEY = 'sk-env-openai-0123456789abcdef';

async function roles(router: TestRouter): Promise<Record<string, string[]>> {
  const answer = await router.call('GET', '/v1/internal/roles');
  const list = answer.json['roles'] as { role: string; models: string[] }[];
  return Object.fromEntries(list.map((entry) => [entry.role, entry.models]));
}

async function providers(
  router: TestRouter,
): Promise<{ name: string; base_url: string; key_hint: string | null }[]> {
  return (await router.call('GET', '/v1/internal/providers')).json['providers'] as {
    name: string;
    base_url: string;
    key_hint: string | null;
  }[];
}

/** The first-start bootstrap (ARCHITECTURE §7): a reachable local server, else OPENAI_API_KEY, else nothing. */
describe('inference-router bootstrap', () => {
  let local: Upstream;
  let openai: Upstream;
  let closedUrl: string;
  const dirs: string[] = [];

  async function state(): Promise<{ dataDir: string; credentialsKey: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), 'aibox-router-boot-'));
    dirs.push(dataDir);
    return { dataDir, credentialsKey: randomBytes(32).toString('base64') };
  }

  beforeAll(async () => {
    local = await startUpstream({ models: ['llama3.2', 'nomic-embed-text', 'llava'] });
    openai = await startUpstream({
      key: OPENAI_KEY,
      models: ['dall-e-3', 'gpt-4o-mini', 'gpt-4.1-nano', 'text-embedding-3-small'],
    });
    closedUrl = `http://127.0.0.1:${await freePort()}/v1`;
  });
  afterAll(async () => {
    await local.close();
    await openai.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('seeds every role from the first reachable local server, once', async () => {
    const kept = await state();
    const env = {
      INFERENCE_BOOTSTRAP: 'true',
      INFERENCE_BOOTSTRAP_LOCAL_URLS: `${closedUrl},${local.url}`,
      OPENAI_API_KEY: OPENAI_KEY,
      OPENAI_BASE_URL: openai.url,
    };
    const first = await startRouter({ state: kept, env });
    try {
      expect(await providers(first)).toMatchObject([
        { name: 'local-2', base_url: local.url, key_hint: null },
      ]);
      expect(await roles(first)).toMatchObject({
        default: ['local-2/llama3.2'],
        title: ['local-2/llama3.2'],
        embedding: ['local-2/nomic-embed-text'],
        vision: ['local-2/llava'],
      });
      // Served at once: the snapshot is built after the bootstrap.
      const answer = await first
        .sdk()
        .chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'hi' }] });
      expect(answer.choices[0]?.message.content).toBe('echo: hi');
      await first.call('PUT', '/v1/internal/roles/title', { models: ['local-2/nomic-embed-text'] });
    } finally {
      await first.close();
    }
    const again = await startRouter({ state: kept, env });
    try {
      expect((await providers(again)).map((provider) => provider.name)).toEqual(['local-2']);
      expect((await roles(again))['title']).toEqual(['local-2/nomic-embed-text']);
    } finally {
      await again.close();
    }
  });

  it('falls back to the OpenAI account whose key is in the environment, choosing models per role', async () => {
    const router = await startRouter({
      state: await state(),
      env: {
        INFERENCE_BOOTSTRAP: 'true',
        INFERENCE_BOOTSTRAP_LOCAL_URLS: closedUrl,
        OPENAI_API_KEY: OPENAI_KEY,
        OPENAI_BASE_URL: openai.url,
      },
    });
    try {
      expect(await providers(router)).toMatchObject([{ name: 'openai', key_hint: 'sk-…cdef' }]);
      expect(await roles(router)).toMatchObject({
        default: ['openai/gpt-4o-mini'],
        title: ['openai/gpt-4.1-nano'],
        memory: ['openai/gpt-4o-mini'],
        embedding: ['openai/text-embedding-3-small'],
      });
      expect(openai.calls.at(-1)?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    } finally {
      await router.close();
    }
  });

  it('leaves everything to the admin when nothing answers, and tries again at the next start', async () => {
    const kept = await state();
    const nothing = await startRouter({
      state: kept,
      env: { INFERENCE_BOOTSTRAP: 'true', INFERENCE_BOOTSTRAP_LOCAL_URLS: closedUrl },
    });
    try {
      expect(await providers(nothing)).toEqual([]);
      expect(Object.values(await roles(nothing)).every((models) => models.length === 0)).toBe(true);
      expect(nothing.logs.join('')).toContain('no model provider found');
    } finally {
      await nothing.close();
    }
    const later = await startRouter({
      state: kept,
      env: { INFERENCE_BOOTSTRAP: 'true', INFERENCE_BOOTSTRAP_LOCAL_URLS: local.url },
    });
    try {
      expect((await providers(later)).map((provider) => provider.name)).toEqual(['local-1']);
    } finally {
      await later.close();
    }
  });
});
