import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { needs } from '@aibox/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { ProcessRuntime, type ProcessRuntimeLogger } from '../src/runtimes/process.runtime.js';
import type {
  ExecEnd,
  ExecHandle,
  RuntimeSandbox,
  SandboxResources,
} from '../src/runtimes/sandbox-runtime.js';

/**
 * The `process` runtime against the real kernel: bubblewrap namespaces and the machine's cgroups. Each test
 * runs programs in a sandbox and checks what their user would notice.
 */
const bubblewrap = await needs('bubblewrap');

const CGROUP_ROOT = '/sys/fs/cgroup';
const V1_CONTROLLERS = ['pids', 'memory', 'cpu', 'cpuacct', 'freezer'] as const;
const cgroupV1 = V1_CONTROLLERS.every((controller) =>
  existsSync(join(CGROUP_ROOT, controller, 'cgroup.procs')),
);
const UNIFIED_ROOT = join(CGROUP_ROOT, 'unified');
const cgroupV2 = existsSync(join(UNIFIED_ROOT, 'cgroup.controllers'));
/** One prefix per test run, so a real service's sandboxes and other runs are never touched. */
const PREFIX = `aibox-sandbox-test-${process.pid}`;
const DEFAULTS: SandboxResources = { cpus: 1, memoryMb: 256, pids: 64, diskMb: 64 };

interface Logged {
  readonly level: string;
  readonly msg: string;
}

function recordingLogger(into: Logged[]): ProcessRuntimeLogger {
  const at =
    (level: string) =>
    (_obj: object, msg: string): void => {
      into.push({ level, msg });
    };
  return { warn: at('warn'), info: at('info'), error: at('error'), debug: at('debug') };
}

interface Run {
  readonly execId: string;
  readonly dir: string;
  readonly handle: ExecHandle;
}

interface Outcome extends ExecEnd {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCodeFile: string | undefined;
}

/** Sandboxes, runtimes and temporary directories of one test, all released afterwards. */
class Lab {
  readonly logs: Logged[] = [];
  private readonly sandboxes: { runtime: ProcessRuntime; sandbox: RuntimeSandbox }[] = [];
  private readonly dirs: string[] = [];

  constructor(readonly cgroupRoot = CGROUP_ROOT) {}

  runtime(): ProcessRuntime {
    return new ProcessRuntime({
      cgroupRoot: this.cgroupRoot,
      cgroupPrefix: PREFIX,
      logger: recordingLogger(this.logs),
    });
  }

  async sandbox(
    runtime: ProcessRuntime,
    resources: Partial<SandboxResources> = {},
    env: Record<string, string> = {},
  ): Promise<RuntimeSandbox> {
    const sandbox: RuntimeSandbox = {
      id: `sbx-${randomUUID().slice(0, 8)}`,
      workspaceDir: await this.tempDir('aibox-workspace-'),
      resources: { ...DEFAULTS, ...resources },
      env,
    };
    await runtime.create(sandbox);
    this.sandboxes.push({ runtime, sandbox });
    return sandbox;
  }

  async start(
    runtime: ProcessRuntime,
    sandbox: RuntimeSandbox,
    argv: readonly string[],
    options: { stdin?: string; env?: Record<string, string>; timeoutS?: number; cwd?: string } = {},
  ): Promise<Run> {
    const execId = `exec-${randomUUID().slice(0, 8)}`;
    const dir = await this.tempDir('aibox-exec-');
    const handle = await runtime.exec(sandbox, {
      execId,
      argv,
      cwd: options.cwd ?? '/workspace',
      env: options.env ?? {},
      timeoutS: options.timeoutS ?? 30,
      dir,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
    return { execId, dir, handle };
  }

  async run(
    runtime: ProcessRuntime,
    sandbox: RuntimeSandbox,
    argv: readonly string[],
    options: { stdin?: string; env?: Record<string, string>; timeoutS?: number; cwd?: string } = {},
  ): Promise<Outcome> {
    return outcome(await this.start(runtime, sandbox, argv, options));
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  async close(): Promise<void> {
    for (const { runtime, sandbox } of this.sandboxes.splice(0)) await runtime.destroy(sandbox);
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    // A cgroup root that is a plain directory (the no-cgroups case) is this test's own.
    if (!this.cgroupRoot.startsWith(CGROUP_ROOT)) await rm(this.cgroupRoot, { recursive: true, force: true });
  }
}

async function outcome(run: Run): Promise<Outcome> {
  const end = await run.handle.ended;
  return {
    ...end,
    stdout: await readFile(join(run.dir, 'stdout'), 'utf8'),
    stderr: await readFile(join(run.dir, 'stderr'), 'utf8'),
    exitCodeFile: await readFile(join(run.dir, 'exit_code'), 'utf8').catch(() => undefined),
  };
}

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function cmdline(pid: number): Promise<string | undefined> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8')
    .then((text) => text.split('\0').join(' ').trim())
    .catch(() => undefined);
}

/** Host processes in a cgroup and the groups below it. */
async function groupPids(dir: string): Promise<number[]> {
  const own = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    children.filter((entry) => entry.isDirectory()).map((entry) => groupPids(join(dir, entry.name))),
  );
  return [
    ...own
      .split('\n')
      .filter((line) => line !== '')
      .map(Number),
    ...nested.flat(),
  ];
}

/** Host pids descending from `root` (by parent pid), itself excluded. */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(Number(name), parent);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const current = queue.shift();
    for (const [pid, parent] of parents) {
      if (parent === current && !found.includes(pid)) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

/** Whether a pid is a live process (not gone, not a zombie). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function sleepers(pids: readonly number[]): Promise<number[]> {
  const found: number[] = [];
  for (const pid of pids) if ((await cmdline(pid)) === 'sleep 300') found.push(pid);
  return found;
}

let lab: Lab;

afterEach(async () => {
  await lab.close();
});

afterAll(async () => {
  const roots = [...V1_CONTROLLERS.map((controller) => join(CGROUP_ROOT, controller)), UNIFIED_ROOT];
  await Promise.all(roots.map((root) => rmdir(join(root, PREFIX)).catch(() => undefined)));
});

describe.runIf(bubblewrap)('process runtime', () => {
  it('is available here', async () => {
    lab = new Lab();
    expect(await lab.runtime().available()).toEqual({ ok: true });
  });

  it('says why it is unavailable without bubblewrap', async () => {
    lab = new Lab();
    const runtime = new ProcessRuntime({
      bwrapPath: '/nonexistent/bwrap',
      logger: recordingLogger(lab.logs),
    });
    expect(await runtime.available()).toEqual({ ok: false, reason: 'no bubblewrap at /nonexistent/bwrap' });
  });

  it('runs a program and records its output and status', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);

    const hi = await lab.run(runtime, sandbox, ['echo', 'hi']);
    expect(hi).toMatchObject({
      stdout: 'hi\n',
      stderr: '',
      exitCode: 0,
      timedOut: false,
      exitCodeFile: '0\n',
    });

    const failing = await lab.run(runtime, sandbox, ['sh', '-c', 'echo oops >&2; exit 3']);
    expect(failing).toMatchObject({ stderr: 'oops\n', exitCode: 3 });

    const missing = await lab.run(runtime, sandbox, ['no-such-program']);
    expect(missing.exitCode).toBe(127);

    expect(await lab.run(runtime, sandbox, ['cat'], { stdin: 'line one\nline two' })).toMatchObject({
      stdout: 'line one\nline two',
      exitCode: 0,
    });
    expect(await lab.run(runtime, sandbox, ['cat'])).toMatchObject({ stdout: '', exitCode: 0 });
  });

  it('runs as the unprivileged sandbox user with only the sandbox and exec environment', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime, {}, { FROM_SANDBOX: 'a', SHARED: 'sandbox' });
    process.env['AIBOX_TEST_SECRET'] = 'do-not-leak';
    try {
      const who = await lab.run(
        runtime,
        sandbox,
        ['sh', '-c', 'id -un; id -u; hostname; pwd; grep CapEff /proc/self/status'],
        {
          cwd: '/tmp',
        },
      );
      expect(who.stdout).toBe('sandbox\n1000\nsandbox\n/tmp\nCapEff:\t0000000000000000\n');

      const env = await lab.run(runtime, sandbox, ['env'], { env: { SHARED: 'exec' } });
      expect(
        env.stdout
          .split('\n')
          .filter((line) => line !== '')
          .sort(),
      ).toEqual([
        'FROM_SANDBOX=a',
        'HOME=/workspace',
        'LANG=C.UTF-8',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'PWD=/workspace',
        'SHARED=exec',
      ]);

      // Not through bwrap's own processes either, which the sandbox can see.
      const everywhere = await lab.run(runtime, sandbox, [
        'sh',
        '-c',
        'cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline',
      ]);
      expect(everywhere.exitCode).toBe(0);
      expect(everywhere.stdout).not.toContain('do-not-leak');
      expect(everywhere.stdout).not.toContain(process.cwd());
    } finally {
      delete process.env['AIBOX_TEST_SECRET'];
    }
  });

  it('reports a cwd that does not exist in stderr', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);
    const lost = await lab.run(runtime, sandbox, ['true'], { cwd: '/workspace/nowhere' });
    expect(lost.exitCode).toBeNull();
    expect(lost.stderr).toMatch(/chdir/i);
  });

  it('has no network: neither the host loopback nor the outside is reachable', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);
    let connections = 0;
    const server: Server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const tryConnect = (host: string, to: number) =>
        `if timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${to}' 2>/dev/null; then echo ${host} open; else echo ${host} closed; fi`;
      const probe = await lab.run(runtime, sandbox, [
        'sh',
        '-c',
        `${tryConnect('127.0.0.1', port)}; ${tryConnect('1.1.1.1', 80)}; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '`,
      ]);
      expect(probe.stdout).toBe('127.0.0.1 closed\n1.1.1.1 closed\nlo\n');
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });

  it('hides the host filesystem and other sandboxes and keeps everything but /workspace and /tmp read-only', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);
    const other = await lab.sandbox(runtime);
    await writeFile(join(other.workspaceDir, 'secret.txt'), 'other tenant');
    await writeFile(join(sandbox.workspaceDir, 'mine.txt'), 'mine');

    const hidden = [
      '/root',
      '/work',
      '/home',
      '/var',
      '/run',
      '/var/run/docker.sock',
      '/etc/shadow',
      '/etc/ssl/private',
    ];
    const writes = await lab.start(runtime, sandbox, [
      'sh',
      '-c',
      'for p in /x /etc/x /usr/x /bin/x /.aibox/x /proc/x; do touch "$p" 2>/dev/null && echo "wrote $p"; done; touch /workspace/made /tmp/made && echo ok',
    ]);
    expect((await outcome(writes)).stdout).toBe('ok\n');
    expect((await stat(join(sandbox.workspaceDir, 'made'))).isFile()).toBe(true);

    // Another sandbox's workspace, another exec's directory, the host's files: none is there.
    const paths = [...hidden, other.workspaceDir, sandbox.workspaceDir, writes.dir];
    const look = await lab.run(runtime, sandbox, [
      'sh',
      '-c',
      `for p in ${paths.join(' ')}; do [ -e "$p" ] && echo "visible $p"; done; ls /workspace /.aibox; cat /proc/timer_list; exit 0`,
    ]);
    expect(look).toMatchObject({ exitCode: 0, stdout: '/.aibox:\nexec\n\n/workspace:\nmade\nmine.txt\n' });
  });

  it('lets the background processes of a program run on until the exec is killed', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);
    const run = await lab.start(runtime, sandbox, ['sh', '-c', 'sleep 300 & echo started']);
    expect(await outcome(run)).toMatchObject({ exitCode: 0, stdout: 'started\n' });
    expect(await runtime.running(sandbox, run.execId)).toBe(true);

    await runtime.kill(sandbox, run.execId);
    expect(await runtime.running(sandbox, run.execId)).toBe(false);
  });

  it('kills every process of an exec, including those that detached', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);
    const run = await lab.start(runtime, sandbox, [
      'sh',
      '-c',
      'sleep 300 & sleep 300 & setsid sleep 300 & wait',
    ]);
    const tree = await eventually(async () => {
      const pids = await sleepers(await descendants(run.handle.pid));
      return pids.length === 3 ? pids : undefined;
    }, 'three sleeps');
    expect(await runtime.running(sandbox, run.execId)).toBe(true);

    await runtime.kill(sandbox, run.execId);

    expect(await runtime.running(sandbox, run.execId)).toBe(false);
    for (const pid of tree) expect(await alive(pid)).toBe(false);
    expect(await run.handle.ended).toEqual({ exitCode: null, timedOut: false });
  });

  it('kills an exec that outlives its timeout', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime);
    const run = await lab.start(runtime, sandbox, ['sleep', '300'], { timeoutS: 1 });
    expect(await run.handle.ended).toEqual({ exitCode: null, timedOut: true });
    expect(await runtime.running(sandbox, run.execId)).toBe(false);
  });

  it('lets an exec outlive the runtime object that started it', async () => {
    lab = new Lab();
    const first = lab.runtime();
    const sandbox = await lab.sandbox(first);
    const finishing = await lab.start(first, sandbox, ['sh', '-c', 'sleep 1; echo done']);
    const killed = await lab.start(first, sandbox, ['sleep', '300']);

    const second = lab.runtime();
    expect(await second.running(sandbox, finishing.execId)).toBe(true);
    expect(await second.running(sandbox, killed.execId)).toBe(true);

    const status = await eventually(
      () => readFile(join(finishing.dir, 'exit_code'), 'utf8').catch(() => undefined),
      'the exit code',
    );
    expect(status).toBe('0\n');
    expect(await readFile(join(finishing.dir, 'stdout'), 'utf8')).toBe('done\n');
    await eventually(
      async () => ((await second.running(sandbox, finishing.execId)) ? undefined : true),
      'the end',
    );

    await second.kill(sandbox, killed.execId);
    expect(await second.running(sandbox, killed.execId)).toBe(false);
    expect(await killed.handle.ended).toEqual({ exitCode: null, timedOut: false });
  });

  it('caps a file at the disk budget', async () => {
    lab = new Lab();
    const runtime = lab.runtime();
    const sandbox = await lab.sandbox(runtime, { diskMb: 1 });
    const big = await lab.run(runtime, sandbox, ['sh', '-c', 'head -c 3000000 /dev/zero > /workspace/big']);
    expect(big.exitCode).not.toBe(0);
    expect(big.exitCode).not.toBeNull();
    expect((await stat(join(sandbox.workspaceDir, 'big'))).size).toBeLessThanOrEqual(1024 * 1024);

    const tmp = await lab.run(runtime, sandbox, ['sh', '-c', 'head -c 3000000 /dev/zero > /tmp/big']);
    expect(tmp.exitCode).not.toBe(0);
  });

  describe.runIf(cgroupV1)('with cgroup v1 limits', () => {
    it('contains a fork bomb within the sandbox pid limit', async () => {
      lab = new Lab();
      const runtime = lab.runtime();
      const sandbox = await lab.sandbox(runtime, { pids: 16 });
      const bomb = await lab.start(runtime, sandbox, [
        'sh',
        '-c',
        'i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i + 1)); done; wait',
      ]);
      await eventually(
        async () => ((await readFile(join(bomb.dir, 'stderr'), 'utf8')).includes('fork') ? true : undefined),
        'a refused fork',
      );
      const group = join(CGROUP_ROOT, 'pids', PREFIX, sandbox.id);
      expect((await groupPids(group)).length).toBeLessThanOrEqual(16);
      expect(Number(await readFile(join(group, 'pids.max'), 'utf8'))).toBe(16);

      await runtime.kill(sandbox, bomb.execId);
      expect(await runtime.running(sandbox, bomb.execId)).toBe(false);
      expect(await groupPids(group)).toEqual([]);
    });

    it('kills a memory hog inside its sandbox only', async () => {
      lab = new Lab();
      const runtime = lab.runtime();
      const sandbox = await lab.sandbox(runtime, { memoryMb: 64 });
      const hog = await lab.run(runtime, sandbox, ['python3', '-c', 'b = bytearray(1 << 30)']);
      expect(hog.exitCode).toBe(137);
      // The sandbox itself lives on.
      expect(await lab.run(runtime, sandbox, ['echo', 'still here'])).toMatchObject({
        stdout: 'still here\n',
      });
    });

    it('throttles a CPU spinner to its quota', async () => {
      lab = new Lab();
      const runtime = lab.runtime();
      const sandbox = await lab.sandbox(runtime, { cpus: 0.2 });
      const spinner = await lab.start(runtime, sandbox, ['sh', '-c', 'while :; do :; done']);
      const usage = join(CGROUP_ROOT, 'cpuacct', PREFIX, sandbox.id, spinner.execId, 'cpuacct.usage');
      await sleep(200);
      const before = { cpu: BigInt(await readFile(usage, 'utf8')), wall: process.hrtime.bigint() };
      await sleep(1_500);
      const after = { cpu: BigInt(await readFile(usage, 'utf8')), wall: process.hrtime.bigint() };
      const share = Number(after.cpu - before.cpu) / Number(after.wall - before.wall);
      expect(share).toBeGreaterThan(0.05);
      expect(share).toBeLessThan(0.6);
      await runtime.kill(sandbox, spinner.execId);
    });

    it('destroys a sandbox: its processes and its cgroups are gone, twice over', async () => {
      lab = new Lab();
      const runtime = lab.runtime();
      const sandbox = await lab.sandbox(runtime);
      const running = await lab.start(runtime, sandbox, ['sleep', '300']);
      await lab.run(runtime, sandbox, ['true']);

      await runtime.destroy(sandbox);

      expect(await runtime.running(sandbox, running.execId)).toBe(false);
      expect(await running.handle.ended).toEqual({ exitCode: null, timedOut: false });
      for (const controller of V1_CONTROLLERS) {
        expect(existsSync(join(CGROUP_ROOT, controller, PREFIX, sandbox.id))).toBe(false);
      }
      await runtime.destroy(sandbox);
    });
  });

  describe.runIf(cgroupV2)('on the cgroup v2 hierarchy', () => {
    it('tracks, kills and removes execs there', async () => {
      lab = new Lab(UNIFIED_ROOT);
      const runtime = lab.runtime();
      const sandbox = await lab.sandbox(runtime);
      const run = await lab.start(runtime, sandbox, ['sh', '-c', 'sleep 300 & setsid sleep 300 & wait']);
      const tree = await eventually(async () => {
        const pids = await sleepers(await groupPids(join(UNIFIED_ROOT, PREFIX, sandbox.id, run.execId)));
        return pids.length === 2 ? pids : undefined;
      }, 'two sleeps in the exec group');

      await runtime.kill(sandbox, run.execId);
      expect(await runtime.running(sandbox, run.execId)).toBe(false);
      for (const pid of tree) expect(await alive(pid)).toBe(false);

      await runtime.destroy(sandbox);
      expect(existsSync(join(UNIFIED_ROOT, PREFIX, sandbox.id))).toBe(false);
    });
  });

  describe('without cgroups', () => {
    it('falls back to rlimits and finds, kills and reports execs through their pid namespace', async () => {
      lab = new Lab(await mkdtemp(join(tmpdir(), 'aibox-no-cgroups-')));
      const runtime = lab.runtime();
      const sandbox = await lab.sandbox(runtime, { memoryMb: 64 });
      expect(lab.logs).toContainEqual({
        level: 'warn',
        msg: 'cgroups cannot enforce these sandbox limits; falling back to per-process rlimits',
      });

      const hog = await lab.run(runtime, sandbox, ['python3', '-c', 'b = bytearray(1 << 30)']);
      expect(hog.exitCode).toBe(1);
      expect(hog.stderr).toContain('MemoryError');

      const run = await lab.start(runtime, sandbox, ['sh', '-c', 'sleep 300 & setsid sleep 300 & wait']);
      const tree = await eventually(async () => {
        const pids = await sleepers(await descendants(run.handle.pid));
        return pids.length === 2 ? pids : undefined;
      }, 'two sleeps');
      const restarted = lab.runtime();
      expect(await restarted.running(sandbox, run.execId)).toBe(true);

      await restarted.kill(sandbox, run.execId);
      expect(await restarted.running(sandbox, run.execId)).toBe(false);
      for (const pid of tree) expect(await alive(pid)).toBe(false);
      expect(await run.handle.ended).toEqual({ exitCode: null, timedOut: false });
    });
  });
});
