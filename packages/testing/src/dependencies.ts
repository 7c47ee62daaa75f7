import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** Real things a test may need; each is used when present and skipped (or failed, when required) when not. */
export const DEPENDENCIES = [
  'postgres',
  'redis',
  'docker',
  'gvisor',
  'chromium',
  'bubblewrap',
  'nginx',
] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

export interface Presence {
  readonly present: boolean;
  /** Why it is absent (or what was found), in one line. */
  readonly reason: string;
}

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const CHROMIUM_PATH = '/usr/bin/chromium';

export function postgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env['DATABASE_URL'] ?? DEFAULT_POSTGRES_URL;
}

export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env['REDIS_URL'] ?? DEFAULT_REDIS_URL;
}

/** `AIBOX_TEST_REQUIRE=docker,gvisor,…`: a listed dependency that is absent fails the run instead of skipping. */
export function requiredDependencies(env: NodeJS.ProcessEnv = process.env): ReadonlySet<Dependency> {
  const listed = (env['AIBOX_TEST_REQUIRE'] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = listed.filter((name) => !(DEPENDENCIES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`AIBOX_TEST_REQUIRE names unknown dependencies: ${unknown.join(', ')}`);
  }
  return new Set(listed as Dependency[]);
}

const present = (reason: string): Presence => ({ present: true, reason });
const absent = (reason: string): Presence => ({ present: false, reason });

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.trim() ?? 'unknown error';
}

async function command(file: string, args: string[], timeoutMs = 10_000): Promise<string> {
  const { stdout } = await run(file, args, { timeout: timeoutMs });
  return stdout.trim();
}

async function probePostgres(): Promise<Presence> {
  const url = postgresUrl();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    const result = await client.query<{ version: string }>('select version() as version');
    return present(result.rows[0]?.version.split(' ').slice(0, 2).join(' ') ?? 'PostgreSQL');
  } catch (error) {
    return absent(`PostgreSQL not reachable at ${new URL(url).host}: ${oneLine(error)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function probeRedis(): Promise<Presence> {
  const url = redisUrl();
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return present('Redis answered PING');
  } catch (error) {
    return absent(`Redis not reachable at ${new URL(url).host}: ${oneLine(error)}`);
  } finally {
    client.disconnect();
  }
}

async function probeDocker(): Promise<Presence> {
  try {
    const version = await command('docker', ['info', '--format', '{{.ServerVersion}}']);
    return present(`Docker engine ${version}`);
  } catch (error) {
    return absent(`no Docker engine: ${oneLine(error)}`);
  }
}

async function probeGvisor(): Promise<Presence> {
  const docker = await probe('docker');
  if (!docker.present) return absent(`gVisor needs Docker: ${docker.reason}`);
  try {
    const runtimes = await command('docker', ['info', '--format', '{{json .Runtimes}}']);
    return runtimes.includes('runsc')
      ? present('Docker has the runsc runtime')
      : absent('Docker has no runsc runtime registered (/etc/docker/daemon.json)');
  } catch (error) {
    return absent(`cannot list Docker runtimes: ${oneLine(error)}`);
  }
}

async function probeChromium(): Promise<Presence> {
  try {
    return present(await command(CHROMIUM_PATH, ['--version']));
  } catch (error) {
    return absent(`no Chromium at ${CHROMIUM_PATH}: ${oneLine(error)}`);
  }
}

async function probeBubblewrap(): Promise<Presence> {
  try {
    await command('bwrap', ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', 'true']);
    return present('bwrap can create namespaces');
  } catch (error) {
    return absent(`bubblewrap unusable: ${oneLine(error)}`);
  }
}

async function probeNginx(): Promise<Presence> {
  try {
    await command('nginx', ['-v']);
    return present('nginx installed');
  } catch (error) {
    return absent(`no nginx: ${oneLine(error)}`);
  }
}

const probes: Record<Dependency, () => Promise<Presence>> = {
  postgres: probePostgres,
  redis: probeRedis,
  docker: probeDocker,
  gvisor: probeGvisor,
  chromium: probeChromium,
  bubblewrap: probeBubblewrap,
  nginx: probeNginx,
};

const cache = new Map<Dependency, Promise<Presence>>();

/** Whether a dependency is usable on this machine (probed once per process). */
export function probe(dependency: Dependency): Promise<Presence> {
  let result = cache.get(dependency);
  if (result === undefined) {
    result = probes[dependency]();
    cache.set(dependency, result);
  }
  return result;
}

/**
 * Decides whether tests needing `dependency` run: true when it is present; false (after one line saying
 * why) when it is absent; throws when it is absent but listed in AIBOX_TEST_REQUIRE.
 *
 *   const postgres = await needs('postgres');
 *   describe.runIf(postgres)('on PostgreSQL', () => { … });
 */
export async function needs(dependency: Dependency, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const presence = await probe(dependency);
  if (presence.present) return true;
  if (requiredDependencies(env).has(dependency)) {
    throw new Error(`required test dependency ${dependency} is absent: ${presence.reason}`);
  }
  process.stderr.write(`skip ${dependency}: ${presence.reason}\n`);
  return false;
}
