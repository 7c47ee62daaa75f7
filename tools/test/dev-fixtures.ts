import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a fixture service behaves; every field is optional. */
export interface FixtureBehaviour {
  /** Lines printed to stdout right after start. */
  lines?: string[];
  /** Exit with this code right after printing `lines`, before serving anything. */
  exitBeforeReady?: number;
  /** `/readyz` answers 503 until this long after start. */
  readyAfterMs?: number;
  /** `/readyz` never answers 200. */
  neverReady?: boolean;
  /** Print "crashing now" and exit with `exitCode` this long after `/readyz` first answered 200. */
  exitAfterReadyMs?: number;
  exitCode?: number;
  /** Print a line on SIGTERM and keep running. */
  ignoreSigterm?: boolean;
  /** Start a long-running child process (recording its pid as `<name>.grandchild.pid`). */
  grandchild?: boolean;
  /** At start, GET this URL once and print `peer status <code>` (or `peer status none`). */
  checkPeer?: string;
}

export interface FixtureService {
  name: string;
  port: number;
  order: number;
  behaviour?: FixtureBehaviour;
}

/** A temporary fake repository whose `services/*` are tiny node:http scripts. */
export interface FakeRepo {
  readonly root: string;
  /** Where fixture services record their pid and environment, outside the repository. */
  readonly outDir: string;
  /** A data dir for the runner, outside the repository. */
  readonly dataDir: string;
  remove(): Promise<void>;
}

/** The environment variables a fixture service records (never printed). */
export const RECORDED_ENV = [
  'PORT',
  'HOST',
  'AIBOX_ENV',
  'AIBOX_DATA_DIR',
  'AIBOX_PRINCIPAL_KEYS',
  'AIBOX_CAPTOKEN_KEYS',
  'AIBOX_CREDENTIALS_KEY',
  'INTERNAL_AUTH_CLIENT_SECRET',
  'AUDIT_SIGNING_KEYS',
  'GATEWAY_STATIC_DIR',
] as const;

function serviceScript(name: string, outDir: string, behaviour: FixtureBehaviour): string {
  return `'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const cfg = ${JSON.stringify(behaviour)};
const out = ${JSON.stringify(outDir)};
const name = ${JSON.stringify(name)};
const recorded = {};
for (const key of ${JSON.stringify(RECORDED_ENV)}) recorded[key] = process.env[key];
recorded.cwd = process.cwd();
fs.writeFileSync(path.join(out, name + '.env.json'), JSON.stringify(recorded));
fs.writeFileSync(path.join(out, name + '.pid'), String(process.pid));
for (const line of cfg.lines || []) console.log(line);
if (cfg.exitBeforeReady !== undefined) process.exit(cfg.exitBeforeReady);
if (cfg.ignoreSigterm) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
if (cfg.grandchild) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(out, name + '.grandchild.pid'), String(child.pid));
}
if (cfg.checkPeer) {
  http.get(cfg.checkPeer, { agent: false }, (res) => { res.resume(); console.log('peer status ' + res.statusCode); })
    .on('error', () => console.log('peer status none'));
}
const startedAt = Date.now();
let readySeen = false;
const server = http.createServer((req, res) => {
  if (req.url === '/readyz') {
    const ready = !cfg.neverReady && Date.now() - startedAt >= (cfg.readyAfterMs || 0);
    if (ready && !readySeen) {
      readySeen = true;
      if (cfg.exitAfterReadyMs !== undefined) {
        setTimeout(() => { console.error('crashing now'); process.exit(cfg.exitCode || 0); }, cfg.exitAfterReadyMs);
      }
    }
    res.writeHead(ready ? 200 : 503, { connection: 'close' });
    res.end(ready ? 'ok' : 'starting');
    return;
  }
  res.writeHead(404, { connection: 'close' });
  res.end();
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`;
}

/** Writes a fake repository with the given services (each with a package.json, a start script and dist/main.js). */
export async function createFakeRepo(services: readonly FixtureService[]): Promise<FakeRepo> {
  const base = await mkdtemp(join(tmpdir(), 'aibox-dev-runner-'));
  const root = join(base, 'repo');
  const outDir = join(base, 'out');
  const dataDir = join(base, 'data');
  await mkdir(join(root, 'services'), { recursive: true });
  await mkdir(outDir);
  for (const service of services) {
    const dir = join(root, 'services', service.name);
    await mkdir(join(dir, 'dist'), { recursive: true });
    const pkg = {
      name: `@aibox/${service.name}`,
      private: true,
      scripts: { start: 'node dist/main.js' },
      aibox: { port: service.port, order: service.order },
    };
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    await writeFile(
      join(dir, 'dist', 'main.js'),
      serviceScript(service.name, outDir, service.behaviour ?? {}),
    );
  }
  return {
    root,
    outDir,
    dataDir,
    remove: () => rm(base, { recursive: true, force: true }),
  };
}

/** Ports that were free a moment ago (bound to port 0, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('no port');
    }
    ports.push(address.port);
    servers.push(server);
  }
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** The pid a fixture recorded under `<file>` in the out dir, or undefined when it never started. */
export async function recordedPid(repo: FakeRepo, file: string): Promise<number | undefined> {
  const path = join(repo.outDir, file);
  return existsSync(path) ? Number(await readFile(path, 'utf8')) : undefined;
}

/** The environment a fixture service was started with. */
export async function recordedEnv(
  repo: FakeRepo,
  service: string,
): Promise<Record<string, string | undefined>> {
  return JSON.parse(await readFile(join(repo.outDir, `${service}.env.json`), 'utf8')) as Record<
    string,
    string | undefined
  >;
}

/**
 * Whether a process with this pid is running: signal 0 checks that it exists, and on Linux a zombie (dead, but
 * not yet reaped by whoever inherited it) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

/** Waits until `check` holds, polling; throws after `timeoutMs` (a bound on waiting, not a timing assertion). */
export async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('condition not reached');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
