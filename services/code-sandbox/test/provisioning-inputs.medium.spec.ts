import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { needs } from '@aibox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  readSse,
  startSandboxService,
  type SseEvent,
  type TestSandboxService,
  type Who,
  containerRuntimeUsable,
} from './support/sandbox.js';

/**
 * What a spec brings in from outside at provisioning, over HTTP against real runtimes: host directories
 * mounted (only under SANDBOX_MOUNT_ROOTS, never the denylist), host trees copied into the workspace, and
 * credentials as read-only files that stay out of the workspace and the spec.
 */
const hasBubblewrap = await needs('bubblewrap');

const hasDocker = await containerRuntimeUsable('docker');

const ADA: Who = { tid: 'default', uid: 'ada' };
const BOB: Who = { tid: 'default', uid: 'bob' };

/** Allowed host roots and a directory outside them; the tree each test uses is built once. */
let roots: string;
let outside: string;
let sandboxes: TestSandboxService;

beforeAll(async () => {
  roots = await mkdtemp(join(tmpdir(), 'aibox-mount-roots-'));
  outside = await mkdtemp(join(tmpdir(), 'aibox-mount-outside-'));
  await writeFile(join(outside, 'secret.txt'), 'outside the roots\n');

  await mkdir(join(roots, 'ro'), { mode: 0o755 });
  await writeFile(join(roots, 'ro', 'hello.txt'), 'read me\n', { mode: 0o644 });
  await chmod(join(roots, 'ro'), 0o755);
  await mkdir(join(roots, 'rw'));
  // The docker runtime's programs run as uid 1000 on the host: a writable mount must be writable by it.
  await chmod(join(roots, 'rw'), 0o777);

  const project = join(roots, 'project');
  await mkdir(join(project, 'src'), { recursive: true });
  await mkdir(join(project, 'node_modules', 'left-pad'), { recursive: true });
  await writeFile(join(project, 'src', 'app.ts'), 'export const answer = 42;\n');
  await writeFile(join(project, 'src', 'debug.log'), 'noise\n');
  await writeFile(join(project, 'node_modules', 'left-pad', 'index.js'), 'module.exports = 1;\n');
  await writeFile(join(project, '.env'), 'TOKEN=do-not-copy\n');
  await writeFile(join(project, 'README.md'), '# project\n');
  await symlink('src/app.ts', join(project, 'entry.ts'));
  await symlink('/etc/passwd', join(project, 'passwd'));
  await symlink(join(outside, 'secret.txt'), join(project, 'absolute-out'));
  await symlink(`../../..${outside}/secret.txt`, join(project, 'relative-out'));
  await symlink('../README.md', join(project, 'src', 'readme-link'));
  await writeFile(join(roots, 'settings.json'), '{"debug":true}\n');
  await symlink('/etc', join(roots, 'to-etc'));

  sandboxes = await startSandboxService({ env: { SANDBOX_MOUNT_ROOTS: roots } });
});

afterAll(async () => {
  await sandboxes.close();
  await rm(roots, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const settled = (event: SseEvent): boolean =>
  event.event === 'state_changed' && ['ready', 'failed'].includes(String(event.data['state']));

function eventsOf(service: TestSandboxService, who: Who, id: string): Promise<Response> {
  return fetch(`${service.url}/sandboxes/${id}/events`, { headers: service.headers(who) });
}

/** Creates a sandbox and follows it to `ready` or `failed`; its events. */
async function provision(
  spec: Record<string, unknown>,
  who: Who = ADA,
  service: TestSandboxService = sandboxes,
): Promise<{ id: string; events: SseEvent[] }> {
  const created = await service.call(who, 'POST', '/sandboxes', spec);
  expect(created.status, JSON.stringify(created.json)).toBe(202);
  const id = String(created.json['id']);
  return { id, events: await readSse(await eventsOf(service, who, id), settled) };
}

async function ready(spec: Record<string, unknown>): Promise<{ id: string; events: SseEvent[] }> {
  const made = await provision(spec);
  expect(made.events.at(-1)?.data, JSON.stringify(made.events.at(-1))).toMatchObject({ state: 'ready' });
  return made;
}

function stepMessage(events: readonly SseEvent[], step: string): string {
  const done = events.find(
    (event) =>
      event.event === 'provisioning_step' &&
      event.data['step'] === step &&
      event.data['status'] !== 'started',
  );
  return `${String(done?.data['status'])}: ${String(done?.data['message'])}`;
}

async function run(
  id: string,
  argv: readonly string[],
): Promise<{ exit_code: number; stdout: string; stderr: string }> {
  const answer = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, { argv });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json as { exit_code: number; stdout: string; stderr: string };
}

async function remove(id: string): Promise<void> {
  expect((await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}`)).status).toBe(202);
  await readSse(await eventsOf(sandboxes, ADA, id), (event) => event.event === 'sandbox_deleted');
}

const sandboxDir = (service: TestSandboxService, id: string): string =>
  join(service.dataDir, 'code-sandbox', 'sandboxes', id);

const runtimes = [
  ['process', hasBubblewrap],
  ['docker', hasDocker],
] as const;

describe.each(runtimes)('on the %s runtime', (runtime, present) => {
  describe.runIf(present)('mounts and credential files', () => {
    it('binds a read-only mount that programs read but cannot change, and a writable one they can', async () => {
      const { id, events } = await ready({
        runtime,
        mounts: [
          { source: join(roots, 'ro'), target: '/mnt/data' },
          { source: join(roots, 'rw') + '/', target: '/mnt/out/results', writable: true },
        ],
      });
      expect(stepMessage(events, 'MountLocalDirs')).toBe(
        'completed: bound /mnt/data (read-only), /mnt/out/results (writable)',
      );

      expect(await run(id, ['cat', '/mnt/data/hello.txt'])).toMatchObject({
        exit_code: 0,
        stdout: 'read me\n',
      });
      const write = await run(id, ['sh', '-c', 'echo changed > /mnt/data/hello.txt']);
      expect(write.exit_code).not.toBe(0);
      expect(write.stderr).toMatch(/read-only/i);
      expect(await run(id, ['touch', '/mnt/data/new'])).toMatchObject({ exit_code: 1 });
      expect(await readFile(join(roots, 'ro', 'hello.txt'), 'utf8')).toBe('read me\n');
      expect(existsSync(join(roots, 'ro', 'new'))).toBe(false);

      expect(
        await run(id, ['sh', '-c', `echo result > /mnt/out/results/answer-${runtime}.txt`]),
      ).toMatchObject({ exit_code: 0 });
      expect(await readFile(join(roots, 'rw', `answer-${runtime}.txt`), 'utf8')).toBe('result\n');

      // The spec shows the real path that is bound; the mount's host side is nowhere else.
      const shown = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`);
      expect(shown.json['spec']).toMatchObject({
        mounts: [
          { source: join(roots, 'ro'), target: '/mnt/data', writable: false },
          { source: join(roots, 'rw'), target: '/mnt/out/results', writable: true },
        ],
      });
      if (runtime === 'process') {
        // The descriptors that carried the sources to bwrap are closed before the program starts: no open
        // directory is left to climb out of.
        const open = await run(id, [
          'sh',
          '-c',
          'for f in /proc/self/fd/*; do if [ -d "$f" ]; then echo "$f"; fi; done',
        ]);
        expect(open).toMatchObject({ exit_code: 0, stdout: '' });
      }
      await remove(id);
      expect(await readFile(join(roots, 'rw', `answer-${runtime}.txt`), 'utf8')).toBe('result\n');
    });

    it('writes an as_file credential read-only at its path, never into the workspace or the spec, and removes it', async () => {
      const value = `file-secret-${String(Date.now())}-${runtime}`;
      const credential = await sandboxes.call(ADA, 'POST', '/credentials', {
        name: `file-${runtime}-${String(Date.now())}`,
        value,
      });
      expect(credential.status).toBe(201);
      const envValue = `env-secret-${runtime}`;
      const envCredential = await sandboxes.call(ADA, 'POST', '/credentials', {
        name: `env-${runtime}-${String(Date.now())}`,
        value: envValue,
      });
      const { id, events } = await ready({
        runtime,
        credentials: [
          { id: credential.json['id'], as_file: 'api-token' },
          { id: credential.json['id'], as_file: '/run/secrets/again' },
          { id: envCredential.json['id'], as_env: 'OTHER_TOKEN' },
        ],
        provisioning_scripts: [{ name: 'sees it', run: 'test -s /run/secrets/api-token' }],
      });
      expect(stepMessage(events, 'InjectCredentials')).toBe(
        "completed: OTHER_TOKEN in every program's environment; /run/secrets/api-token, /run/secrets/again as read-only files",
      );

      expect(await run(id, ['cat', '/run/secrets/api-token'])).toMatchObject({ exit_code: 0, stdout: value });
      expect(await run(id, ['cat', '/run/secrets/again'])).toMatchObject({ stdout: value });
      expect(await run(id, ['sh', '-c', 'printf %s "$OTHER_TOKEN"'])).toMatchObject({ stdout: envValue });
      expect((await run(id, ['sh', '-c', 'echo x > /run/secrets/api-token'])).exit_code).not.toBe(0);
      expect((await run(id, ['rm', '-f', '/run/secrets/api-token'])).exit_code).not.toBe(0);

      // Not in the workspace (the files API and its archives), not in the spec.
      const archive = await fetch(`${sandboxes.url}/sandboxes/${id}/files/archive?path=`, {
        headers: sandboxes.headers(ADA),
      });
      expect(archive.status).toBe(200);
      expect(Buffer.from(await archive.arrayBuffer()).includes(value)).toBe(false);
      const shown = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`);
      expect(JSON.stringify(shown.json)).not.toContain(value);
      expect(shown.json['spec']).toMatchObject({
        credentials: [
          { as_file: '/run/secrets/api-token' },
          { as_file: '/run/secrets/again' },
          { as_env: 'OTHER_TOKEN' },
        ],
      });

      // On the host: outside the workspace, read-only, only while the sandbox runs.
      const onHost = join(sandboxDir(sandboxes, id), 'secrets', 'api-token');
      expect((await stat(onHost)).mode & 0o777).toBe(0o400);
      expect((await stat(dirname(onHost))).mode & 0o777).toBe(0o700);
      expect((await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/stop`)).status).toBeLessThan(300);
      expect(existsSync(onHost)).toBe(false);
      expect((await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/start`)).status).toBeLessThan(300);
      expect(await run(id, ['cat', '/run/secrets/api-token'])).toMatchObject({ stdout: value });
      await remove(id);
      expect(existsSync(onHost)).toBe(false);
      expect(existsSync(sandboxDir(sandboxes, id))).toBe(false);

      // Another user's sandbox cannot name it.
      const foreign = await provision(
        { runtime, credentials: [{ id: credential.json['id'], as_file: 'stolen' }] },
        BOB,
      );
      expect(foreign.events.at(-1)?.data).toMatchObject({ state: 'failed', code: 'credential_unknown' });
      expect(existsSync(sandboxDir(sandboxes, foreign.id))).toBe(false);
    });

    it('copies a host tree into the workspace, owned by the sandbox user', async () => {
      const { id } = await ready({
        runtime,
        copies: [{ source: join(roots, 'project'), target: 'proj', exclude: ['*.log', 'node_modules'] }],
      });
      expect(await run(id, ['cat', 'proj/entry.ts'])).toMatchObject({
        stdout: 'export const answer = 42;\n',
      });
      expect(await run(id, ['sh', '-c', 'echo more >> proj/src/app.ts && mkdir proj/src/new'])).toMatchObject(
        {
          exit_code: 0,
        },
      );
      expect(await run(id, ['test', '-e', 'proj/src/debug.log'])).toMatchObject({ exit_code: 1 });
      await remove(id);
      expect(await readFile(join(roots, 'project', 'src', 'app.ts'), 'utf8')).toBe(
        'export const answer = 42;\n',
      );
    });
  });
});

describe.runIf(hasBubblewrap)('copies', () => {
  async function list(id: string, path: string): Promise<Record<string, unknown>[]> {
    const answer = await sandboxes.call(
      ADA,
      'GET',
      `/sandboxes/${id}/files?path=${encodeURIComponent(path)}`,
    );
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    return answer.json['entries'] as Record<string, unknown>[];
  }

  it('copies files and directories, leaves out what `exclude` matches and symlinks that lead out', async () => {
    const { id, events } = await ready({
      copies: [
        {
          source: join(roots, 'project'),
          target: '/workspace/app',
          exclude: ['*.log', 'node_modules', '.env'],
        },
        { source: join(roots, 'settings.json'), target: 'config/settings.json' },
      ],
    });
    const message = stepMessage(events, 'MountLocalDirs');
    expect(message).toContain('into /workspace/app');
    expect(message).toContain('3 entries excluded');
    expect(message).toContain(
      '3 symlinks leading out of the tree left out (absolute-out, passwd, relative-out)',
    );
    expect(message).toContain(`copied ${join(roots, 'settings.json')} to /workspace/config/settings.json`);

    expect((await list(id, 'app')).map((entry) => entry['name'])).toEqual(['README.md', 'entry.ts', 'src']);
    expect(await list(id, 'app/src')).toMatchObject([
      { name: 'app.ts', type: 'file' },
      { name: 'readme-link', type: 'symlink', link_target: '../README.md' },
    ]);
    expect(await list(id, 'app')).toContainEqual(
      expect.objectContaining({ name: 'entry.ts', type: 'symlink', link_target: 'src/app.ts' }),
    );
    const settings = await sandboxes.call(
      ADA,
      'GET',
      `/sandboxes/${id}/files/content?path=config/settings.json`,
    );
    expect(settings.status).toBe(200);
    expect(await run(id, ['cat', 'config/settings.json'])).toMatchObject({ stdout: '{"debug":true}\n' });
    expect(await run(id, ['cat', 'app/src/readme-link'])).toMatchObject({ stdout: '# project\n' });
    // Nothing of what the escaping links pointed at came along.
    const everything = await run(id, ['sh', '-c', 'cat $(find /workspace -type f) 2>/dev/null']);
    expect(everything.stdout).not.toContain('outside the roots');
    expect(everything.stdout).not.toContain('root:x:0:0');
    expect(everything.stdout).not.toContain('do-not-copy');
    await remove(id);
  });

  it('refuses a copy whose source or target is not allowed', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ source: outside, target: 'x' }, 403, 'mount_not_allowed'],
      [{ source: join(roots, 'to-etc'), target: 'x' }, 403, 'mount_not_allowed'],
      [{ source: join(roots, 'missing'), target: 'x' }, 400, 'mount_source_invalid'],
      [{ source: join(roots, 'project'), target: '../escape' }, 400, 'path_invalid'],
      [{ source: join(roots, 'settings.json'), target: '/workspace' }, 400, 'path_invalid'],
    ];
    for (const [copy, status, code] of cases) {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', { copies: [copy] });
      expect(answer.status, JSON.stringify(copy)).toBe(status);
      expect(answer.json).toMatchObject({ code });
    }
  });
});

describe.runIf(hasBubblewrap)('refusals', () => {
  /** A service whose only root is `/`: whatever is refused is refused by the denylist alone. */
  let open: TestSandboxService;
  /** A service with no roots at all. */
  let closed: TestSandboxService;
  beforeAll(async () => {
    open = await startSandboxService({ env: { SANDBOX_MOUNT_ROOTS: '/', SANDBOX_COPY_MAX_BYTES: '64' } });
    closed = await startSandboxService();
  });
  afterAll(async () => {
    await open.close();
    await closed.close();
  });

  const mountOf = (source: string): Record<string, unknown> => ({
    mounts: [{ source, target: '/mnt/x' }],
  });

  it('refuses every mount when no roots are configured, saying so', async () => {
    const answer = await closed.call(ADA, 'POST', '/sandboxes', mountOf(join(roots, 'ro')));
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ code: 'mount_not_allowed' });
    expect(String(answer.json['error'])).toContain('SANDBOX_MOUNT_ROOTS is empty');
  });

  it('refuses sources outside the roots, climbing out with "..", or through a symlink', async () => {
    for (const source of [
      outside,
      join(outside, 'secret.txt'),
      `${roots}/ro/../../${outside.slice(1)}`,
      `${roots}/../${outside.slice(1)}`,
      `${roots}/ro/../../etc`,
      join(roots, 'to-etc'),
      join(roots, 'to-etc', 'ssl'),
      'relative/path',
    ]) {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', mountOf(source));
      expect(answer.status, source).toBe(403);
      expect(answer.json, source).toMatchObject({ code: 'mount_not_allowed' });
    }
  });

  it('refuses the denylist even under an allowing root: /, system directories, the Docker socket, the data dir', async () => {
    for (const source of [
      '/',
      '/etc',
      '/etc/ssl',
      '/proc',
      '/proc/1',
      '/sys',
      '/dev',
      '/boot',
      '/root',
      '/var/run/docker.sock',
      '/run/docker.sock',
      '/var/run',
      '/run',
      '/var',
      open.dataDir,
      join(open.dataDir, 'code-sandbox'),
      join(open.dataDir, 'code-sandbox', 'sandboxes'),
      dirname(open.dataDir),
      join(roots, 'to-etc'),
    ]) {
      const answer = await open.call(ADA, 'POST', '/sandboxes', mountOf(source));
      expect(answer.status, source).toBe(403);
      expect(answer.json, source).toMatchObject({ code: 'mount_not_allowed' });
      const copy = await open.call(ADA, 'POST', '/sandboxes', { copies: [{ source, target: 'x' }] });
      expect(copy.status, source).toBe(403);
    }
    // The same root allows an ordinary directory.
    const allowed = await provision(mountOf(join(roots, 'ro')), ADA, open);
    expect(allowed.events.at(-1)?.data).toMatchObject({ state: 'ready' });
  });

  it('refuses a source that is not a directory, and targets outside /mnt', async () => {
    const file = await sandboxes.call(ADA, 'POST', '/sandboxes', mountOf(join(roots, 'settings.json')));
    expect(file.status).toBe(400);
    expect(file.json).toMatchObject({ code: 'mount_source_invalid' });
    for (const target of [
      '/',
      '/etc/x',
      '/workspace',
      '/workspace/x',
      '/.aibox',
      '/mnt',
      '/mnt/',
      '/mnt/../etc',
      '/mnt/.hidden',
      'mnt/x',
    ]) {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', {
        mounts: [{ source: join(roots, 'ro'), target }],
      });
      expect(answer.status, target).toBe(400);
      expect(answer.json, target).toMatchObject({ code: 'invalid_request' });
    }
    const nested = await sandboxes.call(ADA, 'POST', '/sandboxes', {
      mounts: [
        { source: join(roots, 'ro'), target: '/mnt/a' },
        { source: join(roots, 'rw'), target: '/mnt/a/b' },
      ],
    });
    expect(nested.status).toBe(400);
    for (const asFile of ['/etc/passwd', '../token', '/run/secrets/a/b', '/workspace/token', '.hidden']) {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', {
        credentials: [{ id: '00000000-0000-4000-8000-000000000000', as_file: asFile }],
      });
      expect(answer.status, asFile).toBe(400);
    }
  });

  it('refuses to bind a source swapped for a symlink after it was accepted, anywhere along its path', async () => {
    const parent = join(roots, 'swap');
    await mkdir(join(parent, 'data'), { recursive: true });
    await mkdir(join(outside, 'data'), { recursive: true });
    await writeFile(join(outside, 'data', 'planted.txt'), 'from outside\n');
    const { id } = await ready({
      mounts: [
        { source: join(parent, 'data'), target: '/mnt/data' },
        { source: join(roots, 'ro'), target: '/mnt/ro' },
      ],
    });
    expect(await run(id, ['ls', '/mnt/data'])).toMatchObject({ exit_code: 0, stdout: '' });

    // A directory on the way becomes a link to somewhere else: the same path now names another directory.
    await rename(parent, `${parent}-moved`);
    await symlink(outside, parent);
    const through = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
      argv: ['cat', '/mnt/data/planted.txt'],
    });
    expect(through.status).toBe(403);
    expect(through.json).toMatchObject({ code: 'mount_not_allowed' });

    // The source itself becomes a link.
    await rm(parent);
    await rename(`${parent}-moved`, parent);
    await rename(join(parent, 'data'), join(parent, 'data-moved'));
    await symlink('/etc', join(parent, 'data'));
    const linked = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
      argv: ['ls', '/mnt/data'],
    });
    expect(linked.status).toBe(403);
    expect(linked.json).toMatchObject({ code: 'mount_not_allowed' });

    // Put back, the directory that was checked binds again.
    await rm(join(parent, 'data'));
    await rename(join(parent, 'data-moved'), join(parent, 'data'));
    expect(await run(id, ['ls', '/mnt/data'])).toMatchObject({ exit_code: 0 });
    await remove(id);
  });

  it('fails a copy past SANDBOX_COPY_MAX_BYTES with copy_too_large, leaving nothing', async () => {
    const { id, events } = await provision(
      { copies: [{ source: join(roots, 'project'), target: 'big' }] },
      ADA,
      open,
    );
    expect(events.find((event) => event.event === 'provisioning_failed')?.data).toMatchObject({
      step: 'MountLocalDirs',
      code: 'copy_too_large',
    });
    expect(existsSync(sandboxDir(open, id))).toBe(false);
  });
});
