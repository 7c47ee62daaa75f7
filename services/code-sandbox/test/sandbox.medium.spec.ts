import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { needs } from '@aibox/testing';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PROVISIONING_STEPS } from '../src/services/sandbox.service.js';
import {
  containerExists,
  containerRuntimeUsable,
  readSse,
  startSandboxService,
  type SseEvent,
  type TestSandboxService,
  type Who,
} from './support/sandbox.js';

/**
 * The control plane over HTTP with the `process` runtime (bubblewrap): sandboxes accepted at once and
 * provisioned in the background with every step a persisted, ordered event; execs; isolation between users.
 */
const hasBubblewrap = await needs('bubblewrap');

const ADA: Who = { tid: 'default', uid: 'ada' };
const BOB: Who = { tid: 'default', uid: 'bob' };

let sandboxes: TestSandboxService;

beforeAll(async () => {
  sandboxes = await startSandboxService();
});

afterAll(async () => {
  await sandboxes.close();
});

function eventsOf(who: Who, id: string, after?: number): Promise<Response> {
  return fetch(`${sandboxes.url}/sandboxes/${id}/events`, {
    headers: {
      ...sandboxes.headers(who),
      ...(after === undefined ? {} : { 'last-event-id': String(after) }),
    },
  });
}

/** Processes on the host whose command line holds `needle` (arguments are NUL-separated). */
async function hostProcesses(needle: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) count += 1;
  }
  return count;
}

const settled = (event: SseEvent): boolean =>
  event.event === 'state_changed' && ['ready', 'failed'].includes(String(event.data['state']));

async function createReady(who: Who, spec: Record<string, unknown> = {}): Promise<string> {
  const created = await sandboxes.call(who, 'POST', '/sandboxes', spec);
  expect(created.status, JSON.stringify(created.json)).toBe(202);
  const id = String(created.json['id']);
  const events = await readSse(await eventsOf(who, id), settled);
  expect(events.at(-1)?.data['state']).toBe('ready');
  return id;
}

describe.runIf(hasBubblewrap)('sandbox lifecycle', () => {
  it('accepts a sandbox at once and provisions it through every step, each a persisted event in order', async () => {
    const created = await sandboxes.call(ADA, 'POST', '/sandboxes', { name: 'first', labels: { team: 'a' } });
    expect(created.status).toBe(202);
    expect(created.json).toMatchObject({ name: 'first', state: 'pending', labels: { team: 'a' } });
    const id = String(created.json['id']);

    const events = await readSse(await eventsOf(ADA, id), settled);
    expect(events[0]?.event).toBe('snapshot');
    const ordered = events.slice(1);
    expect(ordered.map((event) => event.id)).toEqual(ordered.map((_event, index) => index + 1));
    const steps = ordered.filter((event) => event.event === 'provisioning_step');
    expect(
      steps.filter((event) => event.data['status'] === 'started').map((event) => event.data['step']),
    ).toEqual([...PROVISIONING_STEPS]);
    for (const step of steps.filter((event) => event.data['status'] !== 'started')) {
      expect(['completed', 'skipped']).toContain(step.data['status']);
      expect(typeof step.data['duration_ms']).toBe('number');
    }
    expect(ordered.map((event) => event.event)).toContain('provisioning_complete');
    expect(ordered.at(-1)?.data['state']).toBe('ready');

    // A subscriber resuming after event 5 gets the state first, then exactly events 6…
    const resumed = await readSse(await eventsOf(ADA, id, 5), settled);
    expect(resumed[0]).toMatchObject({ event: 'snapshot', data: { seq: ordered.at(-1)?.id } });
    expect(resumed.slice(1)).toEqual(ordered.slice(5));
    expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`)).json['state']).toBe('ready');
  });

  it('returns the same sandbox for a retried create with the same Idempotency-Key', async () => {
    const spec = { name: 'retried' };
    const key = { 'idempotency-key': `key-${String(Date.now())}` };
    const first = await sandboxes.call(ADA, 'POST', '/sandboxes', spec, key);
    const again = await sandboxes.call(ADA, 'POST', '/sandboxes', spec, key);
    expect(again.status).toBe(202);
    expect(again.json['id']).toBe(first.json['id']);
    const other = await sandboxes.call(ADA, 'POST', '/sandboxes', { name: 'different' }, key);
    expect(other.status).toBe(409);
    expect(other.json).toMatchObject({ code: 'idempotency_conflict' });
    await readSse(await eventsOf(ADA, String(first.json['id'])), settled);
  });

  it('fails provisioning when a script fails, says why, and leaves nothing behind', async () => {
    const created = await sandboxes.call(ADA, 'POST', '/sandboxes', {
      provisioning_scripts: [
        { name: 'fine', run: 'echo prepared > /workspace/ok' },
        { name: 'broken', run: 'echo "no such package" >&2; exit 3' },
      ],
    });
    const id = String(created.json['id']);
    const events = await readSse(await eventsOf(ADA, id), settled);
    const failed = events.find((event) => event.event === 'provisioning_failed');
    expect(failed?.data).toMatchObject({ step: 'RunScripts', code: 'script_failed' });
    expect(String(failed?.data['message'])).toContain('broken exited with 3: no such package');
    expect(events.at(-1)?.data).toMatchObject({ state: 'failed', code: 'script_failed' });
    expect(existsSync(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', id))).toBe(false);
    const row = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`);
    expect(row.json).toMatchObject({ state: 'failed', error: { code: 'script_failed' } });
  });

  it('runs a provisioning script whose result the sandbox keeps', async () => {
    const id = await createReady(ADA, {
      provisioning_scripts: [{ name: 'seed', run: 'echo seeded > data.txt' }],
    });
    const read = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
      argv: ['cat', 'data.txt'],
    });
    expect(read.json).toMatchObject({ status: 'exited', exit_code: 0, stdout: 'seeded\n' });
  });

  it('lists by label selector, deletes in bulk by selector, and a deleted sandbox is gone', async () => {
    const tag = `run-${String(Date.now())}`;
    const one = await createReady(ADA, { labels: { batch: tag } });
    const two = await createReady(ADA, { labels: { batch: tag, keep: 'no' } });
    const listed = await sandboxes.call(ADA, 'GET', `/sandboxes?selector=batch=${tag}`);
    expect((listed.json['data'] as { id: string }[]).map((row) => row.id).sort()).toEqual([one, two].sort());
    const bulk = await sandboxes.call(ADA, 'DELETE', `/sandboxes?selector=keep=no,batch=${tag}`);
    expect(bulk.status).toBe(202);
    expect(bulk.json['deleting']).toEqual([two]);
    const events = await readSse(await eventsOf(ADA, two), (event) => event.event === 'sandbox_deleted');
    expect(events.some((event) => event.data['state'] === 'deleted')).toBe(true);
    expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${two}`)).status).toBe(404);
    expect(existsSync(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', two))).toBe(false);
  });
});

describe.runIf(hasBubblewrap)('expiry', () => {
  it('deletes a sandbox when its TTL runs out', async () => {
    const id = await createReady(ADA, { ttl_s: 1 });
    const events = await readSse(await eventsOf(ADA, id), (event) => event.event === 'sandbox_deleted');
    expect(events.map((event) => event.event)).toContain('ttl_expired');
    expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`)).status).toBe(404);
  });

  it('deletes an idle sandbox only once nothing has run in it for its idle TTL', async () => {
    const id = await createReady(ADA, { idle_ttl_s: 3 });
    const exec = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs`, { argv: ['sleep', '4'] });
    expect(exec.status).toBe(202);
    const events = await readSse(await eventsOf(ADA, id), (event) => event.event === 'sandbox_deleted');
    const order = events.map((event) => event.event);
    // Running longer than the idle TTL did not count as idle: the countdown began when the exec ended.
    expect(order.indexOf('exec_ended')).toBeGreaterThan(order.indexOf('exec_started'));
    expect(order.indexOf('idle_expired')).toBeGreaterThan(order.indexOf('exec_ended'));
    expect(events.find((event) => event.event === 'exec_ended')?.data).toMatchObject({ status: 'exited' });
  });
});

describe.runIf(hasBubblewrap)('execs', () => {
  let id: string;
  beforeAll(async () => {
    id = await createReady(ADA, { env: { GREETING: 'hello' } });
  });

  it('answers a short command whole with ?wait=true', async () => {
    const answer = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
      argv: ['sh', '-c', 'echo "$GREETING $WHO"; echo oops >&2; exit 4'],
      env: { WHO: 'world' },
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      status: 'exited',
      exit_code: 4,
      stdout: 'hello world\n',
      stderr: 'oops\n',
    });
    const stdin = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
      argv: ['wc', '-c'],
      stdin: 'twelve bytes',
    });
    expect(String(stdin.json['stdout']).trim()).toBe('12');
  });

  it('runs in the background, and its output is read by offset', async () => {
    const started = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs`, {
      argv: ['sh', '-c', 'printf 0123456789'],
    });
    expect(started.status).toBe(202);
    const exec = String(started.json['id']);
    const events = await readSse(
      await eventsOf(ADA, id),
      (event) => event.event === 'exec_ended' && event.data['exec_id'] === exec,
    );
    expect(events.at(-1)?.data).toMatchObject({ status: 'exited', exit_code: 0 });
    const part = await fetch(`${sandboxes.url}/sandboxes/${id}/execs/${exec}/output?offset=4&length=3`, {
      headers: sandboxes.headers(ADA),
    });
    expect(await part.text()).toBe('456');
    expect(part.headers.get('x-output-size')).toBe('10');
  });

  it("follows an exec's output live as it is written, then its exit", async () => {
    // The exec waits for a file only the test writes, after it has seen the first output: that output must
    // have arrived while the exec ran.
    const started = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs`, {
      argv: [
        'sh',
        '-c',
        'echo one; echo two >&2; while [ ! -e go ]; do sleep 0.05; done; echo three; exit 5',
      ],
    });
    const exec = String(started.json['id']);
    const follow = await fetch(`${sandboxes.url}/sandboxes/${id}/execs/${exec}/stream`, {
      headers: sandboxes.headers(ADA),
    });
    expect(follow.headers.get('content-type')).toContain('text/event-stream');
    const early = await readSse(
      follow,
      (event) => event.event === 'output' && String(event.data['text']).includes('one'),
      { keepOpen: true },
    );
    const go = await sandboxes.call(ADA, 'PUT', `/sandboxes/${id}/files/content?path=go`, { content: '' });
    expect(go.status).toBeLessThan(300);
    const events = [...early, ...(await readSse(follow, (event) => event.event === 'exit'))];
    const text = (stream: string): string =>
      events
        .filter((event) => event.event === 'output' && event.data['stream'] === stream)
        .map((event) => String(event.data['text']))
        .join('');
    expect(text('stdout')).toBe('one\nthree\n');
    expect(text('stderr')).toBe('two\n');
    expect(events.at(-1)).toMatchObject({ event: 'exit', data: { status: 'exited', exit_code: 5 } });

    // Resuming from the bytes already seen gives only the rest; an ended exec answers at once.
    const rest = await readSse(
      await fetch(`${sandboxes.url}/sandboxes/${id}/execs/${exec}/stream?stdout_offset=4`, {
        headers: sandboxes.headers(ADA),
      }),
      (event) => event.event === 'exit',
    );
    expect(
      rest.filter((event) => event.data['stream'] === 'stdout').map((event) => event.data['text']),
    ).toEqual(['three\n']);
  });

  it('cancels an exec by killing its whole process group, detached children included', async () => {
    // Durations no other process on the machine has: they find this exec's processes on the host.
    const base = 40_000 + Math.floor(Math.random() * 50_000);
    const marks = [base, base + 1, base + 2].map((seconds) => `sleep\u0000${String(seconds)}\u0000`);
    const started = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs`, {
      argv: [
        'sh',
        '-c',
        `sleep ${String(base)} & setsid sleep ${String(base + 1)} & sleep ${String(base + 2)}`,
      ],
    });
    const exec = String(started.json['id']);
    const alive = async (): Promise<number> =>
      (await Promise.all(marks.map((mark) => hostProcesses(mark)))).reduce((sum, count) => sum + count, 0);
    for (let attempt = 0; attempt < 100 && (await alive()) < 3; attempt += 1) {
      await new Promise((done) => setTimeout(done, 50));
    }
    expect(await alive()).toBe(3);
    const cancelled = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs/${exec}/cancel`);
    expect(cancelled.json).toMatchObject({ status: 'cancelled' });
    expect(await alive()).toBe(0);
    expect((await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs/${exec}/cancel`)).status).toBe(409);
  });
});

describe.runIf(hasBubblewrap)('credentials', () => {
  it("injects the owner's credential into every program as an environment variable, never showing it", async () => {
    const secretValue = `tok-${String(Date.now())}-abcdef`;
    const created = await sandboxes.call(ADA, 'POST', '/credentials', {
      name: `api-${String(Date.now())}`,
      value: secretValue,
    });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.json)).not.toContain(secretValue);
    const credential = String(created.json['id']);

    const id = await createReady(ADA, {
      credentials: [{ id: credential, as_env: 'API_TOKEN' }],
      provisioning_scripts: [{ name: 'sees it', run: 'test -n "$API_TOKEN"' }],
    });
    const run = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
      argv: ['sh', '-c', 'printf %s "$API_TOKEN"'],
    });
    expect(run.json).toMatchObject({ status: 'exited', stdout: secretValue });
    const shown = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`);
    expect(JSON.stringify(shown.json)).not.toContain(secretValue);

    // Another user's sandbox cannot name it: provisioning fails, and nothing of it is readable.
    const foreign = await sandboxes.call(BOB, 'POST', '/sandboxes', {
      credentials: [{ id: credential, as_env: 'STOLEN' }],
    });
    const events = await readSse(await eventsOf(BOB, String(foreign.json['id'])), settled);
    expect(events.at(-1)?.data).toMatchObject({ state: 'failed', code: 'credential_unknown' });
    // A credential file never goes into the workspace, where the files API could read it.
    const asFile = await sandboxes.call(ADA, 'POST', '/sandboxes', {
      credentials: [{ id: credential, as_file: '/workspace/token' }],
    });
    expect(asFile.status).toBe(400);
    expect(asFile.json).toMatchObject({ code: 'invalid_request' });
  });
});

const hasDocker = await containerRuntimeUsable('docker');

const containerRuntimes = [
  ['docker', hasDocker],
  ['gvisor', hasDocker && (await containerRuntimeUsable('gvisor'))],
] as const;

describe.each(containerRuntimes)('the %s runtime', (runtime, present) => {
  it.runIf(present)(
    'writes every pipeline step as an event in order, and resumes after a sequence number',
    async () => {
      const created = await sandboxes.call(ADA, 'POST', '/sandboxes', { runtime });
      const id = String(created.json['id']);
      const ordered = (await readSse(await eventsOf(ADA, id), settled)).slice(1);
      expect(ordered.map((event) => event.id)).toEqual(ordered.map((_event, index) => index + 1));
      expect(
        ordered
          .filter((event) => event.event === 'provisioning_step' && event.data['status'] === 'started')
          .map((event) => event.data['step']),
      ).toEqual([...PROVISIONING_STEPS]);
      expect(ordered.at(-1)?.data['state']).toBe('ready');
      const resumed = await readSse(await eventsOf(ADA, id, 5), settled);
      expect(resumed[0]).toMatchObject({ event: 'snapshot', data: { seq: ordered.at(-1)?.id } });
      expect(resumed.slice(1)).toEqual(ordered.slice(5));
      await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}`);
    },
  );

  it.runIf(present)(
    'provisions a container sandbox, runs Python in it without a network, and removes it on delete',
    async () => {
      const id = await createReady(ADA, {
        runtime,
        provisioning_scripts: [{ name: 'seed', run: 'echo from-the-image > seed.txt' }],
      });
      const run = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
        argv: ['python3', '-c', 'print(6 * 7, open("seed.txt").read().strip())'],
      });
      expect(run.json).toMatchObject({ status: 'exited', exit_code: 0, stdout: '42 from-the-image\n' });
      const net = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
        argv: ['cat', '/proc/net/dev'],
      });
      expect(String(net.json['stdout'])).not.toMatch(/eth0|docker/);
      expect((await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}`)).status).toBe(202);
      await readSse(await eventsOf(ADA, id), (event) => event.event === 'sandbox_deleted');
      expect(await containerExists(`aibox-sandbox-${id}`)).toBe(false);
    },
  );

  it.runIf(present)(
    'fails on a broken script with its stderr, and leaves no container or directory',
    async () => {
      const created = await sandboxes.call(ADA, 'POST', '/sandboxes', {
        runtime,
        provisioning_scripts: [{ name: 'broken', run: 'echo "no such package" >&2; exit 3' }],
      });
      const id = String(created.json['id']);
      const events = await readSse(await eventsOf(ADA, id), settled);
      const failed = events.find((event) => event.event === 'provisioning_failed');
      expect(failed?.data).toMatchObject({ step: 'RunScripts', code: 'script_failed' });
      expect(String(failed?.data['message'])).toContain('broken exited with 3: no such package');
      expect(existsSync(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', id))).toBe(false);
      expect(await containerExists(`aibox-sandbox-${id}`)).toBe(false);
    },
  );

  it.runIf(present)(
    'stops the container on stop, keeps the workspace, and runs it again on start',
    async () => {
      const id = await createReady(ADA, { runtime });
      const container = new Docker().getContainer(`aibox-sandbox-${id}`);
      await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
        argv: ['sh', '-c', 'echo kept > kept.txt'],
      });
      const stopped = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/stop`);
      expect(stopped.json).toMatchObject({ state: 'stopped' });
      expect((await container.inspect()).State.Running).toBe(false);
      const refused = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
        argv: ['true'],
      });
      expect(refused.json).toMatchObject({ code: 'sandbox_not_ready' });

      expect((await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/start`)).json).toMatchObject({
        state: 'ready',
      });
      expect((await container.inspect()).State.Running).toBe(true);
      const again = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
        argv: ['cat', 'kept.txt'],
      });
      expect(again.json).toMatchObject({ exit_code: 0, stdout: 'kept\n' });
      await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}`);
    },
  );
});

describe('a machine without the runtimes', () => {
  it('stays ready, names each missing runtime in /readyz, and refuses its sandboxes with runtime_unavailable', async () => {
    const bare = await startSandboxService({
      env: {
        SANDBOX_BWRAP_PATH: '/nonexistent/bwrap',
        SANDBOX_DOCKER_SOCKET: '/nonexistent/docker.sock',
      },
    });
    try {
      const ready = await fetch(`${bare.url}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as {
        details: { runtimes: Record<string, { available: boolean; reason?: string }> };
      };
      const { runtimes } = body.details;
      expect(Object.keys(runtimes).sort()).toEqual(['docker', 'gvisor', 'process']);
      expect(Object.values(runtimes).map((runtime) => runtime.available)).toEqual([false, false, false]);
      expect(runtimes['process']?.reason).toContain('/nonexistent/bwrap');
      expect(runtimes['docker']?.reason).toContain('Docker daemon');
      expect(runtimes['gvisor']?.reason).toContain('Docker daemon');
      for (const runtime of ['process', 'docker', 'gvisor']) {
        const refused = await bare.call(ADA, 'POST', '/sandboxes', { runtime });
        expect(refused.status, runtime).toBe(503);
        expect(refused.json, runtime).toMatchObject({ code: 'runtime_unavailable' });
      }
      expect((await bare.call(ADA, 'GET', '/sandboxes')).status).toBe(200);
    } finally {
      await bare.close();
    }
  });
});

describe.runIf(hasBubblewrap)('isolation and bad input', () => {
  it("keeps one user out of another user's sandbox", async () => {
    const id = await createReady(ADA);
    for (const [method, path, body] of [
      ['GET', `/sandboxes/${id}`, undefined],
      ['DELETE', `/sandboxes/${id}`, undefined],
      ['POST', `/sandboxes/${id}/execs?wait=true`, { argv: ['true'] }],
      ['GET', `/sandboxes/${id}/events`, undefined],
      ['GET', `/sandboxes/${id}/files?path=`, undefined],
    ] as const) {
      const answer = await sandboxes.call(BOB, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    const list = await sandboxes.call(BOB, 'GET', '/sandboxes');
    expect((list.json['data'] as { id: string }[]).map((row) => row.id)).not.toContain(id);
    const admin = await sandboxes.call({ ...BOB, admin: true }, 'GET', `/sandboxes/${id}`);
    expect(admin.status).toBe(200);
    // The tenant's admin sees whose sandbox it is, in the list as in the sandbox.
    expect(admin.json['owner_id']).toBe('ada');
    const tenant = await sandboxes.call({ ...BOB, admin: true }, 'GET', '/sandboxes');
    const row = (tenant.json['data'] as { id: string; owner_id: string }[]).find((entry) => entry.id === id);
    expect(row?.owner_id).toBe('ada');
  });

  it('refuses what it cannot do with a code, and bad input with a 400', async () => {
    const cases: [unknown, number, string][] = [
      [{ image: 'debian:bookworm' }, 400, 'feature_unavailable'],
      [{ network: { mode: 'egress' } }, 400, 'invalid_request'],
      [{ git_repos: [{ url: 'ssh://example.com/r.git' }] }, 400, 'invalid_request'],
      [{ surprise: 1 }, 400, 'invalid_request'],
      [{ resources: { memory_mb: 1 } }, 400, 'invalid_request'],
      [{ env: { 'BAD NAME': 'x' } }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', body);
      expect(answer.status, JSON.stringify(body)).toBe(status);
      expect(answer.json).toMatchObject({ code });
    }
    expect((await sandboxes.call(ADA, 'GET', '/sandboxes/not-a-uuid')).status).toBe(400);
    expect((await sandboxes.call(ADA, 'GET', '/sandboxes?selector=nonsense')).status).toBe(400);
  });
});

describe.runIf(hasBubblewrap)('quotas per tenant', () => {
  let limited: TestSandboxService;
  beforeAll(async () => {
    limited = await startSandboxService({
      env: { SANDBOX_QUOTA_SANDBOXES: '2', SANDBOX_QUOTA_MEMORY_MB: '1024' },
    });
  });
  afterAll(async () => {
    await limited.close();
  });

  it("refuses a sandbox past the tenant's count or memory with quota_exceeded, and frees it on delete", async () => {
    const acme: Who = { tid: 'acme', uid: 'ada' };
    const first = await limited.call(acme, 'POST', '/sandboxes', { resources: { memory_mb: 600 } });
    expect(first.status).toBe(202);
    const tooBig = await limited.call(acme, 'POST', '/sandboxes', { resources: { memory_mb: 600 } });
    expect(tooBig.status).toBe(429);
    expect(tooBig.json).toMatchObject({ code: 'quota_exceeded' });
    const second = await limited.call({ tid: 'acme', uid: 'bob' }, 'POST', '/sandboxes', {
      resources: { memory_mb: 100 },
    });
    expect(second.status).toBe(202);
    const third = await limited.call(acme, 'POST', '/sandboxes', { resources: { memory_mb: 16 } });
    expect(third.json).toMatchObject({ code: 'quota_exceeded' });
    // Another tenant has its own quota.
    expect((await limited.call({ tid: 'other', uid: 'ada' }, 'POST', '/sandboxes', {})).status).toBe(202);

    const id = String(first.json['id']);
    const ready = await fetch(`${limited.url}/sandboxes/${id}/events`, { headers: limited.headers(acme) });
    await readSse(ready, settled);
    expect((await limited.call(acme, 'DELETE', `/sandboxes/${id}`)).status).toBe(202);
    const gone = await fetch(`${limited.url}/sandboxes/${id}/events`, { headers: limited.headers(acme) });
    await readSse(gone, (event) => event.event === 'sandbox_deleted');
    expect((await limited.call(acme, 'POST', '/sandboxes', { resources: { memory_mb: 16 } })).status).toBe(
      202,
    );
  });
});
