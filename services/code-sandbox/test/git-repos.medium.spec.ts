import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort, needs } from '@aibox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startGitServer, type GitHttpServer } from './support/git-server.js';
import {
  containerRuntimeUsable,
  readSse,
  startSandboxService,
  type SseEvent,
  type TestSandboxService,
  type Who,
} from './support/sandbox.js';

/**
 * `git_repos` through the HTTP API, against a real git smart-HTTP server on loopback (`git http-backend`
 * behind a node server): clones land in the workspace where programs use them, credentials are used and
 * never shown, and every refusal (scheme, host, redirect, dest, size, time, a tree escaping through a
 * symlink) fails the sandbox with nothing left behind.
 */
const hasBubblewrap = await needs('bubblewrap');

const ADA: Who = { tid: 'default', uid: 'ada' };
const BOB: Who = { tid: 'default', uid: 'bob' };
const TOKEN = `ghp_${randomBytes(18).toString('hex')}`;

let server: GitHttpServer;
let sandboxes: TestSandboxService;
/** Allowlisted, with nothing listening. */
let closedPort: number;
/** Not allowlisted. */
let otherPort: number;
/** Where the escaping repository's symlink points, on the host. */
let escapeTarget: string;

beforeAll(async () => {
  escapeTarget = await mkdtemp(join(tmpdir(), 'aibox-git-escape-'));
  closedPort = await freePort();
  otherPort = await freePort();
  server = await startGitServer({
    repos: {
      public: {
        main: [{ 'README.md': 'one\n' }, { 'README.md': 'two\n' }, { 'src/app.txt': 'app\n' }],
        branches: { feature: [{ 'feature.txt': 'feature work\n' }, { 'feature.txt': 'feature done\n' }] },
        links: { 'etc-link': '/etc' },
      },
      private: { main: [{ 'secret.txt': 'private content\n' }] },
      big: { main: [{ 'blob.bin': randomBytes(2 * 1_048_576) }] },
      slow: { main: [{ 'README.md': 'never served\n' }] },
    },
    tokens: { private: TOKEN },
    redirects: {
      '/away.git/': `http://127.0.0.1:${otherPort}/public.git/`,
      '/local.git/': 'file:///etc/',
    },
    stalled: ['slow'],
    escaping: { escape: escapeTarget },
  });
  sandboxes = await startSandboxService({
    env: { SANDBOX_GIT_ALLOWED_HOSTS: `127.0.0.1:${server.port},127.0.0.1:${closedPort}` },
  });
});

afterAll(async () => {
  await sandboxes.close();
  await server.close();
  await rm(escapeTarget, { recursive: true, force: true });
});

const settled = (event: SseEvent): boolean =>
  event.event === 'state_changed' && ['ready', 'failed'].includes(String(event.data['state']));

interface Provisioned {
  readonly id: string;
  readonly events: SseEvent[];
  readonly state: unknown;
  readonly failure: Record<string, unknown> | undefined;
  readonly cloneStep: Record<string, unknown> | undefined;
}

async function provision(
  service: TestSandboxService,
  who: Who,
  spec: Record<string, unknown>,
): Promise<Provisioned> {
  const created = await service.call(who, 'POST', '/sandboxes', spec);
  expect(created.status, JSON.stringify(created.json)).toBe(202);
  const id = String(created.json['id']);
  const response = await fetch(`${service.url}/sandboxes/${id}/events`, { headers: service.headers(who) });
  const events = await readSse(response, settled);
  return {
    id,
    events,
    state: events.at(-1)?.data['state'],
    failure: events.find((event) => event.event === 'provisioning_failed')?.data,
    cloneStep: events.find(
      (event) =>
        event.event === 'provisioning_step' &&
        event.data['step'] === 'CloneRepositories' &&
        event.data['status'] !== 'started',
    )?.data,
  };
}

async function run(
  who: Who,
  id: string,
  script: string,
): Promise<{ exit_code: unknown; stdout: string; stderr: string }> {
  const answer = await sandboxes.call(who, 'POST', `/sandboxes/${id}/execs?wait=true`, {
    argv: ['/bin/sh', '-c', script],
    env: { HOME: '/tmp' },
  });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return {
    exit_code: answer.json['exit_code'],
    stdout: String(answer.json['stdout']),
    stderr: String(answer.json['stderr']),
  };
}

function sandboxDir(service: TestSandboxService, id: string): string {
  return join(service.dataDir, 'code-sandbox', 'sandboxes', id);
}

function expectFailedClean(
  service: TestSandboxService,
  result: Provisioned,
  code: string,
  ...fragments: string[]
): void {
  expect(result.state).toBe('failed');
  expect(result.failure).toMatchObject({ step: 'CloneRepositories', code });
  for (const fragment of fragments) expect(String(result.failure?.['message'])).toContain(fragment);
  expect(existsSync(sandboxDir(service, result.id))).toBe(false);
}

async function credential(who: Who, value: string): Promise<string> {
  const created = await sandboxes.call(who, 'POST', '/credentials', {
    name: `git-${randomBytes(4).toString('hex')}`,
    value,
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return String(created.json['id']);
}

describe.runIf(hasBubblewrap)('git_repos', () => {
  it('clones a branch shallowly and the default branch fully into the workspace, where programs use them', async () => {
    const result = await provision(sandboxes, ADA, {
      git_repos: [
        { url: `${server.url}/public.git`, branch: 'feature', depth: 1, dest: 'app' },
        { url: `${server.url}/public.git/` },
      ],
    });
    expect(result.state, JSON.stringify(result.failure)).toBe('ready');
    const feature = await server.revParse('public', 'feature');
    const main = await server.revParse('public', 'main');
    expect(result.cloneStep).toMatchObject({ status: 'completed' });
    expect(result.cloneStep?.['message']).toBe(
      `cloned ${server.url}/public.git (feature) at ${feature.slice(0, 7)} into /workspace/app; ` +
        `cloned ${server.url}/public.git (main) at ${main.slice(0, 7)} into /workspace/public`,
    );

    const shallow = await run(
      ADA,
      result.id,
      'cd /workspace/app && git log --format=%H && cat feature.txt && git status --porcelain && git branch --show-current',
    );
    expect(shallow.exit_code, shallow.stderr).toBe(0);
    expect(shallow.stdout).toBe(`${feature}\nfeature done\nfeature\n`);
    const full = await run(
      ADA,
      result.id,
      'git -C /workspace/public log --format=%s | wc -l; cat /workspace/public/src/app.txt',
    );
    expect(full.exit_code, full.stderr).toBe(0);
    // Three commits of files and the one adding the link.
    expect(full.stdout).toBe('4\napp\n');

    // A symlink of the repository stays a link into nothing the service follows.
    const listing = await sandboxes.call(ADA, 'GET', `/sandboxes/${result.id}/files?path=public`);
    expect(listing.json['entries']).toContainEqual(
      expect.objectContaining({ name: 'etc-link', type: 'symlink', link_target: '/etc' }),
    );
    expect(existsSync(join(sandboxDir(sandboxes, result.id), 'git-staging'))).toBe(false);
    await sandboxes.call(ADA, 'DELETE', `/sandboxes/${result.id}`);
  });

  it("clones a private repository with the owner's credential, which shows up nowhere", async () => {
    const id = await credential(ADA, TOKEN);
    const seen = server.authorizations.length;
    const result = await provision(sandboxes, ADA, {
      git_repos: [
        { url: `${server.url}/private.git`, credential: id, dest: 'private' },
        { url: `${server.url}/private.git`, credential: id, username: 'oauth2', dest: 'again' },
      ],
    });
    expect(result.state, JSON.stringify(result.failure)).toBe('ready');
    const sent = server.authorizations.slice(seen);
    expect(sent).toContain(`Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`);
    expect(sent).toContain(`Basic ${Buffer.from(`oauth2:${TOKEN}`).toString('base64')}`);

    const read = await run(ADA, result.id, 'cat /workspace/private/secret.txt /workspace/again/secret.txt');
    expect(read.stdout).toBe('private content\nprivate content\n');
    const config = await sandboxes.call(
      ADA,
      'GET',
      `/sandboxes/${result.id}/files/content?path=private/.git/config`,
    );
    expect(config.status).toBe(200);
    // The raw bytes (not JSON), which the test client hands back as text.
    const text = String(config.json['text']);
    expect(text).toContain(`url = ${server.url}/private.git\n`);
    expect(text).not.toContain(TOKEN);

    // Not in the workspace (the .git directories included), the sandbox's environment, its events,
    // its stored spec, or the service's logs.
    const grep = await run(
      ADA,
      result.id,
      `grep -r -l -F '${TOKEN}' /workspace; env | grep -c -F '${TOKEN}'`,
    );
    expect(grep.stdout).toBe('0\n');
    expect(JSON.stringify(result.events)).not.toContain(TOKEN);
    const shown = await sandboxes.call(ADA, 'GET', `/sandboxes/${result.id}`);
    expect(JSON.stringify(shown.json)).not.toContain(TOKEN);
    expect(shown.json['spec']).toMatchObject({ git_repos: [{ credential: id }, { credential: id }] });
    expect(sandboxes.logs.join('')).not.toContain(TOKEN);
    await sandboxes.call(ADA, 'DELETE', `/sandboxes/${result.id}`);
  });

  it('fails with git_clone_failed on a wrong or missing credential, saying why, and leaves nothing behind', async () => {
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const id = await credential(ADA, wrong);
    const refused = await provision(sandboxes, ADA, {
      git_repos: [{ url: `${server.url}/private.git`, credential: id }],
    });
    expectFailedClean(sandboxes, refused, 'git_clone_failed', `${server.url}/private.git`, '401');
    expect(String(refused.failure?.['message'])).toContain('the credential was refused');
    expect(JSON.stringify(refused.events)).not.toContain(wrong);
    expect(sandboxes.logs.join('')).not.toContain(wrong);

    const without = await provision(sandboxes, ADA, { git_repos: [{ url: `${server.url}/private.git` }] });
    expectFailedClean(sandboxes, without, 'git_clone_failed', '401', 'name a credential');

    // Another user's credential is unknown to Bob's sandbox, like a missing one.
    const stolen = await provision(sandboxes, BOB, {
      git_repos: [{ url: `${server.url}/private.git`, credential: id }],
    });
    expectFailedClean(sandboxes, stolen, 'credential_unknown');
  });

  it('fails on a missing branch, a missing repository, an unreachable port and a redirect away', async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ url: `${server.url}/public.git`, branch: 'nope' }, ['no branch nope']],
      [{ url: `${server.url}/missing.git` }, ['404']],
      [{ url: `http://127.0.0.1:${closedPort}/public.git` }, ['ECONNREFUSED']],
      [
        { url: `${server.url}/away.git` },
        [`redirects to http://127.0.0.1:${otherPort}/public.git/`, 'not among SANDBOX_GIT_ALLOWED_HOSTS'],
      ],
      [{ url: `${server.url}/local.git` }, ['redirects to file:///etc/', 'use https']],
    ];
    for (const [repo, fragments] of cases) {
      const result = await provision(sandboxes, ADA, { git_repos: [repo] });
      expectFailedClean(sandboxes, result, 'git_clone_failed', String(repo['url']), ...fragments);
    }
  });

  it('refuses a repository whose tree climbs out with ".." entries, writing nothing outside', async () => {
    const result = await provision(sandboxes, ADA, { git_repos: [{ url: `${server.url}/escape.git` }] });
    expectFailedClean(sandboxes, result, 'git_clone_failed', `${server.url}/escape.git`);
    expect(String(result.failure?.['message'])).toMatch(/unsafe path|leaves the repository/);
    expect(await readdir(escapeTarget)).toEqual([]);
  });

  it('fails when the destination exists already', async () => {
    const result = await provision(sandboxes, ADA, {
      git_repos: [
        { url: `${server.url}/public.git`, dest: 'same' },
        { url: `${server.url}/public.git`, branch: 'feature', dest: 'same' },
      ],
    });
    expectFailedClean(sandboxes, result, 'git_clone_failed', '/workspace/same exists already');
  });

  it('refuses other schemes, credentials in the URL, hosts not allowed and bad fields with a 400 at create', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'file:///etc' }, 'invalid_request'],
      [{ url: 'ssh://git@127.0.0.1/public.git' }, 'invalid_request'],
      [{ url: `git://127.0.0.1:${server.port}/public.git` }, 'invalid_request'],
      [{ url: `http://user:${TOKEN}@127.0.0.1:${server.port}/public.git` }, 'invalid_request'],
      [{ url: `${server.url}/public.git?x=1` }, 'invalid_request'],
      [{ url: `http://127.0.0.1:${otherPort}/public.git` }, 'git_url_refused'],
      [{ url: 'https://example.com/r.git' }, 'git_url_refused'],
      [{ url: `${server.url}/public.git`, dest: '../outside' }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, dest: 'a/../../b' }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, dest: '/etc' }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, depth: 0 }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, branch: 'a..b' }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, branch: '-x' }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, username: 'a:b' }, 'invalid_request'],
      [{ url: `${server.url}/public.git`, surprise: true }, 'invalid_request'],
    ];
    for (const [repo, code] of cases) {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', { git_repos: [repo] });
      expect([answer.status, answer.json['code']], JSON.stringify(repo)).toEqual([400, code]);
      expect(JSON.stringify(answer.json)).not.toContain(TOKEN);
    }
  });
});

describe.runIf(hasBubblewrap)('git_repos limits', () => {
  let limited: TestSandboxService;

  beforeAll(async () => {
    limited = await startSandboxService({
      env: {
        SANDBOX_GIT_ALLOWED_HOSTS: `127.0.0.1:${server.port}`,
        SANDBOX_GIT_MAX_BYTES: '1048576',
        SANDBOX_GIT_CLONE_TIMEOUT_S: '2',
      },
    });
  });

  afterAll(async () => {
    await limited.close();
  });

  it('stops a clone past SANDBOX_GIT_MAX_BYTES and one past its timeout', async () => {
    const big = await provision(limited, ADA, { git_repos: [{ url: `${server.url}/big.git` }] });
    expectFailedClean(limited, big, 'git_clone_failed', `${server.url}/big.git`, 'larger than 1048576 bytes');
    const slow = await provision(limited, ADA, { git_repos: [{ url: `${server.url}/slow.git` }] });
    expectFailedClean(limited, slow, 'git_clone_failed', `${server.url}/slow.git`, 'longer than 2 s');
  });
});

const hasDocker = await containerRuntimeUsable('docker');

describe.runIf(hasDocker)('git_repos in a docker sandbox', () => {
  it("gives the clone to the container's user, who works in it", async () => {
    const result = await provision(sandboxes, ADA, {
      runtime: 'docker',
      git_repos: [{ url: `${server.url}/public.git`, dest: 'libs/public' }],
    });
    expect(result.state, JSON.stringify(result.failure)).toBe('ready');
    const owners = await run(
      ADA,
      result.id,
      'stat -c %u:%g /workspace/libs /workspace/libs/public /workspace/libs/public/README.md /workspace/libs/public/.git/config && ' +
        'stat -c %u /workspace/libs/public/etc-link && touch /workspace/libs/public/new && git -C /workspace/libs/public status --porcelain',
    );
    expect(owners.exit_code, owners.stderr).toBe(0);
    expect(owners.stdout).toBe('1000:1000\n1000:1000\n1000:1000\n1000:1000\n1000\n?? new\n');
    await sandboxes.call(ADA, 'DELETE', `/sandboxes/${result.id}`);
  });
});
