import { chmod, chown, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import Docker from 'dockerode';

import { SandboxError } from '../errors/sandbox.error.js';
import { EGRESS_LAUNCHER } from './egress-forwarder.js';
import { readExitCode, recordExitCode } from './exec-files.js';
import { endOrTimeout } from './exec-timeout.js';
import { checkEnv, checkExec, checkName, checkResources } from './runtime-checks.js';
import { closeAll, openHostBinds } from './host-source.js';
import type { ProcessRuntimeLogger } from './process.runtime.js';
import type {
  ExecEnd,
  ExecHandle,
  ExecStart,
  RuntimeAvailability,
  RuntimeSandbox,
  SandboxRuntime,
} from './sandbox-runtime.js';

export type DockerRuntimeLogger = ProcessRuntimeLogger;

/** A sandbox as the container runtimes take it: the image is theirs alone. */
export interface ContainerSandbox extends RuntimeSandbox {
  /** The image to run; the runtime's default when absent. */
  readonly image?: string;
}

export interface DockerRuntimeOptions {
  readonly name: 'docker' | 'gvisor';
  /** Default image of a sandbox that names none. */
  readonly image: string;
  /** Default `/var/run/docker.sock`. */
  readonly socketPath?: string;
  /** Label namespace of the runtime's containers: `<prefix>.id`, `<prefix>.runtime`; default `aibox.sandbox`. */
  readonly labelPrefix?: string;
  readonly logger: DockerRuntimeLogger;
}

/** The image's `sandbox` user; the workspace and each exec's directory are handed to it on the host. */
const SANDBOX_UID = 1000;
const SANDBOX_USER = `${SANDBOX_UID}:${SANDBOX_UID}`;
const MIB = 1024 * 1024;
/** Docker has no push for an exec's end; inspecting is one cheap request on the local socket. */
const EXEC_POLL_MS = 100;
const HELPER_POLL_MS = 20;
/** 128 + SIGKILL: what a program killed for memory ends with. */
const OOM_KILLED_STATUS = 137;
/** Host threads a gVisor sandbox kernel may use on top of its programs' pid limit (see `pidLimits`). */
const GVISOR_HOST_THREADS = 4_096;
const KILL_DEADLINE_MS = 10_000;
const CONTAINER_PREFIX = 'aibox-sandbox-';

/** Where the sandbox's exec directories appear inside; the host directories sit beside the workspace. */
const EXEC_MOUNTS = [
  ['execs', '/.aibox/execs'],
  ['provisioning', '/.aibox/provisioning'],
] as const;

const DEFAULT_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/workspace',
  LANG: 'C.UTF-8',
};

/**
 * Every process of an exec carries this in its environment (it is inherited across `setsid`), so `kill` and
 * `running` find them by exec id alone, also after a restart of the service. The trailing `/` ends the id.
 */
const MARKER = 'AIBOX_EXEC';
const marker = (execId: string): string => `${MARKER}=${execId}/`;

/**
 * The docker exec runs `sh -c <wrapper> sh <dir> <argv…>`. The program gets its own session and process group
 * (its pgid is written to `pgid`); the status is written under a temporary name and renamed, so a reader sees
 * all or nothing. `env` runs the argv as a program, never a shell builtin.
 */
const wrapper = (egress: boolean): string =>
  [
    'd=$1; shift',
    'ulimit -f "$AIBOX_FSIZE" || exit 125',
    'if [ -e "$d/stdin" ]; then exec < "$d/stdin"; else exec < /dev/null; fi',
    // With egress, the egress forwarder runs the rest and ends with it (it carries the marker too).
    `${egress ? `${EGRESS_LAUNCHER} ` : ''}setsid /bin/sh -c 'printf "%s\\n" "$$" > "$0/pgid.tmp" && mv -f "$0/pgid.tmp" "$0/pgid" && exec /usr/bin/env -- "$@"' "$d" "$@" > "$d/stdout" 2> "$d/stderr"`,
    'status=$?',
    'printf \'%s\\n\' "$status" > "$d/exit_code.tmp" && mv -f "$d/exit_code.tmp" "$d/exit_code"',
  ].join('\n');

/**
 * `sh -c REAPER sh <marker> kill|probe`. The exec's processes: those carrying its marker, the members of
 * the process groups they lead, and every descendant of those (a child that cleared its environment and
 * left the group is still found while its parent lives). Only shell builtins, so it still works when a fork
 * bomb holds every pid of the container; dash drops the NULs of `environ`, which is why the marker ends in `/`.
 * `kill` stops them (nothing forks between a scan and the signal), kills them, and repeats until none is left.
 */
const REAPER = `
m=$1 mode=$2 me=$$
scan() {
  all='' marked=' ' groups=' '
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$me" ] && continue
    s=''
    IFS= read -r s 2>/dev/null < "$d/stat" || [ -n "$s" ] || continue
    s=\${s##*) }
    set -- $s
    [ "$1" = Z ] && continue
    all="$all $p:$2:$3"
    e=''
    IFS= read -r e 2>/dev/null < "$d/environ"
    case $e in *"$m"*)
      marked="$marked$p "
      [ "$3" = "$p" ] && groups="$groups$3 " ;;
    esac
  done
  found=$marked
  for x in $all; do
    p=\${x%%:*}; g=\${x##*:}
    case $groups in *" $g "*) case $found in *" $p "*) ;; *) found="$found$p " ;; esac ;; esac
  done
  more=1
  while [ $more = 1 ]; do
    more=0
    for x in $all; do
      p=\${x%%:*}; r=\${x#*:}; pp=\${r%%:*}
      case $found in *" $p "*) continue ;; esac
      case $found in *" $pp "*) found="$found$p "; more=1 ;; esac
    done
  done
}
if [ "$mode" = probe ]; then scan; [ "$found" != ' ' ]; exit; fi
i=0
while :; do
  scan
  [ "$found" = ' ' ] && exit 0
  i=$((i + 1))
  [ $i -gt 2000 ] && exit 1
  kill -STOP $found 2>/dev/null
  scan
  kill -STOP $found 2>/dev/null
  kill -KILL $found 2>/dev/null
done
`;

export class DockerRuntime implements SandboxRuntime {
  readonly name: 'docker' | 'gvisor';
  readonly programUid = SANDBOX_UID;

  private readonly docker: Docker;
  private readonly image: string;
  private readonly labelPrefix: string;
  private readonly logger: DockerRuntimeLogger;
  /**
   * runsc found registered: Docker's runtimes change only with a restart of the daemon, and listing them
   * (`docker info`) costs several milliseconds of every create; the daemon is still pinged each time.
   */
  private runscFound = false;

  constructor(options: DockerRuntimeOptions) {
    this.name = options.name;
    this.image = options.image;
    this.labelPrefix = options.labelPrefix ?? 'aibox.sandbox';
    this.logger = options.logger;
    this.docker = new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' });
  }
  /** Removes this runtime's containers whose sandbox the store does not know (restart recovery). */
  removeOrphans(knownIds: ReadonlySet<string>): Promise<string[]> {
    return removeOrphanContainers(this.docker, this.labelPrefix, knownIds);
  }

  async available(): Promise<RuntimeAvailability> {
    try {
      await this.docker.ping();
    } catch (error) {
      return { ok: false, reason: `the Docker daemon does not answer: ${oneLine(error)}` };
    }
    if (this.name === 'docker' || this.runscFound) return { ok: true };
    try {
      const info = (await this.docker.info()) as { Runtimes?: Record<string, unknown> };
      this.runscFound = info.Runtimes !== undefined && 'runsc' in info.Runtimes;
      if (this.runscFound) return { ok: true };
      return { ok: false, reason: 'Docker has no runsc runtime registered (/etc/docker/daemon.json)' };
    } catch (error) {
      return { ok: false, reason: `cannot list Docker runtimes: ${oneLine(error)}` };
    }
  }

  /**
   * runc binds the egress socket like any directory and the image has the forwarder's Python. runsc, as this
   * deployment registers it, refuses connections to host unix sockets (that needs its `--host-uds=open`).
   */
  /**
   * Egress reaches the service's proxy through a unix socket bound into the container. runc connects to it
   * as any program does; gVisor only when Docker runs runsc with `--host-uds=open` (or `all`), which lets the
   * sandbox connect to host sockets bound into it, and no others.
   */
  async egressAvailable(): Promise<RuntimeAvailability> {
    if (this.name === 'docker') return { ok: true };
    try {
      const info = (await this.docker.info()) as {
        Runtimes?: Record<string, { runtimeArgs?: unknown } | undefined>;
      };
      const args = info.Runtimes?.['runsc']?.runtimeArgs;
      if (Array.isArray(args) && args.some((arg) => /^--?host-uds=(open|all)$/.test(String(arg)))) {
        return { ok: true };
      }
    } catch (error) {
      return { ok: false, reason: `cannot list Docker runtimes: ${oneLine(error)}` };
    }
    return {
      ok: false,
      reason:
        "gVisor cannot connect to the egress proxy's unix socket unless Docker runs runsc with --host-uds=open",
    };
  }

  async create(sandbox: ContainerSandbox): Promise<void> {
    checkSandbox(sandbox);
    await this.prepareHostDirs(sandbox);
    const container = this.container(sandbox.id);
    const state = await inspectState(container);
    if (state === 'running') return;
    if (state === 'missing') {
      // Docker binds by path: each mount source must still be the directory accepted, right before it does.
      await closeAll((await openHostBinds(sandbox.binds ?? [])).values());
      try {
        await this.docker.createContainer(this.containerSpec(sandbox));
      } catch (error) {
        // Another create of the same sandbox got there first: the name is taken, the container is ours.
        if (statusOf(error) !== 409) {
          throw new SandboxError('runtime_unavailable', `cannot create the container: ${oneLine(error)}`);
        }
      }
    }
    try {
      await container.start();
    } catch (error) {
      // 304: already started by a concurrent create.
      if (statusOf(error) !== 304) {
        throw new SandboxError('runtime_unavailable', `cannot start the container: ${oneLine(error)}`);
      }
    }
  }

  /**
   * The sandbox's memory, CPU and pid limits on its running container (a claimed warm-pool entry), by the
   * same pid rule as at creation. runsc has no `update`, so Docker cannot change a gVisor container's limits:
   * the warm pool lets only a spec with the pool's own resources claim a gVisor entry.
   */
  async applyResources(sandbox: ContainerSandbox): Promise<void> {
    checkSandbox(sandbox);
    if (this.name === 'gvisor') {
      throw new SandboxError('runtime_unavailable', "gVisor cannot change a running container's limits");
    }
    const { resources } = sandbox;
    const memory = resources.memoryMb * MIB;
    try {
      await this.container(sandbox.id).update({
        Memory: memory,
        MemorySwap: memory,
        NanoCpus: Math.round(resources.cpus * 1e9),
        PidsLimit: this.pidLimits(resources.pids).PidsLimit,
      });
    } catch (error) {
      throw new SandboxError(
        'runtime_unavailable',
        `cannot update the container's limits: ${oneLine(error)}`,
      );
    }
  }

  async exec(sandbox: ContainerSandbox, exec: ExecStart): Promise<ExecHandle> {
    checkSandbox(sandbox);
    checkExec(exec, [MARKER]);
    const inside = insideDir(sandbox, exec.dir);
    // The container exists and runs, also for a sandbox created before a restart or stopped since.
    await this.create(sandbox);
    await this.prepareExecDir(exec);

    const env = {
      ...DEFAULT_ENV,
      ...sandbox.env,
      ...exec.env,
      // RLIMIT_FSIZE in dash's 512-byte blocks: no single file, output included, grows past the disk budget.
      AIBOX_FSIZE: String(sandbox.resources.diskMb * 2_048),
    };
    const container = this.container(sandbox.id);
    let started: Docker.Exec;
    try {
      started = await container.exec({
        Cmd: ['/bin/sh', '-c', wrapper(sandbox.egress === true), 'sh', inside, ...exec.argv],
        User: SANDBOX_USER,
        WorkingDir: exec.cwd === '' ? '/workspace' : exec.cwd,
        Env: [...Object.entries(env).map(([name, value]) => `${name}=${value}`), marker(exec.execId)],
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        Tty: false,
      });
      await started.start({ Detach: true, Tty: false });
    } catch (error) {
      throw new SandboxError('runtime_unavailable', `cannot start the exec: ${oneLine(error)}`);
    }
    const info = await started.inspect();

    const ended = endOrTimeout(
      exec.timeoutS,
      this.execEnded(started),
      () => this.kill(sandbox, exec.execId),
      (error: unknown) => {
        this.logger.error(
          { err: error, sandboxId: sandbox.id, execId: exec.execId },
          'cannot kill a timed-out exec',
        );
      },
    ).then(async ({ timedOut }): Promise<ExecEnd> => {
      const exitCode = await readExitCode(exec.dir);
      if (exitCode !== null || timedOut || !(await this.oomKilled(sandbox.id))) return { exitCode, timedOut };
      // Under gVisor the host's OOM killer takes the sandbox kernel, with every program in it: they were
      // killed as a hog is under runc (SIGKILL, 137). The next exec starts the container again.
      await recordExitCode(exec.dir, OOM_KILLED_STATUS);
      return { exitCode: OOM_KILLED_STATUS, timedOut };
    });
    return { pid: info.Pid, ended };
  }

  async kill(sandbox: RuntimeSandbox, execId: string): Promise<void> {
    checkName('exec id', execId);
    const deadline = Date.now() + KILL_DEADLINE_MS;
    try {
      for (;;) {
        const code = await this.reaper(sandbox.id, execId, 'kill', deadline);
        if (code === 0 || code === undefined) return;
        if (Date.now() > deadline) throw new Error(`processes of ${sandbox.id}/${execId} survived SIGKILL`);
      }
    } catch (error) {
      // A fork bomb can hold every process slot the sandbox's user has, so that not even the reaper starts
      // (under gVisor, RLIMIT_NPROC counts it too). Then the container is stopped: every process in it dies,
      // this exec's included, and the next exec starts it again.
      this.logger.warn(
        { err: error, sandboxId: sandbox.id, execId },
        'cannot reap an exec inside its container; stopping the container',
      );
      await this.stop(sandbox);
    }
  }

  async running(sandbox: RuntimeSandbox, execId: string): Promise<boolean> {
    checkName('exec id', execId);
    return (await this.reaper(sandbox.id, execId, 'probe', Date.now() + KILL_DEADLINE_MS)) === 0;
  }

  /** Stops the container (SIGKILL through tini at once: the execs were killed before); `create` restarts it. */
  async stop(sandbox: RuntimeSandbox): Promise<void> {
    checkName('sandbox id', sandbox.id);
    try {
      await this.container(sandbox.id).stop({ t: 0 });
    } catch (error) {
      // 304: not running; 404: no container (the next `create` makes one).
      const status = statusOf(error);
      if (status !== 304 && status !== 404) throw error;
    }
  }

  async destroy(sandbox: RuntimeSandbox): Promise<void> {
    checkName('sandbox id', sandbox.id);
    await removeContainer(this.container(sandbox.id));
  }

  /** Whether the container stopped because the host's OOM killer killed it. */
  private async oomKilled(sandboxId: string): Promise<boolean> {
    try {
      const { State } = await this.container(sandboxId).inspect();
      return !State.Running && State.OOMKilled;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  private container(sandboxId: string): Docker.Container {
    return this.docker.getContainer(`${CONTAINER_PREFIX}${sandboxId}`);
  }

  private containerSpec(sandbox: ContainerSandbox): Docker.ContainerCreateOptions {
    const { resources } = sandbox;
    const sandboxDir = dirname(sandbox.workspaceDir);
    const memory = resources.memoryMb * MIB;
    return {
      name: `${CONTAINER_PREFIX}${sandbox.id}`,
      Image: sandbox.image ?? this.image,
      Labels: { [`${this.labelPrefix}.id`]: sandbox.id, [`${this.labelPrefix}.runtime`]: this.name },
      User: SANDBOX_USER,
      WorkingDir: '/workspace',
      Env: Object.entries(DEFAULT_ENV).map(([name, value]) => `${name}=${value}`),
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        ...this.pidLimits(resources.pids),
        Memory: memory,
        MemorySwap: memory,
        NanoCpus: Math.round(resources.cpus * 1e9),
        ReadonlyRootfs: true,
        Tmpfs: {
          '/tmp': `rw,nosuid,nodev,size=${resources.diskMb}m`,
          '/run': 'rw,nosuid,nodev,noexec,size=16m',
        },
        Binds: [
          `${sandbox.workspaceDir}:/workspace:rw`,
          ...EXEC_MOUNTS.map(([name, inside]) => `${join(sandboxDir, name)}:${inside}:rw`),
        ],
        // The spec's mounts and the credential files: structured, so no character of a path is misread.
        Mounts: (sandbox.binds ?? []).map((bind) => ({
          Type: 'bind' as const,
          Source: bind.source,
          Target: bind.target,
          ReadOnly: !bind.writable,
          BindOptions: { Propagation: 'rprivate' as const },
        })),
        // tini is the image's entrypoint; a second init would only sit in between.
        Init: false,
        RestartPolicy: { Name: 'no' },
        ...(this.name === 'gvisor' ? { Runtime: 'runsc' } : {}),
      },
    };
  }

  /**
   * Under runc, the container's processes are host processes and `PidsLimit` counts them. Under gVisor the
   * host sees only the sandbox kernel's threads (Go's, growing with each `runsc exec`): a `PidsLimit` sized
   * for the programs starves it, and the whole container dies with the first exec that ends. There the
   * programs are held by RLIMIT_NPROC, which gVisor's kernel enforces over its own processes (the container
   * is one user's alone), and the host limit only bounds the sandbox kernel.
   */
  private pidLimits(pids: number): Pick<Docker.HostConfig, 'PidsLimit' | 'Ulimits'> {
    if (this.name === 'docker') return { PidsLimit: pids };
    return {
      PidsLimit: pids + GVISOR_HOST_THREADS,
      Ulimits: [{ Name: 'nproc', Soft: pids, Hard: pids }],
    };
  }

  /**
   * The container's user owns the workspace and each exec's directory. The directories holding those stay
   * root's (traversable only): a sandbox that could create entries there could plant a symlink where the
   * service later writes as root.
   */
  private async prepareHostDirs(sandbox: ContainerSandbox): Promise<void> {
    const sandboxDir = dirname(sandbox.workspaceDir);
    await mkdir(sandbox.workspaceDir, { recursive: true, mode: 0o700 });
    await chown(sandbox.workspaceDir, SANDBOX_UID, SANDBOX_UID);
    for (const [name] of EXEC_MOUNTS) {
      const dir = join(sandboxDir, name);
      await mkdir(dir, { recursive: true, mode: 0o711 });
      await chown(dir, 0, 0);
      await chmod(dir, 0o711);
    }
  }

  private async prepareExecDir(exec: ExecStart): Promise<void> {
    await mkdir(exec.dir, { recursive: true, mode: 0o700 });
    const entry = await lstat(exec.dir);
    if (!entry.isDirectory()) throw new Error(`exec dir is not a directory: ${exec.dir}`);
    await chown(exec.dir, SANDBOX_UID, SANDBOX_UID);
    await chmod(exec.dir, 0o700);
    await Promise.all(
      ['exit_code', 'exit_code.tmp', 'pgid', 'pgid.tmp', 'stdin', 'stdout', 'stderr'].map((name) =>
        rm(join(exec.dir, name), { force: true }),
      ),
    );
    // `wx` never follows a link the sandbox may have left in a reused directory.
    if (exec.stdin !== undefined) await writeOwned(join(exec.dir, 'stdin'), exec.stdin);
    await writeOwned(join(exec.dir, 'stdout'), '');
    await writeOwned(join(exec.dir, 'stderr'), '');
  }

  private async execEnded(exec: Docker.Exec): Promise<void> {
    for (;;) {
      try {
        if (!(await exec.inspect()).Running) return;
      } catch (error) {
        // The container (and the exec with it) is gone.
        if (statusOf(error) === 404) return;
        this.logger.warn({ err: error, execId: exec.id }, 'cannot inspect an exec');
      }
      await sleep(EXEC_POLL_MS);
    }
  }

  /**
   * Runs REAPER in the container; its exit code, or undefined when the container does not run (no process
   * of it can either). Retried while the container has no pid to spare (a fork bomb).
   */
  private async reaper(
    sandboxId: string,
    execId: string,
    mode: 'kill' | 'probe',
    deadline: number,
  ): Promise<number | undefined> {
    const container = this.container(sandboxId);
    for (;;) {
      try {
        const exec = await container.exec({
          Cmd: ['/bin/sh', '-c', REAPER, 'sh', marker(execId), mode],
          User: SANDBOX_USER,
          Env: [`PATH=${DEFAULT_ENV['PATH'] ?? ''}`],
          AttachStdout: false,
          AttachStderr: false,
        });
        await exec.start({ Detach: true });
        for (;;) {
          const info = await exec.inspect();
          if (!info.Running) {
            if (info.ExitCode !== null && info.ExitCode <= 1) return info.ExitCode;
            // 126/127 and the like: the shell itself could not start (no pid left); try again.
            break;
          }
          await sleep(HELPER_POLL_MS);
        }
      } catch (error) {
        const status = statusOf(error);
        if (status === 404 || (status === 409 && /not running|paused/i.test(oneLine(error))))
          return undefined;
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) {
        throw new Error(`cannot run the exec reaper in sandbox ${sandboxId}`);
      }
      await sleep(HELPER_POLL_MS);
    }
  }
}

/** Removes the runtime's containers whose sandbox the store does not know (recovery at start); returns their ids. */
export async function removeOrphanContainers(
  docker: Docker,
  labelPrefix: string,
  knownIds: ReadonlySet<string>,
): Promise<string[]> {
  const label = `${labelPrefix}.id`;
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  const removed: string[] = [];
  for (const info of containers) {
    const id = info.Labels[label];
    if (id === undefined || knownIds.has(id)) continue;
    await removeContainer(docker.getContainer(info.Id));
    removed.push(id);
  }
  return removed;
}

async function removeContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return;
    // 409: a removal already under way; done once the container is gone.
    if (status !== 409) throw error;
    const deadline = Date.now() + KILL_DEADLINE_MS;
    while ((await inspectState(container)) !== 'missing') {
      if (Date.now() > deadline) throw error;
      await sleep(HELPER_POLL_MS * 5);
    }
  }
}

async function inspectState(container: Docker.Container): Promise<'running' | 'stopped' | 'missing'> {
  try {
    const info = await container.inspect();
    return info.State.Running ? 'running' : 'stopped';
  } catch (error) {
    if (statusOf(error) === 404) return 'missing';
    throw error;
  }
}

/** The exec's directory as the container sees it: one of the bound directories beside the workspace. */
function insideDir(sandbox: RuntimeSandbox, dir: string): string {
  const sandboxDir = dirname(sandbox.workspaceDir);
  for (const [name, inside] of EXEC_MOUNTS) {
    if (dirname(dir) === join(sandboxDir, name)) return `${inside}/${basename(dir)}`;
  }
  throw new Error(
    `exec dir ${dir} is not in ${EXEC_MOUNTS.map(([name]) => join(sandboxDir, name)).join(' or ')}`,
  );
}

async function writeOwned(path: string, content: string): Promise<void> {
  await writeFile(path, content, { flag: 'wx', mode: 0o600 });
  await chown(path, SANDBOX_UID, SANDBOX_UID);
}

function checkSandbox(sandbox: RuntimeSandbox): void {
  checkName('sandbox id', sandbox.id);
  if (!isAbsolute(sandbox.workspaceDir))
    throw new Error(`workspace must be absolute: ${sandbox.workspaceDir}`);
  checkResources(sandbox.resources);
  checkEnv(sandbox.env, [MARKER]);
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.trim() ?? 'unknown error';
}
