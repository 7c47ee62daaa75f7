import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { HEADER } from '@aibox/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { devLogins, signInWithCode } from '../../services/identity/test/support/identity-harness.js';
import { startUpstream } from '../../services/inference-router/test/support/openai-upstream.js';
import { runCli } from '../src/cli/run-cli.js';
import type { Mesh } from '../src/dev/index.js';
import { MESH_PORTS_WAIT_MS, startIsolatedMesh, type IsolatedMesh } from './isolated-mesh.js';

/**
 * The mesh as `make dev` runs it — the built services as processes on their ARCHITECTURE §1 ports, with
 * generated development keys and embedded stores in a temporary data dir — driven the way the SPA will:
 * sign in at the identity service with the seeded user (authorization code + PKCE), then call the gateway.
 * Needs `make build` first (make test builds before it tests) and ports 8011, 8008/9008, 8006, 8004, 8001 and 8080
 * free. Other test files start the mesh on the same ports: each holds the lock `aibox-mesh-ports` while its mesh
 * runs, so vitest's parallel files take turns.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ISSUER = 'http://127.0.0.1:8011';
const GATEWAY = 'http://127.0.0.1:8080';
let isolated: IsolatedMesh | undefined;
let mesh: Mesh | undefined;
let dataDir: string;
const lines: string[] = [];

beforeAll(async () => {
  isolated = await startIsolatedMesh({ rootDir: ROOT, label: 'e2e', write: (line) => lines.push(line) });
  ({ mesh, dataDir } = isolated);
}, MESH_PORTS_WAIT_MS + 120_000);

afterAll(async () => {
  await isolated?.stop();
});

/** The started mesh (beforeAll failing fails every test before this is reached). */
function running(): Mesh {
  if (mesh === undefined) throw new Error('the mesh did not start');
  return mesh;
}

describe('make dev mesh', () => {
  it('starts identity before the gateway and prints the seeded logins', () => {
    const names = running().services.map((service) => service.name);
    expect(names.indexOf('identity')).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('identity')).toBeLessThan(names.indexOf('gateway'));
    expect(lines.some((line) => /login: user@aibox\.local \/ \S+ \(user\)/.test(line))).toBe(true);
  });

  it('signs the seeded user in with code + PKCE and answers /v1/me with the principal it stamped', async () => {
    const user = (await devLogins(dataDir)).find((login) => login.role === 'user');
    expect(user).toBeDefined();
    const tokens = await signInWithCode(ISSUER, user?.email ?? '', user?.password ?? '');

    const response = await fetch(`${GATEWAY}/v1/me`, {
      headers: {
        authorization: `Bearer ${tokens.access_token}`,
        // A client cannot make itself someone else.
        'x-user-id': 'someone-else',
        'x-user-roles': 'admin',
      },
    });
    expect(response.status).toBe(200);
    const turnId = response.headers.get(HEADER.turnId);
    expect(turnId).toMatch(/^[0-9a-f-]{36}$/);
    const me = (await response.json()) as Record<string, unknown>;
    expect(me).toMatchObject({ email: 'user@aibox.local', roles: ['user'], tid: 'default', iss: ISSUER });
    expect(me['uid']).not.toBe('someone-else');

    // The admin routes stay closed to a plain user.
    const admin = await fetch(`${GATEWAY}/v1/admin/audit/anything`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(admin.status).toBe(403);
  });

  it('seals the turn of a request into a receipt the user can fetch and verify offline with aibox verify', async () => {
    const user = (await devLogins(dataDir)).find((login) => login.role === 'user');
    const tokens = await signInWithCode(ISSUER, user?.email ?? '', user?.password ?? '');
    const headers = { authorization: `Bearer ${tokens.access_token}` };
    const me = await fetch(`${GATEWAY}/v1/me`, { headers });
    await me.arrayBuffer();
    const turnId = me.headers.get(HEADER.turnId) ?? '';

    // The gateway published turn_started and turn_sealed; audit seals the turn within a checkpoint interval.
    let receipt: Response | undefined;
    for (let attempt = 0; attempt < 100 && receipt?.status !== 200; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      receipt = await fetch(`${GATEWAY}/v1/receipts/${turnId}`, { headers });
    }
    expect(receipt?.status).toBe(200);
    const body = (await receipt?.json()) as { envelope: { turn_id: string; event_count: number } };
    expect(body.envelope).toMatchObject({ turn_id: turnId, event_count: 2 });

    const proof = await (await fetch(`${GATEWAY}/v1/receipts/${turnId}/proof`, { headers })).text();
    const keys = await (await fetch(`${GATEWAY}/v1/audit/keys`, { headers })).text();
    await writeFile(join(dataDir, 'proof.json'), proof);
    await writeFile(join(dataDir, 'keys.json'), keys);
    const out: string[] = [];
    const status = await runCli(
      ['verify', join(dataDir, 'proof.json'), '--keys', join(dataDir, 'keys.json')],
      {
        env: {},
        out: (line) => out.push(line),
        err: (line) => out.push(line),
      },
    );
    expect(out.at(-1)).toBe('verified');
    expect(status).toBe(0);

    // Another user's turn is not theirs to see.
    const admin = (await devLogins(dataDir)).find((login) => login.role === 'admin');
    const adminTokens = await signInWithCode(ISSUER, admin?.email ?? '', admin?.password ?? '');
    const adminMe = await fetch(`${GATEWAY}/v1/me`, {
      headers: { authorization: `Bearer ${adminTokens.access_token}` },
    });
    await adminMe.arrayBuffer();
    const foreign = await fetch(
      `${GATEWAY}/v1/audit/turns/${adminMe.headers.get(HEADER.turnId) ?? ''}/replay`,
      { headers },
    );
    expect(foreign.status).toBe(404);
  });

  it('lets an admin register a model provider through the gateway, and users then see its roles', async () => {
    const upstream = await startUpstream({ models: ['mesh-model'] });
    try {
      const [admin, user] = await Promise.all(
        (['admin', 'user'] as const).map(async (role) => {
          const login = (await devLogins(dataDir)).find((entry) => entry.role === role);
          const tokens = await signInWithCode(ISSUER, login?.email ?? '', login?.password ?? '');
          return { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' };
        }),
      );
      const provider = { name: 'mesh', kind: 'chat_completions', base_url: upstream.url };
      const refused = await fetch(`${GATEWAY}/v1/admin/inference/providers`, {
        method: 'POST',
        headers: user,
        body: JSON.stringify(provider),
      });
      expect(refused.status).toBe(403);
      const created = await fetch(`${GATEWAY}/v1/admin/inference/providers`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify(provider),
      });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ name: 'mesh', models: ['mesh-model'] });
      const role = await fetch(`${GATEWAY}/v1/admin/inference/roles/default`, {
        method: 'PUT',
        headers: admin,
        body: JSON.stringify({ models: ['mesh/mesh-model'] }),
      });
      expect(role.status).toBe(200);

      const models = await fetch(`${GATEWAY}/v1/models`, { headers: user });
      expect(models.status).toBe(200);
      const listed = (await models.json()) as { data: { id: string }[] };
      expect(listed.data.map((model) => model.id)).toEqual(['default', 'mesh/mesh-model']);
      const routes = await fetch(`${GATEWAY}/v1/routes`, { headers: user });
      expect(await routes.json()).toMatchObject({
        providers: [{ name: 'mesh', health: { state: 'closed' } }],
      });

      // The user chats through agent-runtime, which reaches the model by its role.
      const chat = await fetch(`${GATEWAY}/v1/chat`, {
        method: 'POST',
        headers: user,
        body: JSON.stringify({ message: 'hello mesh' }),
      });
      expect(chat.status).toBe(200);
      const answer = (await chat.json()) as { conversation_id: string; message: { content: string } };
      expect(answer.message.content).not.toBe('');
      expect(upstream.calls.some((call) => call.path.endsWith('/chat/completions'))).toBe(true);
    } finally {
      await upstream.close();
    }
  });

  it('tells the SPA, without a token, to sign in at the identity service as aibox-spa', async () => {
    const response = await fetch(`${GATEWAY}/v1/auth/config`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.json()).toEqual({
      mode: 'oidc',
      issuer: ISSUER,
      client_id: 'aibox-spa',
      scope: 'openid profile email',
    });
  });

  it('serves the built web app at /, allowed to fetch from the identity service, or says it is not built', async () => {
    if (!existsSync(join(ROOT, 'frontend', 'dist', 'index.html'))) {
      expect(lines).toContainEqual(expect.stringMatching(/the web app is not built/));
      return;
    }
    const page = await fetch(`${GATEWAY}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root">/);
    expect(page.headers.get('content-security-policy')).toContain(`connect-src 'self' ${ISSUER};`);
    // A client-side route loads the same app.
    const route = await fetch(`${GATEWAY}/admin/audit`, { headers: { accept: 'text/html' } });
    expect(route.status).toBe(200);
    expect(await route.text()).toMatch(/<div id="root">/);
  });

  it('refuses a request without a token and never forwards it', async () => {
    const response = await fetch(`${GATEWAY}/v1/me`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: expect.any(String) as unknown });
  });
});
