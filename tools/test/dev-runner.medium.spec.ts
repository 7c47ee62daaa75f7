import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  DevRunnerError,
  discoverServices,
  startMesh,
  type Mesh,
  type StartMeshOptions,
} from '../src/dev/index.js';
import {
  createFakeRepo,
  eventually,
  freePorts,
  isAlive,
  recordedEnv,
  recordedPid,
  type FakeRepo,
  type FixtureService,
} from './dev-fixtures.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO_ROOT, 'tools', 'dist', 'dev', 'main.js');

const realServices = await discoverServices(REPO_ROOT);
const repos: FakeRepo[] = [];
const meshes: Mesh[] = [];

afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.stop()));
  await Promise.all(repos.splice(0).map((repo) => repo.remove()));
});

async function fakeRepo(services: FixtureService[]): Promise<FakeRepo> {
  const repo = await createFakeRepo(services);
  repos.push(repo);
  return repo;
}

/** Starts a mesh on a fake repo, capturing its output; the shell env is the test's own plus `env`. */
async function start(
  repo: FakeRepo,
  options: Partial<StartMeshOptions> & { env?: Record<string, string> } = {},
): Promise<{ mesh: Mesh; lines: string[] }> {
  const lines: string[] = [];
  const mesh = await startMesh({
    rootDir: repo.root,
    colour: false,
    readyTimeoutMs: 15_000,
    stopGraceMs: 2_000,
    ...options,
    env: { PATH: process.env['PATH'], AIBOX_DATA_DIR: repo.dataDir, ...options.env },
    write: (line) => lines.push(line),
  });
  meshes.push(mesh);
  return { mesh, lines };
}

/** Like `start`, for a start-up that must fail: returns the error and the output. */
async function startFailing(
  repo: FakeRepo,
  options: Partial<StartMeshOptions> = {},
): Promise<{ error: DevRunnerError; lines: string[] }> {
  const lines: string[] = [];
  try {
    const mesh = await startMesh({
      rootDir: repo.root,
      colour: false,
      readyTimeoutMs: 15_000,
      stopGraceMs: 2_000,
      ...options,
      env: { PATH: process.env['PATH'], AIBOX_DATA_DIR: repo.dataDir },
      write: (line) => lines.push(line),
    });
    meshes.push(mesh);
  } catch (error) {
    expect(error).toBeInstanceOf(DevRunnerError);
    return { error: error as DevRunnerError, lines };
  }
  throw new Error('the mesh started although it should not have');
}

async function pidOf(repo: FakeRepo, file: string): Promise<number> {
  const pid = await recordedPid(repo, file);
  expect(pid, `${file} was never written`).toBeTypeOf('number');
  return pid ?? 0;
}

describe('startMesh', () => {
  it('starts services in order, each only once the previous answers /readyz, and stops them all', async () => {
    const [first = 0, second = 0] = await freePorts(2);
    const repo = await fakeRepo([
      // Declared in reverse on purpose: order, not folder order, decides.
      {
        name: 'gateway',
        port: second,
        order: 100,
        behaviour: { checkPeer: `http://127.0.0.1:${first}/readyz` },
      },
      { name: 'identity', port: first, order: 10, behaviour: { readyAfterMs: 700 } },
    ]);

    const { mesh, lines } = await start(repo);

    expect(mesh.services.map((service) => service.name)).toEqual(['identity', 'gateway']);
    const identityReady = lines.findIndex((line) => /^dev\s+\| identity ready at /.test(line));
    const gatewayStarting = lines.findIndex((line) => /^dev\s+\| starting gateway/.test(line));
    expect(identityReady).toBeGreaterThanOrEqual(0);
    expect(gatewayStarting).toBeGreaterThan(identityReady);
    await eventually(() => lines.some((line) => line.includes('peer status')));
    expect(lines).toContainEqual(expect.stringMatching(/^gateway\s+\| peer status 200$/));
    expect(mesh.gatewayUrl).toBe(`http://127.0.0.1:${second}`);
    expect(lines).toContain(`dev      | aibox: http://127.0.0.1:${second}`);

    const gatewayEnv = await recordedEnv(repo, 'gateway');
    expect(gatewayEnv['PORT']).toBe(String(second));
    expect(gatewayEnv['cwd']).toBe(repo.root);
    expect(gatewayEnv['AIBOX_ENV']).toBe('development');

    const pids = mesh.services.map((service) => service.pid);
    expect(pids.every(isAlive)).toBe(true);
    await expect(mesh.stop()).resolves.toEqual({ reason: 'stopped' });
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('prefixes every line with the service name and renders pino lines compactly', async () => {
    const [port = 0] = await freePorts(1);
    const pino = JSON.stringify({
      level: 40,
      time: Date.UTC(2025, 0, 2, 3, 4, 5, 6),
      pid: 1,
      hostname: 'box',
      msg: 'slow answer',
      turn_id: 'turn-7',
      tenant_id: 'acme',
      user_id: 'u-1',
    });
    const services = [{ name: 'memory', port, order: 30, behaviour: { lines: ['plain hello', pino] } }];

    const compact = await start(await fakeRepo(services));
    await compact.mesh.stop();
    expect(compact.lines).toContain('memory | plain hello');
    const rendered = compact.lines.find((line) => line.includes('slow answer'));
    expect(rendered).toMatch(
      /^memory \| \d\d:\d\d:\d\d\.006 WARN {2}slow answer turn_id=turn-7 tenant_id=acme user_id=u-1$/,
    );
    expect(compact.lines.some((line) => line.includes('"hostname"'))).toBe(false);

    const raw = await start(await fakeRepo(services), { rawLogs: true });
    await raw.mesh.stop();
    expect(raw.lines).toContain(`memory | ${pino}`);
  });

  it('generates dev keys once, reuses them, and lets the shell environment win', async () => {
    const [port = 0] = await freePorts(1);
    const repo = await fakeRepo([{ name: 'audit', port, order: 50 }]);
    const keysFile = join(repo.dataDir, 'dev-keys.env');

    const first = await start(repo);
    await first.mesh.stop();
    const content = await readFile(keysFile, 'utf8');
    expect((await stat(keysFile)).mode & 0o777).toBe(0o600);
    const firstEnv = await recordedEnv(repo, 'audit');
    for (const name of ['AIBOX_PRINCIPAL_KEYS', 'AIBOX_CAPTOKEN_KEYS', 'AUDIT_SIGNING_KEYS'] as const) {
      expect(firstEnv[name]).toMatch(/^dev-\d{8}=[A-Za-z0-9+/]{43}=$/);
      expect(content).toContain(`${name}=${firstEnv[name] ?? 'missing'}\n`);
    }
    expect(Buffer.from(firstEnv['AIBOX_CREDENTIALS_KEY'] ?? '', 'base64')).toHaveLength(32);
    expect(firstEnv['INTERNAL_AUTH_CLIENT_SECRET']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(content).toContain(
      `INTERNAL_AUTH_CLIENT_SECRET=${firstEnv['INTERNAL_AUTH_CLIENT_SECRET'] ?? 'missing'}\n`,
    );
    expect(firstEnv['AIBOX_PRINCIPAL_KEYS']).not.toBe(firstEnv['AIBOX_CAPTOKEN_KEYS']);
    expect(firstEnv['AUDIT_SIGNING_KEYS']).not.toBe(firstEnv['AIBOX_PRINCIPAL_KEYS']);
    expect(first.lines).toContainEqual(expect.stringMatching(/dev keys generated into .*dev-keys\.env$/));

    const second = await start(repo);
    await second.mesh.stop();
    expect(await readFile(keysFile, 'utf8')).toBe(content);
    expect(await recordedEnv(repo, 'audit')).toEqual(firstEnv);
    expect(second.lines).toContainEqual(expect.stringMatching(/dev keys read from .*dev-keys\.env$/));

    const shellKeys = `shell=${Buffer.alloc(32, 7).toString('base64')}`;
    const third = await start(repo, { env: { AIBOX_PRINCIPAL_KEYS: shellKeys, HOST: '0.0.0.0' } });
    await third.mesh.stop();
    const thirdEnv = await recordedEnv(repo, 'audit');
    expect(thirdEnv['AIBOX_PRINCIPAL_KEYS']).toBe(shellKeys);
    expect(thirdEnv['HOST']).toBe('0.0.0.0');
    expect(thirdEnv['AIBOX_CAPTOKEN_KEYS']).toBe(firstEnv['AIBOX_CAPTOKEN_KEYS']);
    expect(await readFile(keysFile, 'utf8')).toBe(content);
  });

  it('has the gateway serve the built web app from frontend/dist, says so when it is not built, and lets the shell win', async () => {
    const [identityPort = 0, gatewayPort = 0] = await freePorts(2);
    const repo = await fakeRepo([
      { name: 'identity', port: identityPort, order: 10 },
      { name: 'gateway', port: gatewayPort, order: 100 },
    ]);
    const notBuilt =
      /^dev\s+\| the web app is not built \(no frontend\/dist\/index\.html; make build builds it\): the gateway starts without it$/;

    const before = await start(repo);
    await before.mesh.stop();
    expect(before.lines.filter((line) => notBuilt.test(line))).toHaveLength(1);
    expect((await recordedEnv(repo, 'gateway'))['GATEWAY_STATIC_DIR']).toBeUndefined();

    const dist = join(repo.root, 'frontend', 'dist');
    await mkdir(dist, { recursive: true });
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>aibox</title>');
    const built = await start(repo);
    await built.mesh.stop();
    expect(built.lines.some((line) => notBuilt.test(line))).toBe(false);
    expect((await recordedEnv(repo, 'gateway'))['GATEWAY_STATIC_DIR']).toBe(dist);

    const elsewhere = join(repo.outDir, 'other-spa');
    const shell = await start(repo, { env: { GATEWAY_STATIC_DIR: elsewhere } });
    await shell.mesh.stop();
    expect((await recordedEnv(repo, 'gateway'))['GATEWAY_STATIC_DIR']).toBe(elsewhere);
  });

  it('reports a service that exits before it is ready with its last 20 lines, and stops the others', async () => {
    const [first = 0, second = 0] = await freePorts(2);
    const lines = Array.from({ length: 30 }, (_, i) => `boot step ${i + 1}`);
    const repo = await fakeRepo([
      { name: 'audit', port: first, order: 10 },
      { name: 'memory', port: second, order: 20, behaviour: { lines, exitBeforeReady: 3 } },
    ]);

    const { error } = await startFailing(repo);

    expect(error.code).toBe('service_exited');
    expect(error.details.service).toBe('memory');
    expect(error.details.lastLines).toEqual(lines.slice(10));
    expect(error.message).toContain('memory exited with code 3 before it became ready');
    expect(error.message).toContain('  boot step 30');
    expect(error.message).not.toContain('boot step 10\n');
    expect(isAlive(await pidOf(repo, 'audit.pid'))).toBe(false);
  });

  it('reports a service that dies after start-up, stops the others and ends the mesh', async () => {
    const [first = 0, second = 0] = await freePorts(2);
    const repo = await fakeRepo([
      { name: 'audit', port: first, order: 10 },
      { name: 'guardrail', port: second, order: 20, behaviour: { exitAfterReadyMs: 300, exitCode: 7 } },
    ]);
    const { mesh, lines } = await start(repo);
    const auditPid = await pidOf(repo, 'audit.pid');

    const outcome = await mesh.done;

    expect(outcome).toMatchObject({ reason: 'service_exited', service: 'guardrail', code: 7, signal: null });
    expect(outcome.reason === 'service_exited' ? outcome.lastLines.at(-1) : undefined).toBe('crashing now');
    expect(lines).toContainEqual(
      expect.stringMatching(/^dev\s+\| guardrail exited with code 7\. Its last lines:$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^dev\s+\| {3}crashing now$/));
    expect(isAlive(auditPid)).toBe(false);
  });

  it('stop() kills a service that ignores SIGTERM after the grace period, with what it started', async () => {
    const [port = 0] = await freePorts(1);
    const repo = await fakeRepo([
      { name: 'knowledge', port, order: 40, behaviour: { ignoreSigterm: true, grandchild: true } },
    ]);
    const { mesh, lines } = await start(repo, { stopGraceMs: 500 });
    const pid = await pidOf(repo, 'knowledge.pid');
    const grandchild = await pidOf(repo, 'knowledge.grandchild.pid');
    expect(isAlive(pid) && isAlive(grandchild)).toBe(true);

    await expect(mesh.stop()).resolves.toEqual({ reason: 'stopped' });

    expect(lines).toContain('knowledge | ignoring SIGTERM');
    expect(lines).toContainEqual(
      expect.stringMatching(/knowledge did not stop within 0\.5 s of SIGTERM; killed it$/),
    );
    expect(isAlive(pid)).toBe(false);
    await eventually(() => !isAlive(grandchild));
  });

  it('names a port that is already taken and starts nothing', async () => {
    const [free = 0] = await freePorts(1);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const taken = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const repo = await fakeRepo([
        { name: 'audit', port: free, order: 10 },
        { name: 'gateway', port: taken, order: 100 },
      ]);

      const { error } = await startFailing(repo);

      expect(error.code).toBe('port_taken');
      expect(error.details.ports).toEqual([taken]);
      expect(error.message).toContain(`port ${taken} (gateway HTTP) is already in use`);
      expect(await recordedPid(repo, 'audit.pid')).toBeUndefined();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('gives up on a service that never becomes ready, naming it, and stops it', async () => {
    const [port = 0] = await freePorts(1);
    const repo = await fakeRepo([{ name: 'memory', port, order: 30, behaviour: { neverReady: true } }]);

    const { error } = await startFailing(repo, { readyTimeoutMs: 1_500 });

    expect(error.code).toBe('service_not_ready');
    expect(error.message).toContain(
      `memory did not answer 200 on http://127.0.0.1:${port}/readyz within 1.5 s`,
    );
    expect(error.details.lastLines).toEqual([`listening on ${port}`]);
    expect(isAlive(await pidOf(repo, 'memory.pid'))).toBe(false);
  });
});

describe('the dev CLI', () => {
  beforeAll(() => {
    // The CLI runs from its build, like `make dev`; an up-to-date build is a no-op. Type errors elsewhere in
    // the workspace do not stop the emit, so only a missing file below fails the suite.
    spawnSync(process.execPath, ['node_modules/tsgo/bin/tsc', '-b', 'packages/identity', 'tools'], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    });
  }, 120_000);

  async function runCli(
    args: string[],
    env: Record<string, string>,
    onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => undefined,
  ): Promise<{ code: number | null; stdout: string[]; stderr: string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'], ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: string[] = [];
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (pending + chunk).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        stdout.push(line);
        onLine(line, child);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stdout, stderr };
  }

  it.skipIf(realServices.length > 0)(
    'says in one line that the repository has no services yet and exits 0',
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'aibox-dev-cli-'));
      try {
        const { code, stdout, stderr } = await runCli([], { AIBOX_DATA_DIR: dataDir });
        expect(stderr).toBe('');
        expect(stdout).toEqual([expect.stringMatching(/^dev \| no services to start: /)]);
        expect(code).toBe(0);
        await expect(stat(join(dataDir, 'dev-keys.env'))).resolves.toBeTruthy();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );

  it('stops every service on SIGTERM and exits 0', async () => {
    const [port = 0] = await freePorts(1);
    const repo = await fakeRepo([{ name: 'audit', port, order: 50 }]);

    const { code, stdout, stderr } = await runCli(
      ['--root', repo.root],
      { AIBOX_DATA_DIR: repo.dataDir },
      (line, child) => {
        if (line.endsWith('Ctrl-C stops everything')) {
          child.kill('SIGTERM');
        }
      },
    );

    expect(stderr).toBe('');
    expect(stdout).toContainEqual(expect.stringMatching(/^dev {3}\| audit ready at /));
    expect(stdout.at(-1)).toMatch(/every service has stopped$/);
    expect(code).toBe(0);
    expect(isAlive(await pidOf(repo, 'audit.pid'))).toBe(false);
  });
});
