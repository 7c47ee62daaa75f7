import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  readlink,
  realpath,
  rm,
  rmdir,
  writeFile,
} from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { SandboxError } from '../errors/sandbox.error.js';
import { EGRESS_LAUNCHER, EGRESS_PYTHON } from './egress-forwarder.js';
import { readExitCode } from './exec-files.js';
import { endOrTimeout } from './exec-timeout.js';
import { closeAll, openHostBinds } from './host-source.js';
import { checkEnv, checkExec, checkName, checkResources } from './runtime-checks.js';
import type {
  ExecEnd,
  ExecHandle,
  ExecStart,
  RuntimeAvailability,
  RuntimeBind,
  RuntimeSandbox,
  SandboxResources,
  SandboxRuntime,
} from './sandbox-runtime.js';

export interface ProcessRuntimeLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ProcessRuntimeOptions {
  /** bubblewrap; default `/usr/bin/bwrap`. */
  readonly bwrapPath?: string;
  /** Where the cgroup hierarchies are mounted; default `/sys/fs/cgroup` (v1 controllers below it, or v2). */
  readonly cgroupRoot?: string;
  /** The runtime's own subtree in every hierarchy: `<prefix>/<sandboxId>/<execId>`; default `aibox-sandbox`. */
  readonly cgroupPrefix?: string;
  readonly logger: ProcessRuntimeLogger;
}

/** The sandbox user: uid and gid inside; `/etc/passwd` names it `sandbox` with home `/workspace`. */
const SANDBOX_ID_INSIDE = '1000';
const EXEC_DIR_INSIDE = '/.aibox/exec';
const MIB = 1024 * 1024;
const CPU_PERIOD_US = 100_000;
/** The kernel refuses CFS quotas below 1 ms. */
const CPU_QUOTA_MIN_US = 1_000;
const KILL_DEADLINE_MS = 10_000;
const JOIN_DEADLINE_MS = 5_000;
const POLL_MS = 10;

/**
 * Set on the host-side wrapper and so on bwrap (both its processes keep the environment they were started
 * with), not on the sandboxed program (`--clearenv`; it can read it only in bwrap's pid 1, and it holds only
 * ids): finds an exec's processes when there are no cgroups, also after a restart of the service.
 */
const MARKER = 'AIBOX_SANDBOX_EXEC';
/** The whole environment of the host-side processes: bwrap's pid 1 is visible inside, the service's env must not be. */
const HOST_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/workspace',
  LANG: 'C.UTF-8',
};

/** Host system directories the programs run from, bound read-only (or recreated as the symlinks they are). */
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'] as const;
/**
 * What programs read from `/etc`, and nothing else: the sandbox user is root on the host (see `bwrapArgs`),
 * so a root-only file bound here would be readable, e.g. `/etc/ssl/private` (hence `ssl/certs`, not `ssl`).
 */
const ETC_PATHS = [
  'alternatives',
  'ld.so.cache',
  'ssl/certs',
  'ssl/openssl.cnf',
  'localtime',
  'timezone',
  'mime.types',
  'protocols',
  'services',
  'gai.conf',
] as const;
/** Language runtimes keep their configuration in versioned `/etc` directories (`/etc/python3.11`). */
const ETC_RUNTIME_DIR = /^(python3(\.\d+)?|java-\d+-openjdk(-[a-z0-9]+)?|perl)$/;
/**
 * /proc entries that describe the host kernel or accept writes from host root (which the sandbox user is,
 * without capabilities), masked as Docker masks them; bwrap already covers sys, sysrq-trigger, irq and bus.
 */
const PROC_MASKED_FILES = [
  'kcore',
  'keys',
  'key-users',
  'kmsg',
  'kpagecgroup',
  'kpagecount',
  'kpageflags',
  'latency_stats',
  'mtrr',
  'pagetypeinfo',
  'sched_debug',
  'slabinfo',
  'timer_list',
  'timer_stats',
  'vmallocinfo',
] as const;
const PROC_MASKED_DIRS = ['acpi', 'asound', 'fs', 'scsi'] as const;

/** Generated rather than the host's: the sandbox user only, no host accounts. */
const PASSWD = [
  'root:x:0:0:root:/root:/usr/sbin/nologin',
  'sandbox:x:1000:1000:sandbox:/workspace:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
];
const GROUP = ['root:x:0:', 'sandbox:x:1000:', 'nogroup:x:65534:'];
const HOSTS = ['127.0.0.1 localhost sandbox', '::1 localhost ip6-localhost ip6-loopback'];
const NSSWITCH = ['passwd: files', 'group: files', 'shadow: files', 'hosts: files', 'networks: files'];

/**
 * Runs on the host as `sh -c HOST_SCRIPT aibox-exec <n> <n cgroup.procs files> <bwrap> <args…>`: joins the
 * exec's cgroups before bwrap exists, so no process of the exec ever runs outside them, then becomes bwrap
 * with the generated /etc files on fds 3–6 (`--ro-bind-data`).
 */
const HOST_SCRIPT = [
  'n=$1; shift',
  'while [ "$n" -gt 0 ]; do printf \'%s\\n\' "$$" > "$1" || exit 125; shift; n=$((n - 1)); done',
  `exec "$@" 3<<'AIBOX_PASSWD' 4<<'AIBOX_GROUP' 5<<'AIBOX_HOSTS' 6<<'AIBOX_NSSWITCH'`,
  ...PASSWD,
  'AIBOX_PASSWD',
  ...GROUP,
  'AIBOX_GROUP',
  ...HOSTS,
  'AIBOX_HOSTS',
  ...NSSWITCH,
  'AIBOX_NSSWITCH',
].join('\n');

const GENERATED_ETC = [
  ['3', '/etc/passwd'],
  ['4', '/etc/group'],
  ['5', '/etc/hosts'],
  ['6', '/etc/nsswitch.conf'],
] as const;

/**
 * Mount sources reach bwrap as descriptors from here on (`--ro-bind-fd`), after the generated /etc files: the
 * directory checked is the one bound, whatever its path leads to by then. bwrap closes each once mounted.
 */
const FIRST_BIND_FD = 7;

/**
 * Runs inside the sandbox as `sh -c <script> sh <argv…>`. `env` runs the argv as a program (never a shell
 * builtin or keyword); the status is written under a temporary name and renamed, so a reader sees all or nothing.
 * With egress, the egress forwarder runs the program and ends with it, before the status is written.
 */
function wrapperScript(ulimits: readonly string[], egress: boolean): string {
  const dir = EXEC_DIR_INSIDE;
  return [
    `${ulimits.map((limit) => `ulimit ${limit}`).join(' && ')} || exit 125`,
    `if [ -e ${dir}/stdin ]; then exec < ${dir}/stdin; else exec < /dev/null; fi`,
    `${egress ? `${EGRESS_LAUNCHER} ` : ''}/usr/bin/env -- "$@" > ${dir}/stdout 2> ${dir}/stderr`,
    'status=$?',
    `printf '%s\\n' "$status" > ${dir}/exit_code.tmp && mv -f ${dir}/exit_code.tmp ${dir}/exit_code`,
  ].join('\n');
}

type Limit = 'pids' | 'memory' | 'cpu';
const LIMITS: readonly Limit[] = ['pids', 'memory', 'cpu'];

/** The resource controls of one machine: cgroup v1, cgroup v2, or none (rlimits and the pid namespace). */
interface ControlGroups {
  readonly kind: 'v1' | 'v2' | 'none';
  /** Limits enforced for the sandbox as a whole; the wrapper sets per-process rlimits for the others. */
  readonly enforced: ReadonlySet<Limit>;
  prepareSandbox(sandboxId: string, resources: SandboxResources): Promise<void>;
  /** Creates the exec's groups; returns the `cgroup.procs` files its wrapper joins. */
  prepareExec(sandboxId: string, execId: string): Promise<readonly string[]>;
  /** Live processes of an exec, or of every exec of the sandbox. */
  members(sandboxId: string, execId?: string): Promise<readonly number[]>;
  /** Sends SIGKILL to every member (one round; the caller repeats until none is left). */
  killMembers(sandboxId: string, execId?: string): Promise<void>;
  /** Removes the groups of an exec, or of the whole sandbox (leaves first). */
  remove(sandboxId: string, execId?: string): Promise<void>;
}

export class ProcessRuntime implements SandboxRuntime {
  readonly name = 'process' as const;

  private readonly bwrapPath: string;
  private readonly cgroupRoot: string;
  private readonly cgroupPrefix: string;
  private readonly logger: ProcessRuntimeLogger;
  private availability: Promise<RuntimeAvailability> | undefined;
  private groups: Promise<ControlGroups> | undefined;
  private layout: Promise<readonly string[]> | undefined;

  constructor(options: ProcessRuntimeOptions) {
    this.bwrapPath = options.bwrapPath ?? '/usr/bin/bwrap';
    this.cgroupRoot = options.cgroupRoot ?? '/sys/fs/cgroup';
    this.cgroupPrefix = options.cgroupPrefix ?? 'aibox-sandbox';
    this.logger = options.logger;
    checkName('cgroup prefix', this.cgroupPrefix);
  }

  available(): Promise<RuntimeAvailability> {
    this.availability ??= this.probe();
    return this.availability;
  }

  /** The forwarder runs on the host's Python (the sandbox sees the host's /usr); its socket is a plain bind. */
  async egressAvailable(): Promise<RuntimeAvailability> {
    try {
      await access(EGRESS_PYTHON, fsConstants.X_OK);
      return { ok: true };
    } catch {
      return { ok: false, reason: `the process runtime runs the host's ${EGRESS_PYTHON}, which is missing` };
    }
  }

  async create(sandbox: RuntimeSandbox): Promise<void> {
    checkName('sandbox id', sandbox.id);
    checkResources(sandbox.resources);
    const groups = await this.controlGroups();
    await groups.prepareSandbox(sandbox.id, sandbox.resources);
  }

  async exec(sandbox: RuntimeSandbox, exec: ExecStart): Promise<ExecHandle> {
    checkExec(exec);
    checkEnv(sandbox.env);
    if (!isAbsolute(sandbox.workspaceDir))
      throw new Error(`workspace must be absolute: ${sandbox.workspaceDir}`);
    // Limits exist before any process does, also for a sandbox created before a restart.
    await this.create(sandbox);
    const groups = await this.controlGroups();
    const [layout, procsFiles] = await Promise.all([
      this.hostLayout(),
      groups.prepareExec(sandbox.id, exec.execId),
    ]);

    await mkdir(exec.dir, { recursive: true, mode: 0o700 });
    await Promise.all(
      ['exit_code', 'exit_code.tmp', 'stdin'].map((name) => rm(join(exec.dir, name), { force: true })),
    );
    if (exec.stdin !== undefined) await writeFile(join(exec.dir, 'stdin'), exec.stdin);
    await writeFile(join(exec.dir, 'stdout'), '');

    const binds = sandbox.binds ?? [];
    const held = await openHostBinds(binds);
    const bindFds = new Map([...held.keys()].map((bind, index) => [bind, FIRST_BIND_FD + index] as const));
    const args = this.bwrapArgs(sandbox, exec, layout, groups.enforced, bindFds);
    // bwrap's own complaints (a missing cwd, a failed mount) land in the exec's stderr, where a caller looks.
    const stderr = await open(join(exec.dir, 'stderr'), 'w').catch(async (error: unknown) => {
      await closeAll(held.values());
      throw error;
    });
    let child: ChildProcess;
    let started: Promise<void>;
    let exited: Promise<void>;
    try {
      child = spawn(
        '/bin/sh',
        ['-c', HOST_SCRIPT, 'aibox-exec', String(procsFiles.length), ...procsFiles, this.bwrapPath, ...args],
        {
          // Its own session and process group, no pipe to this process: the exec outlives the service.
          detached: true,
          stdio: [
            'ignore',
            'ignore',
            stderr.fd,
            ...Array.from({ length: FIRST_BIND_FD - 3 }, () => 'ignore' as const),
            ...[...held.values()].map((handle) => handle.fd),
          ],
          cwd: '/',
          env: { PATH: HOST_PATH, [MARKER]: `${sandbox.id}/${exec.execId}` },
        },
      );
      // Listened to at once: the events may fire while the file closes.
      started = new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error) => {
          reject(new SandboxError('runtime_unavailable', oneLine(error)));
        });
      });
      exited = new Promise<void>((resolve) =>
        child.once('exit', () => {
          resolve();
        }),
      );
    } catch (error: unknown) {
      await closeAll(held.values());
      throw error;
    } finally {
      await stderr.close();
    }
    // The child holds its own copies once spawned (or failed to spawn).
    await started.finally(() => closeAll(held.values()));
    child.on('error', (error) => {
      this.logger.warn({ err: error, execId: exec.execId }, 'exec wrapper error');
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new SandboxError('runtime_unavailable', 'the exec wrapper has no pid');
    await this.joined(child, pid, procsFiles);

    const ended = endOrTimeout(
      exec.timeoutS,
      exited,
      () => this.kill(sandbox, exec.execId),
      (error: unknown) => {
        this.logger.error(
          { err: error, sandboxId: sandbox.id, execId: exec.execId },
          'cannot kill a timed-out exec',
        );
      },
    ).then(async ({ timedOut }): Promise<ExecEnd> => {
      const exitCode = await readExitCode(exec.dir);
      // Processes the program left in the background live on (bwrap's pid 1 waits for them) until they end,
      // the exec is killed or the sandbox destroyed; their groups are removed by `destroy` then.
      if ((await groups.members(sandbox.id, exec.execId)).length === 0) {
        await groups.remove(sandbox.id, exec.execId).catch((error: unknown) => {
          this.logger.debug({ err: error, execId: exec.execId }, 'exec cgroups left for destroy');
        });
      }
      return { exitCode, timedOut };
    });
    this.logger.debug(
      { sandboxId: sandbox.id, execId: exec.execId, pid, cgroups: groups.kind },
      'exec started',
    );
    return { pid, ended };
  }

  async kill(sandbox: RuntimeSandbox, execId: string): Promise<void> {
    checkName('sandbox id', sandbox.id);
    checkName('exec id', execId);
    await this.killAll(await this.controlGroups(), sandbox.id, execId);
  }

  async running(sandbox: RuntimeSandbox, execId: string): Promise<boolean> {
    checkName('sandbox id', sandbox.id);
    checkName('exec id', execId);
    const groups = await this.controlGroups();
    return (await groups.members(sandbox.id, execId)).length > 0;
  }

  async destroy(sandbox: RuntimeSandbox): Promise<void> {
    checkName('sandbox id', sandbox.id);
    const groups = await this.controlGroups();
    await this.killAll(groups, sandbox.id);
    await groups.remove(sandbox.id);
  }

  private async probe(): Promise<RuntimeAvailability> {
    try {
      await access(this.bwrapPath, fsConstants.X_OK);
    } catch {
      return { ok: false, reason: `no bubblewrap at ${this.bwrapPath}` };
    }
    try {
      await promisify(execFile)(this.bwrapPath, ['--unshare-all', '--ro-bind', '/', '/', 'true'], {
        timeout: 10_000,
        env: { PATH: HOST_PATH },
      });
      return { ok: true };
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr;
      const detail = typeof stderr === 'string' && stderr.trim() !== '' ? oneLine(stderr) : oneLine(error);
      return { ok: false, reason: `bubblewrap cannot create namespaces: ${detail}` };
    }
  }

  private controlGroups(): Promise<ControlGroups> {
    this.groups ??= detectControlGroups(this.cgroupRoot, this.cgroupPrefix).then((groups) => {
      const missing = LIMITS.filter((limit) => !groups.enforced.has(limit));
      if (missing.length > 0) {
        this.logger.warn(
          { cgroupRoot: this.cgroupRoot, cgroups: groups.kind, rlimits: missing },
          'cgroups cannot enforce these sandbox limits; falling back to per-process rlimits',
        );
      }
      return groups;
    });
    return this.groups;
  }

  private hostLayout(): Promise<readonly string[]> {
    this.layout ??= readHostLayout();
    return this.layout;
  }

  /** Resolves once the wrapper sits in its cgroups, so a `kill` right after `exec` cannot miss it. */
  private async joined(child: ChildProcess, pid: number, procsFiles: readonly string[]): Promise<void> {
    const last = procsFiles.at(-1);
    if (last === undefined) return;
    const deadline = Date.now() + JOIN_DEADLINE_MS;
    // An early exit is reported by `ended` (the exec's stderr says why), not here.
    while (child.exitCode === null && child.signalCode === null) {
      if ((await readPids(last)).includes(pid)) return;
      if (Date.now() > deadline) {
        throw new SandboxError('runtime_unavailable', `the exec wrapper did not join ${last}`);
      }
      await sleep(2);
    }
  }

  private async killAll(groups: ControlGroups, sandboxId: string, execId?: string): Promise<void> {
    const deadline = Date.now() + KILL_DEADLINE_MS;
    for (;;) {
      const members = await groups.members(sandboxId, execId);
      if (members.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`processes of ${sandboxId}/${execId ?? '*'} survived SIGKILL: ${members.join(', ')}`);
      }
      await groups.killMembers(sandboxId, execId);
      await sleep(POLL_MS);
    }
  }

  private bwrapArgs(
    sandbox: RuntimeSandbox,
    exec: ExecStart,
    layout: readonly string[],
    enforced: ReadonlySet<Limit>,
    bindFds: ReadonlyMap<RuntimeBind, number>,
  ): string[] {
    const { resources } = sandbox;
    const diskBytes = String(resources.diskMb * MIB);
    // RLIMIT_FSIZE (512-byte blocks in dash): no single file, output included, grows past the disk budget.
    const ulimits = [`-f ${resources.diskMb * 2_048}`];
    if (!enforced.has('pids')) ulimits.push(`-p ${resources.pids}`);
    if (!enforced.has('memory')) ulimits.push(`-v ${resources.memoryMb * 1_024}`);
    if (!enforced.has('cpu')) ulimits.push(`-t ${Math.max(1, Math.ceil(resources.cpus * exec.timeoutS))}`);
    const env = { ...DEFAULT_ENV, ...sandbox.env, ...exec.env };
    return [
      // user, pid, net, ipc, uts and (when the kernel has it) cgroup namespaces; no --share-net.
      '--unshare-all',
      '--new-session',
      '--cap-drop',
      'ALL',
      // Run by root, bwrap maps this uid to host root (files in the workspace stay the service's); it holds
      // no capability, no_new_privs is set and every bind is nosuid.
      '--uid',
      SANDBOX_ID_INSIDE,
      '--gid',
      SANDBOX_ID_INSIDE,
      '--hostname',
      'sandbox',
      ...layout,
      ...GENERATED_ETC.flatMap(([fd, path]) => ['--perms', '0644', '--ro-bind-data', fd, path]),
      '--dev',
      '/dev',
      '--size',
      diskBytes,
      '--tmpfs',
      '/dev/shm',
      '--size',
      diskBytes,
      '--tmpfs',
      '/tmp',
      '--bind',
      sandbox.workspaceDir,
      '/workspace',
      '--bind',
      exec.dir,
      EXEC_DIR_INSIDE,
      ...(sandbox.binds ?? []).flatMap((bind) => {
        const fd = bindFds.get(bind);
        if (fd !== undefined) return [bind.writable ? '--bind-fd' : '--ro-bind-fd', String(fd), bind.target];
        return [bind.writable ? '--bind' : '--ro-bind', bind.source, bind.target];
      }),
      // Last: the mounts above create their mount points in the root tmpfs first.
      '--remount-ro',
      '/',
      '--chdir',
      exec.cwd === '' ? '/workspace' : exec.cwd,
      '--clearenv',
      ...Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value]),
      '--',
      '/bin/sh',
      '-c',
      wrapperScript(ulimits, sandbox.egress === true),
      'sh',
      ...exec.argv,
    ];
  }
}

/** The bwrap arguments that rebuild the host's system directories, `/etc` subset and masked /proc. */
async function readHostLayout(): Promise<readonly string[]> {
  const args: string[] = [];
  for (const path of SYSTEM_PATHS) {
    const entry = await lstat(path).catch(() => undefined);
    if (entry?.isSymbolicLink() === true) args.push('--symlink', await readlink(path), path);
    else if (entry?.isDirectory() === true) args.push('--ro-bind', path, path);
  }
  args.push('--perms', '0755', '--dir', '/etc');
  const runtimeDirs = (await readdir('/etc').catch(() => [])).filter((name) => ETC_RUNTIME_DIR.test(name));
  for (const name of [...ETC_PATHS, ...runtimeDirs]) {
    if (await exists(join('/etc', name))) args.push('--ro-bind', join('/etc', name), join('/etc', name));
  }
  args.push('--proc', '/proc');
  // Only what exists: bwrap cannot create a mount point inside procfs.
  for (const name of PROC_MASKED_FILES) {
    if (await exists(join('/proc', name))) args.push('--ro-bind', '/dev/null', join('/proc', name));
  }
  for (const name of PROC_MASKED_DIRS) {
    if (await exists(join('/proc', name))) {
      args.push('--tmpfs', join('/proc', name), '--remount-ro', join('/proc', name));
    }
  }
  return args;
}

async function detectControlGroups(root: string, prefix: string): Promise<ControlGroups> {
  if (await exists(join(root, 'cgroup.controllers'))) {
    const v2 = await CgroupV2.detect(root, prefix);
    if (v2 !== undefined) return v2;
  }
  return (await CgroupV1.detect(root, prefix)) ?? new NoControlGroups();
}

type V1Controller = 'pids' | 'memory' | 'cpu' | 'cpuacct' | 'freezer';
const V1_CONTROLLERS: readonly V1Controller[] = ['pids', 'memory', 'cpu', 'cpuacct', 'freezer'];

/** cgroup v1: `<root>/<controller>/<prefix>/<sandboxId>/<execId>` in each hierarchy; limits on the sandbox level. */
class CgroupV1 implements ControlGroups {
  readonly kind = 'v1' as const;
  readonly enforced: ReadonlySet<Limit>;
  /** One base per mounted hierarchy (`cpu` and `cpuacct` may share one). */
  private readonly hierarchies: readonly string[];

  private constructor(private readonly bases: ReadonlyMap<V1Controller, string>) {
    this.enforced = new Set(LIMITS.filter((limit) => bases.has(limit)));
    this.hierarchies = [...new Set(bases.values())];
  }

  static async detect(root: string, prefix: string): Promise<CgroupV1 | undefined> {
    const bases = new Map<V1Controller, string>();
    const byMount = new Map<string, string>();
    for (const controller of V1_CONTROLLERS) {
      const mount = join(root, controller);
      if (!(await exists(join(mount, 'cgroup.procs')))) continue;
      const real = await realpath(mount);
      let base = byMount.get(real);
      if (base === undefined) {
        base = join(mount, prefix);
        try {
          await mkdir(base, { recursive: true });
        } catch {
          continue;
        }
        byMount.set(real, base);
      }
      bases.set(controller, base);
    }
    return bases.size === 0 ? undefined : new CgroupV1(bases);
  }

  async prepareSandbox(sandboxId: string, resources: SandboxResources): Promise<void> {
    await Promise.all(this.hierarchies.map((base) => mkdir(join(base, sandboxId), { recursive: true })));
    const pids = this.bases.get('pids');
    if (pids !== undefined) await writeFile(join(pids, sandboxId, 'pids.max'), String(resources.pids));
    const memory = this.bases.get('memory');
    if (memory !== undefined) await setV1Memory(join(memory, sandboxId), resources.memoryMb * MIB);
    const cpu = this.bases.get('cpu');
    if (cpu !== undefined) {
      await writeFile(join(cpu, sandboxId, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeFile(join(cpu, sandboxId, 'cpu.cfs_quota_us'), String(cpuQuotaUs(resources.cpus)));
    }
  }

  async prepareExec(sandboxId: string, execId: string): Promise<readonly string[]> {
    const dirs = this.hierarchies.map((base) => join(base, sandboxId, execId));
    await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
    return dirs.map((dir) => join(dir, 'cgroup.procs'));
  }

  async members(sandboxId: string, execId?: string): Promise<readonly number[]> {
    const lists = await Promise.all(
      this.hierarchies.map((base) => pidsUnder(scopeDir(base, sandboxId, execId))),
    );
    return [...new Set(lists.flat())];
  }

  async killMembers(sandboxId: string, execId?: string): Promise<void> {
    const freezer = this.bases.get('freezer');
    const frozen = freezer === undefined ? undefined : scopeDir(freezer, sandboxId, execId);
    // Frozen, nothing can fork between reading the members and killing them; a frozen task dies on thaw.
    if (frozen !== undefined) await freezeV1(frozen);
    try {
      for (const pid of await this.members(sandboxId, execId)) signal(pid);
    } finally {
      if (frozen !== undefined) await writeFile(join(frozen, 'freezer.state'), 'THAWED').catch(ignoreMissing);
    }
  }

  async remove(sandboxId: string, execId?: string): Promise<void> {
    await Promise.all(this.hierarchies.map((base) => removeGroupTree(scopeDir(base, sandboxId, execId))));
  }
}

/** cgroup v2: `<root>/<prefix>/<sandboxId>/<execId>`; the controllers the root offers are enabled below the prefix. */
class CgroupV2 implements ControlGroups {
  readonly kind = 'v2' as const;

  private constructor(
    private readonly base: string,
    readonly enforced: ReadonlySet<Limit>,
  ) {}

  static async detect(root: string, prefix: string): Promise<CgroupV2 | undefined> {
    const base = join(root, prefix);
    try {
      await mkdir(base, { recursive: true });
    } catch {
      return undefined;
    }
    const offered = words(await readFile(join(root, 'cgroup.controllers'), 'utf8'));
    const wanted = LIMITS.filter((limit) => offered.includes(limit));
    for (const dir of [root, base]) {
      for (const limit of wanted) {
        // Refused when already enabled or when a process sits in `dir`; what counts is the prefix's state below.
        await writeFile(join(dir, 'cgroup.subtree_control'), `+${limit}`).catch(() => undefined);
      }
    }
    const enabled = words(await readFile(join(base, 'cgroup.subtree_control'), 'utf8'));
    return new CgroupV2(base, new Set(LIMITS.filter((limit) => enabled.includes(limit))));
  }

  async prepareSandbox(sandboxId: string, resources: SandboxResources): Promise<void> {
    const dir = join(this.base, sandboxId);
    await mkdir(dir, { recursive: true });
    if (this.enforced.has('pids')) await writeFile(join(dir, 'pids.max'), String(resources.pids));
    if (this.enforced.has('memory')) {
      await writeFile(join(dir, 'memory.max'), String(resources.memoryMb * MIB));
      await writeFile(join(dir, 'memory.swap.max'), '0').catch(ignoreMissing);
    }
    if (this.enforced.has('cpu')) {
      await writeFile(join(dir, 'cpu.max'), `${cpuQuotaUs(resources.cpus)} ${CPU_PERIOD_US}`);
    }
  }

  async prepareExec(sandboxId: string, execId: string): Promise<readonly string[]> {
    const dir = join(this.base, sandboxId, execId);
    await mkdir(dir, { recursive: true });
    return [join(dir, 'cgroup.procs')];
  }

  members(sandboxId: string, execId?: string): Promise<readonly number[]> {
    return pidsUnder(scopeDir(this.base, sandboxId, execId));
  }

  async killMembers(sandboxId: string, execId?: string): Promise<void> {
    const dir = scopeDir(this.base, sandboxId, execId);
    // cgroup.kill (Linux 5.14) kills the whole subtree atomically, forks included.
    if (await exists(join(dir, 'cgroup.kill'))) {
      await writeFile(join(dir, 'cgroup.kill'), '1').catch(ignoreMissing);
      return;
    }
    await writeFile(join(dir, 'cgroup.freeze'), '1').catch(ignoreMissing);
    try {
      for (const pid of await this.members(sandboxId, execId)) signal(pid);
    } finally {
      await writeFile(join(dir, 'cgroup.freeze'), '0').catch(ignoreMissing);
    }
  }

  remove(sandboxId: string, execId?: string): Promise<void> {
    return removeGroupTree(scopeDir(this.base, sandboxId, execId));
  }
}

/**
 * No writable cgroups: limits are rlimits, and an exec is found by the marker in the environment of its
 * host-side processes. Killing bwrap's pid 1 makes the kernel kill everything else in the exec's pid
 * namespace, which no process of the exec can leave.
 */
class NoControlGroups implements ControlGroups {
  readonly kind = 'none' as const;
  readonly enforced: ReadonlySet<Limit> = new Set();

  prepareSandbox(): Promise<void> {
    return Promise.resolve();
  }

  prepareExec(): Promise<readonly string[]> {
    return Promise.resolve([]);
  }

  members(sandboxId: string, execId?: string): Promise<readonly number[]> {
    return markedPids(`${MARKER}=${sandboxId}/${execId ?? ''}`, execId !== undefined);
  }

  async killMembers(sandboxId: string, execId?: string): Promise<void> {
    for (const pid of await this.members(sandboxId, execId)) {
      // The wrapper leads its process group (spawned detached); bwrap's pid 1 is in it too.
      signal(-pid);
      signal(pid);
    }
  }

  remove(): Promise<void> {
    return Promise.resolve();
  }
}

async function markedPids(marker: string, exact: boolean): Promise<readonly number[]> {
  const entries = await readdir('/proc');
  const found = await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        // A zombie's environment reads empty, so only live processes match.
        const environ = await readFile(join('/proc', name, 'environ'), 'utf8').catch(() => '');
        const hit = environ
          .split('\0')
          .some((entry) => (exact ? entry === marker : entry.startsWith(marker)));
        return hit ? [Number(name)] : [];
      }),
  );
  return found.flat();
}

async function setV1Memory(dir: string, bytes: number): Promise<void> {
  const memory = join(dir, 'memory.limit_in_bytes');
  const memsw = join(dir, 'memory.memsw.limit_in_bytes');
  if (!(await exists(memsw))) {
    await writeFile(memory, String(bytes));
    return;
  }
  // memory + swap may never be below memory: lower memory first, or raise memory + swap first.
  try {
    await writeFile(memory, String(bytes));
    await writeFile(memsw, String(bytes));
  } catch {
    await writeFile(memsw, String(bytes));
    await writeFile(memory, String(bytes));
  }
}

async function freezeV1(dir: string): Promise<void> {
  const state = join(dir, 'freezer.state');
  try {
    await writeFile(state, 'FROZEN');
  } catch (error) {
    ignoreMissing(error);
    return;
  }
  // A task in uninterruptible sleep can hold FREEZING for long; SIGKILL is sent regardless after a while.
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline) {
    const current = await readFile(state, 'utf8').catch(() => 'FROZEN');
    if (current.trim() === 'FROZEN') return;
    await sleep(2);
  }
}

function cpuQuotaUs(cpus: number): number {
  return Math.max(CPU_QUOTA_MIN_US, Math.round(cpus * CPU_PERIOD_US));
}

function scopeDir(base: string, sandboxId: string, execId?: string): string {
  return execId === undefined ? join(base, sandboxId) : join(base, sandboxId, execId);
}

async function readPids(procsFile: string): Promise<number[]> {
  try {
    return words(await readFile(procsFile, 'utf8')).map(Number);
  } catch (error) {
    ignoreMissing(error);
    return [];
  }
}

/** Pids in a group and all its descendants. */
async function pidsUnder(dir: string): Promise<number[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    ignoreMissing(error);
    return [];
  }
  const nested = await Promise.all(
    entries.filter((entry) => entry.isDirectory()).map((entry) => pidsUnder(join(dir, entry.name))),
  );
  return [...(await readPids(join(dir, 'cgroup.procs'))), ...nested.flat()];
}

/** rmdir, children first; a group just emptied can answer EBUSY for a moment. */
async function removeGroupTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    ignoreMissing(error);
    return;
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await removeGroupTree(join(dir, entry.name));
  }
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      if (errorCode(error) !== 'EBUSY' || attempt >= 100) throw error;
      await sleep(POLL_MS);
    }
  }
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone (ESRCH) is the point.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== '');
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Gone: the file (ENOENT), or the cgroup removed while it was being read (ENODEV). */
function ignoreMissing(error: unknown): void {
  const code = errorCode(error);
  if (code !== 'ENOENT' && code !== 'ENODEV') throw error;
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.trim() ?? 'unknown error';
}
