import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DockerRuntime,
  removeOrphanContainers,
  type ContainerSandbox,
} from '../src/runtimes/docker.runtime.js';
import type { ExecEnd, SandboxResources } from '../src/runtimes/sandbox-runtime.js';

import { containerRuntimeUsable, SANDBOX_IMAGE } from './support/sandbox.js';

/**
 * The `docker` and `gvisor` runtimes against the real daemon and the sandbox image: each test runs programs
 * in a container and checks what their user would notice.
 */
/** One label prefix per run: a real service's containers and other runs are never touched. */
const LABEL_PREFIX = `aibox.sandbox-test-${process.pid}`;
const DEFAULTS: SandboxResources = { cpus: 1, memoryMb: 256, pids: 64, diskMb: 64 };
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
/** Docker's containers under cgroup v1 with the cgroupfs driver (this machine's and CI's). */
const CPUACCT_DOCKER = '/sys/fs/cgroup/cpuacct/docker';

const runtimes = [
  ['docker', await containerRuntimeUsable('docker')],
  ['gvisor', await containerRuntimeUsable('gvisor')],
] as const;

const logger = {
  warn: () => undefined,
  info: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
const roots: string[] = [];

afterAll(async () => {
  await removeOrphanContainers(docker, LABEL_PREFIX, new Set()).catch(() => undefined);
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

interface Outcome extends ExecEnd {
  readonly stdout: string;
  readonly stderr: string;
}

describe.each(runtimes)('%s runtime', (name, present) => {
  const runtime = new DockerRuntime({ name, image: SANDBOX_IMAGE, labelPrefix: LABEL_PREFIX, logger });
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), `aibox-${name}-`));
    roots.push(root);
  });

  async function sandbox(resources: Partial<SandboxResources> = {}): Promise<ContainerSandbox> {
    const id = `sbx-${randomUUID().slice(0, 8)}`;
    await mkdir(join(root, id, 'workspace'), { recursive: true, mode: 0o700 });
    const made: ContainerSandbox = {
      id,
      workspaceDir: join(root, id, 'workspace'),
      resources: { ...DEFAULTS, ...resources },
      env: { GREETING: 'hello' },
    };
    await runtime.create(made);
    return made;
  }

  async function start(
    target: ContainerSandbox,
    argv: readonly string[],
    options: { timeoutS?: number; stdin?: string } = {},
  ): Promise<{ execId: string; dir: string; ended: Promise<ExecEnd> }> {
    const execId = `exec-${randomUUID().slice(0, 8)}`;
    const dir = join(root, target.id, 'execs', execId);
    const handle = await runtime.exec(target, {
      execId,
      argv,
      cwd: '/workspace',
      env: {},
      timeoutS: options.timeoutS ?? 30,
      dir,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
    expect(handle.pid).toBeGreaterThan(0);
    return { execId, dir, ended: handle.ended };
  }

  async function run(
    target: ContainerSandbox,
    argv: readonly string[],
    options: { timeoutS?: number; stdin?: string } = {},
  ): Promise<Outcome> {
    const { dir, ended } = await start(target, argv, options);
    const end = await ended;
    return {
      ...end,
      stdout: await readFile(join(dir, 'stdout'), 'utf8'),
      stderr: await readFile(join(dir, 'stderr'), 'utf8'),
    };
  }

  const sh = (script: string): string[] => ['/bin/sh', '-c', script];

  describe.runIf(present)('against the daemon', () => {
    let shared: ContainerSandbox;
    beforeAll(async () => {
      shared = await sandbox();
    });

    it('is available', async () => {
      expect(await runtime.available()).toEqual({ ok: true });
    });

    it('runs a program and records its output and exit code', async () => {
      const result = await run(shared, ['echo', 'hi']);
      expect(result).toMatchObject({ exitCode: 0, timedOut: false, stdout: 'hi\n' });
      expect(await run(shared, ['python3', '-c', 'print(6 * 7)'])).toMatchObject({
        exitCode: 0,
        stdout: '42\n',
      });
      expect(await run(shared, sh('cat; echo "$GREETING"; exit 3'), { stdin: 'in\n' })).toMatchObject({
        exitCode: 3,
        stdout: 'in\nhello\n',
      });
    });

    it('creates idempotently, reusing the running container', async () => {
      await runtime.create(shared);
      expect(await run(shared, ['true'])).toMatchObject({ exitCode: 0 });
    });

    it('has no network: the host loopback is unreachable and only lo exists', async () => {
      const server: Server = createServer((socket) => socket.end('reached\n'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        // 1.1.1.1 is never reached: with no interface but lo, the connect fails inside, nothing is sent.
        const probe = `import socket\nfor host, port in (('127.0.0.1', ${port}), ('1.1.1.1', 80)):\n  try:\n    socket.create_connection((host, port), timeout=2)\n    print(host, 'connected')\n  except OSError as e:\n    print(host, 'refused')`;
        expect(await run(shared, ['python3', '-c', probe])).toMatchObject({
          exitCode: 0,
          stdout: '127.0.0.1 refused\n1.1.1.1 refused\n',
        });
      } finally {
        server.close();
      }
      const devices = await run(shared, sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"));
      expect(devices.stdout.trim().split('\n')).toEqual(['lo']);
    });

    it('shows none of the host filesystem', async () => {
      const result = await run(
        shared,
        sh(
          'for p in /root/.bashrc /work /var/run/docker.sock /run/docker.sock; do [ -e "$p" ] && echo "$p"; done; true',
        ),
      );
      expect(result).toMatchObject({ exitCode: 0, stdout: '' });
    });

    it("sees neither another sandbox's workspace nor its processes", async () => {
      const other = await sandbox();
      const sleeper = await start(other, ['sleep', '314159']);
      await writeFile(join(other.workspaceDir, 'secret.txt'), 'the other sandbox');
      const look = await run(
        shared,
        sh(
          `[ -e ${other.workspaceDir} ] && echo host-path; cat /workspace/secret.txt 2>/dev/null; for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done | grep -c 'sleep 31415[9]'`,
        ),
      );
      expect(look.stdout).toBe('0\n');
      await runtime.kill(other, sleeper.execId);
      await runtime.destroy(other);
    });

    it('caps a file at the disk budget', async () => {
      const small = await sandbox({ diskMb: 1 });
      const big = await run(small, sh('head -c 3000000 /dev/zero > /workspace/big'));
      expect(big.exitCode).not.toBe(0);
      expect(big.exitCode).not.toBeNull();
      expect((await stat(join(small.workspaceDir, 'big'))).size).toBeLessThanOrEqual(1024 * 1024);
      await runtime.destroy(small);
    });

    it.runIf(existsSync(CPUACCT_DOCKER))('throttles a CPU spinner to its quota', async () => {
      const small = await sandbox({ cpus: 0.2 });
      const spinner = await start(small, sh('while :; do :; done'));
      const { Id } = await docker.getContainer(`aibox-sandbox-${small.id}`).inspect();
      const usage = join(CPUACCT_DOCKER, Id, 'cpuacct.usage');
      await sleep(300);
      const before = { cpu: BigInt(await readFile(usage, 'utf8')), wall: process.hrtime.bigint() };
      await sleep(1_500);
      const after = { cpu: BigInt(await readFile(usage, 'utf8')), wall: process.hrtime.bigint() };
      // The container's whole CPU (under gVisor its kernel's too) holds to about a fifth of one core.
      const share = Number(after.cpu - before.cpu) / Number(after.wall - before.wall);
      expect(share).toBeGreaterThan(0.05);
      expect(share).toBeLessThan(0.6);
      await runtime.kill(small, spinner.execId);
      await runtime.destroy(small);
    });

    it('has a read-only root; /workspace and /tmp are writable', async () => {
      const result = await run(
        shared,
        sh(
          'touch /etc/x /usr/x /x 2>/dev/null && echo wrote; echo ok > /workspace/f && echo ok > /tmp/f && cat /workspace/f /tmp/f',
        ),
      );
      expect(result).toMatchObject({ exitCode: 0, stdout: 'ok\nok\n' });
      expect(await readFile(join(shared.workspaceDir, 'f'), 'utf8')).toBe('ok\n');
    });

    it('contains a fork bomb within the pids limit, and the container survives', async () => {
      const small = await sandbox({ pids: 32 });
      const bomb = await run(small, ['bash', '-c', 'f() { f | f & }; f; sleep 3'], { timeoutS: 2 });
      expect(bomb.timedOut).toBe(true);
      expect(await run(small, ['echo', 'alive'])).toMatchObject({ exitCode: 0, stdout: 'alive\n' });
      await runtime.destroy(small);
    });

    it('kills a memory hog', async () => {
      const small = await sandbox({ memoryMb: 64 });
      const hog = await run(small, ['python3', '-c', 'b = []\nwhile True: b.append(bytearray(8 << 20))']);
      expect(hog.exitCode).toBe(137);
      expect(await run(small, ['echo', 'alive'])).toMatchObject({ exitCode: 0, stdout: 'alive\n' });
      await runtime.destroy(small);
    });

    it('cancels an exec with everything it started, setsid children included', async () => {
      const { execId, ended } = await start(shared, sh('sleep 300 & setsid sleep 300 & wait'));
      await expect.poll(() => runtime.running(shared, execId)).toBe(true);
      await runtime.kill(shared, execId);
      expect(await ended).toEqual({ exitCode: null, timedOut: false });
      expect(await runtime.running(shared, execId)).toBe(false);
      const left = await run(shared, ['ps', '-eo', 'args']);
      expect(left.stdout).not.toContain('sleep 300');
    });

    it('times out an exec', async () => {
      expect(await run(shared, ['sleep', '300'], { timeoutS: 1 })).toMatchObject({
        exitCode: null,
        timedOut: true,
      });
    });

    it('destroys the container, idempotently', async () => {
      const doomed = await sandbox();
      await runtime.destroy(doomed);
      await runtime.destroy(doomed);
      const inspected = docker.getContainer(`aibox-sandbox-${doomed.id}`).inspect();
      await expect(inspected).rejects.toMatchObject({ statusCode: 404 });
    });
  });
});
