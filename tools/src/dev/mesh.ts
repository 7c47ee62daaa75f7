import { access, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

import { prepareDevEnvironment, reachableHost, WEB_APP_DIR, type ShellEnv } from './dev-environment.js';
import { DevRunnerError } from './dev-runner.error.js';
import { MeshOutput, type LineWriter } from './mesh-output.js';
import { describePortConflict, findPortConflicts, type PortClaim } from './ports.js';
import { waitForReady } from './readiness.js';
import { discoverServices, startWaves, type ServiceSpec } from './service-discovery.js';
import { describeExit, ServiceProcess, type ServiceExit } from './service-process.js';

/** What `startMesh` needs; only `rootDir` is required. */
export interface StartMeshOptions {
  /** The repository root: services are found under `<rootDir>/services` and run with it as working directory. */
  readonly rootDir: string;
  /** The shell environment; its non-empty values win over every default. Defaults to `process.env`. */
  readonly env?: ShellEnv;
  /** Receives each output line (no trailing newline). Defaults to standard output. */
  readonly write?: LineWriter;
  /** Colour the output. Defaults to true when standard output is a terminal and `NO_COLOR` is not set. */
  readonly colour?: boolean;
  /** Show service output exactly as printed. Defaults to `AIBOX_DEV_RAW_LOGS=1`. */
  readonly rawLogs?: boolean;
  /** How long each service may take to answer 200 on `/readyz` (default 60 s). */
  readonly readyTimeoutMs?: number;
  /**
   * How long a service gets between SIGTERM and SIGKILL when stopping; by default its own drain time
   * (`SHUTDOWN_GRACE_MS`, 10 s unless set) plus 2 s.
   */
  readonly stopGraceMs?: number;
  /** Aborting it during start-up stops what was started and rejects with `start_aborted`. */
  readonly signal?: AbortSignal;
}

/** A service of a running mesh. */
export interface MeshService {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
}

/** How a mesh ended: stopped on request, or because a service exited on its own. */
export type MeshOutcome =
  | { readonly reason: 'stopped' }
  | {
      readonly reason: 'service_exited';
      readonly service: string;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly lastLines: readonly string[];
    };

/** A started mesh: every service answered 200 on `/readyz`. */
export interface Mesh {
  readonly rootDir: string;
  readonly dataDir: string;
  /** The environment services got (minus their `PORT`); it holds the dev keys, so never print it. */
  readonly env: Readonly<Record<string, string>>;
  /** In start order; empty when the repository has no services yet. */
  readonly services: readonly MeshService[];
  /** The gateway's URL, when the mesh has a gateway. */
  readonly gatewayUrl: string | undefined;
  /** The login the identity service left for developers, when it has. */
  readonly login: readonly string[] | undefined;
  /** Resolves once every service has stopped. */
  readonly done: Promise<MeshOutcome>;
  /** Stops every service (SIGTERM, then SIGKILL after the grace period); resolves like `done`. */
  stop(): Promise<MeshOutcome>;
  /** SIGKILLs every service at once, synchronously; for `process.on('exit')`. */
  kill(): void;
  /** Prints a line of the runner's own (prefixed `dev`) to the mesh output. */
  print(text: string): void;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** The platform's default `SHUTDOWN_GRACE_MS`: how long a service drains in-flight requests on SIGTERM. */
const SERVICE_SHUTDOWN_GRACE_MS = 10_000;
/** Time on top of a service's own drain before the runner kills it. */
const STOP_GRACE_MARGIN_MS = 2_000;
const READY_POLL_INTERVAL_MS = 100;
/** The file the identity service writes a development login to, relative to `AIBOX_DATA_DIR`. */
export const DEV_LOGIN_FILE = join('identity', 'dev-credentials.txt');
const MAX_LOGIN_LINES = 10;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function indentLines(lines: readonly string[]): string {
  return lines.length === 0
    ? 'It printed nothing.'
    : `Its last lines:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

function defaultStopGraceMs(env: Readonly<Record<string, string>>): number {
  const configured = Number(env['SHUTDOWN_GRACE_MS']);
  const drain = Number.isSafeInteger(configured) && configured >= 0 ? configured : SERVICE_SHUTDOWN_GRACE_MS;
  return drain + STOP_GRACE_MARGIN_MS;
}

async function readLogin(dataDir: string): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, DEV_LOGIN_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(0, MAX_LOGIN_LINES);
  return lines.length > 0 ? lines : undefined;
}

async function checkBuilt(rootDir: string, services: readonly ServiceSpec[]): Promise<void> {
  const missing: string[] = [];
  for (const service of services) {
    try {
      await access(service.entry);
    } catch {
      missing.push(relative(rootDir, service.entry));
    }
  }
  if (missing.length > 0) {
    throw new DevRunnerError('service_not_built', `${missing.join(', ')} missing; run make build`);
  }
}

async function checkPorts(services: readonly ServiceSpec[], host: string): Promise<void> {
  const claims: PortClaim[] = services.flatMap((service) => [
    { port: service.port, service: service.name, kind: 'HTTP' as const },
    ...(service.grpcPort === undefined
      ? []
      : [{ port: service.grpcPort, service: service.name, kind: 'gRPC' as const }]),
  ]);
  const conflicts = await findPortConflicts(claims, host);
  if (conflicts.length > 0) {
    throw new DevRunnerError('port_taken', `\n${conflicts.map(describePortConflict).join('\n')}`, {
      ports: conflicts.map((conflict) => conflict.port),
      ...(conflicts.length === 1 && conflicts[0] !== undefined ? { service: conflicts[0].service } : {}),
    });
  }
}

/** The error raised when start-up cannot finish; a service's own exit wins over everything else. */
type StartFailure =
  { kind: 'exited'; serviceProcess: ServiceProcess; exit: ServiceExit } | { kind: 'aborted' };

class RunningMesh implements Mesh {
  readonly services: MeshService[] = [];
  gatewayUrl: string | undefined;
  login: readonly string[] | undefined;
  readonly done: Promise<MeshOutcome>;

  private readonly processes: ServiceProcess[] = [];
  private readonly startup = new AbortController();
  private startFailure: StartFailure | undefined;
  private outcome: MeshOutcome | undefined;
  private stopping: Promise<MeshOutcome> | undefined;
  private running = false;
  private resolveDone: (outcome: MeshOutcome) => void = () => undefined;

  constructor(
    readonly rootDir: string,
    readonly dataDir: string,
    readonly env: Readonly<Record<string, string>>,
    private readonly host: string,
    private readonly output: MeshOutput,
    private readonly settings: { readyTimeoutMs: number; stopGraceMs: number },
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Starts the services wave by wave (one wave per `order` value), each wave only once the previous is ready. */
  async start(services: readonly ServiceSpec[], signal: AbortSignal | undefined): Promise<void> {
    const onAbort = (): void => {
      this.startFailure ??= { kind: 'aborted' };
      this.startup.abort();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted === true) {
        onAbort();
      }
      for (const wave of startWaves(services)) {
        this.throwIfStartFailed();
        const started = wave.map((spec) => this.spawn(spec));
        await Promise.all(started.map((serviceProcess) => this.awaitReady(serviceProcess)));
      }
      this.throwIfStartFailed();
      this.running = true;
    } catch (error) {
      this.startup.abort();
      await this.stop();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    await this.announce();
  }

  stop(): Promise<MeshOutcome> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  kill(): void {
    for (const serviceProcess of this.processes) {
      serviceProcess.kill();
    }
  }

  print(text: string): void {
    this.output.runner(text);
  }

  private spawn(spec: ServiceSpec): ServiceProcess {
    this.output.runner(`starting ${spec.name} on port ${spec.port}`);
    const serviceProcess = ServiceProcess.start(spec, {
      cwd: this.rootDir,
      env: { ...this.env, PORT: String(spec.port) },
      onLine: (line) => {
        this.output.service(spec.name, line);
      },
    });
    this.processes.push(serviceProcess);
    void serviceProcess.exited.then((exit) => {
      this.onExit(serviceProcess, exit);
    });
    return serviceProcess;
  }

  private url(spec: ServiceSpec): string {
    return `http://${this.host}:${spec.port}`;
  }

  private async awaitReady(serviceProcess: ServiceProcess): Promise<void> {
    const { spec } = serviceProcess;
    const started = Date.now();
    const result = await waitForReady(`${this.url(spec)}/readyz`, {
      timeoutMs: this.settings.readyTimeoutMs,
      intervalMs: READY_POLL_INTERVAL_MS,
      signal: this.startup.signal,
      onProgress: (waited) => {
        this.output.runner(`still waiting for ${spec.name} to answer 200 on /readyz (${seconds(waited)})`);
      },
    });
    switch (result) {
      case 'ready':
        this.output.runner(`${spec.name} ready at ${this.url(spec)} (${seconds(Date.now() - started)})`);
        this.services.push({
          name: spec.name,
          port: spec.port,
          url: this.url(spec),
          pid: serviceProcess.pid ?? 0,
        });
        return;
      case 'timeout':
        throw new DevRunnerError(
          'service_not_ready',
          `${spec.name} did not answer 200 on ${this.url(spec)}/readyz within ${seconds(this.settings.readyTimeoutMs)}. ` +
            indentLines(this.output.lastLines(spec.name)),
          { service: spec.name, lastLines: this.output.lastLines(spec.name) },
        );
      case 'aborted':
        this.throwIfStartFailed();
        return;
    }
  }

  private throwIfStartFailed(): void {
    const failure = this.startFailure;
    if (failure === undefined) {
      return;
    }
    switch (failure.kind) {
      case 'aborted':
        throw new DevRunnerError('start_aborted', 'stopped every service that had started');
      case 'exited': {
        const { name } = failure.serviceProcess.spec;
        const lastLines = this.output.lastLines(name);
        throw new DevRunnerError(
          'service_exited',
          `${name} exited ${describeExit(failure.exit)} before it became ready. ${indentLines(lastLines)}`,
          { service: name, lastLines },
        );
      }
    }
  }

  private onExit(serviceProcess: ServiceProcess, exit: ServiceExit): void {
    if (this.stopping !== undefined) {
      return;
    }
    const { name } = serviceProcess.spec;
    if (!this.running) {
      this.startFailure ??= { kind: 'exited', serviceProcess, exit };
      this.startup.abort();
      return;
    }
    const lastLines = this.output.lastLines(name);
    this.outcome = {
      reason: 'service_exited',
      service: name,
      code: exit.code,
      signal: exit.signal,
      lastLines,
    };
    this.output.runner(`${name} exited ${describeExit(exit)}. ${indentLines(lastLines)}`);
    void this.stop();
  }

  private async stopAll(): Promise<MeshOutcome> {
    const alive = this.processes.filter((serviceProcess) => !serviceProcess.hasExited).reverse();
    if (alive.length > 0) {
      this.output.runner(`stopping ${alive.map((serviceProcess) => serviceProcess.spec.name).join(', ')}`);
    }
    await Promise.all(
      alive.map(async (serviceProcess) => {
        const { killed } = await serviceProcess.stop(this.settings.stopGraceMs);
        if (killed) {
          this.output.runner(
            `${serviceProcess.spec.name} did not stop within ${seconds(this.settings.stopGraceMs)} of SIGTERM; killed it`,
          );
        }
      }),
    );
    await Promise.all(this.processes.map((serviceProcess) => serviceProcess.exited));
    const outcome = this.outcome ?? { reason: 'stopped' };
    if (alive.length > 0) {
      this.output.runner('every service has stopped');
    }
    this.resolveDone(outcome);
    return outcome;
  }

  /** Prints where to go once everything is ready. */
  private async announce(): Promise<void> {
    const gateway = this.services.find((service) => service.name === 'gateway');
    this.gatewayUrl = gateway?.url;
    this.login = await readLogin(this.dataDir);
    this.output.runner(`all ${this.services.length} services ready`);
    if (this.gatewayUrl !== undefined) {
      this.output.runner(`aibox: ${this.gatewayUrl}`);
    }
    for (const line of this.login ?? []) {
      this.output.runner(`login: ${line}`);
    }
  }
}

class EmptyMesh implements Mesh {
  readonly services: MeshService[] = [];
  readonly gatewayUrl = undefined;
  readonly login = undefined;
  readonly done: Promise<MeshOutcome> = Promise.resolve({ reason: 'stopped' });

  constructor(
    readonly rootDir: string,
    readonly dataDir: string,
    readonly env: Readonly<Record<string, string>>,
    private readonly output: MeshOutput,
  ) {}

  stop(): Promise<MeshOutcome> {
    return this.done;
  }

  kill(): void {
    // Nothing runs.
  }

  print(text: string): void {
    this.output.runner(text);
  }
}

/**
 * Sets up the development environment (data dir, dev keys generated once), checks the services are built and
 * their ports free, then starts every service under `<rootDir>/services` in order and waits until each answers
 * 200 on `/readyz`. Rejects with a `DevRunnerError` (having stopped whatever it started) when that fails.
 */
export async function startMesh(options: StartMeshOptions): Promise<Mesh> {
  const rootDir = resolve(options.rootDir);
  const shellEnv = options.env ?? process.env;
  const services = await discoverServices(rootDir);
  const setup = await prepareDevEnvironment(rootDir, shellEnv, services);
  const write =
    options.write ??
    ((line: string): void => {
      process.stdout.write(`${line}\n`);
    });
  const colour = options.colour ?? (process.stdout.isTTY && (shellEnv['NO_COLOR'] ?? '') === '');
  const output = new MeshOutput(
    write,
    services.map((service) => service.name),
    { colour, raw: options.rawLogs ?? shellEnv['AIBOX_DEV_RAW_LOGS'] === '1' },
  );

  if (services.length === 0) {
    output.runner(
      'no services to start: no services/*/package.json has a "start" script and an "aibox" port yet',
    );
    return new EmptyMesh(rootDir, setup.dataDir, setup.env, output);
  }

  await checkBuilt(rootDir, services);
  const host = reachableHost(shellEnv);
  await checkPorts(services, host);

  const fromRoot = relative(rootDir, setup.keysFile);
  const keys = fromRoot.startsWith('..') ? setup.keysFile : fromRoot;
  output.runner(`dev keys ${setup.keysGenerated ? 'generated into' : 'read from'} ${keys}`);
  if (setup.webApp === 'not_built' && services.some((service) => service.name === 'gateway')) {
    output.runner(
      `the web app is not built (no ${join(WEB_APP_DIR, 'index.html')}; make build builds it): the gateway starts without it`,
    );
  }
  const mesh = new RunningMesh(rootDir, setup.dataDir, setup.env, host, output, {
    readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    stopGraceMs: options.stopGraceMs ?? defaultStopGraceMs(setup.env),
  });
  await mesh.start(services, options.signal);
  return mesh;
}
