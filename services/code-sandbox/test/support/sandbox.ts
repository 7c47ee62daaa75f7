import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { Metadata } from '@grpc/grpc-js';

import {
  generateKeySetValue,
  GRPC_METADATA,
  HEADER,
  newTurnId,
  parseKeySet,
  signCapToken,
  signPrincipal,
} from '@aibox/identity';
import { bootService, type BootedService } from '@aibox/platform';
import { freePortPair, needs, requiredDependencies } from '@aibox/testing';

import type { SandboxConfigSchema } from '../../src/config/sandbox-config.schema.js';
import { DockerRuntime } from '../../src/runtimes/docker.runtime.js';
import { sandboxServiceOptions } from '../../src/sandbox.app.js';

export interface Who {
  readonly tid: string;
  readonly uid: string;
  readonly admin?: boolean;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
}

export interface TestSandboxService {
  readonly service: BootedService<SandboxConfigSchema>;
  readonly url: string;
  /** `SandboxService` (gRPC) as a grpc-js target. */
  readonly grpcTarget: string;
  readonly dataDir: string;
  /** The `process` runtime's cgroup subtree, and the label of this service's containers. */
  readonly cgroupPrefix: string;
  readonly containerLabel: string;
  readonly logs: string[];
  headers(who: Who): Record<string, string>;
  /** The gRPC metadata a caller of the mesh sends: `headers(who)` under their gRPC keys. */
  metadata(who: Who): Metadata;
  call(
    who: Who,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * Kills every process left in the cgroups under `prefix` and removes them: a test's sandboxes must not
 * outlive it, whatever state it left them in.
 */
export async function removeCgroups(prefix: string, root = '/sys/fs/cgroup'): Promise<void> {
  const tops = (await readdir(root).catch(() => [] as string[])).map((hierarchy) =>
    join(root, hierarchy, prefix),
  );
  const walk = async (dir: string): Promise<string[]> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const below = await Promise.all(
      entries.filter((entry) => entry.isDirectory()).map((entry) => walk(join(dir, entry.name))),
    );
    return [...below.flat(), dir];
  };
  for (let round = 0; round < 20; round += 1) {
    let left = 0;
    for (const top of tops) {
      for (const dir of await walk(top)) {
        const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => ''))
          .split('\n')
          .filter((pid) => pid !== '');
        left += pids.length;
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
      }
    }
    if (left === 0) break;
    await writeFile(join(root, 'freezer', prefix, 'freezer.state'), 'THAWED').catch(() => undefined);
    await new Promise((done) => setTimeout(done, 50));
  }
  for (const top of tops) {
    for (const dir of await walk(top)) await rmdir(dir).catch(() => undefined);
  }
}

/** Removes every container labelled `<label>.id` (a test's sandboxes), when Docker is there. */
export async function removeContainers(label: string): Promise<void> {
  const runtime = new DockerRuntime({
    name: 'docker',
    image: 'aibox/sandbox:latest',
    labelPrefix: label,
    logger: { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined },
  });
  if ((await runtime.available()).ok) await runtime.removeOrphans(new Set());
}

export interface SandboxSetup {
  /** Boot on this data dir and these keys (a restart); the caller removes the dir. */
  readonly state?: {
    readonly dataDir: string;
    readonly principalKeys: string;
    readonly capKeys: string;
    readonly cgroupPrefix: string;
  };
  readonly env?: Record<string, string>;
  /** Keys shared with other services of a test mesh. */
  readonly keys?: { readonly principalKeys: string; readonly capKeys: string };
}

/** Boots code-sandbox in this process on a free port, PGlite under a temporary data dir. */
export async function startSandboxService(setup: SandboxSetup = {}): Promise<TestSandboxService> {
  const dataDir = setup.state?.dataDir ?? (await mkdtemp(join(tmpdir(), 'aibox-sandbox-test-')));
  const principalKeys =
    setup.state?.principalKeys ?? setup.keys?.principalKeys ?? generateKeySetValue(['test-principal']);
  const capKeys = setup.state?.capKeys ?? setup.keys?.capKeys ?? generateKeySetValue(['test-captoken']);
  const cgroupPrefix = setup.state?.cgroupPrefix ?? `aibox-sandbox-t${randomBytes(5).toString('hex')}`;
  // This run's containers only: recovery removes containers under its label that it does not know.
  const containerLabel = `aibox.test-${cgroupPrefix.slice(-10)}`;
  const logs: string[] = [];
  const service = await bootService(
    sandboxServiceOptions(
      {
        // gRPC listens on PORT + 1000, which must be free too.
        PORT: String(await freePortPair()),
        HOST: '127.0.0.1',
        AIBOX_ENV: 'development',
        AIBOX_DATA_DIR: dataDir,
        AIBOX_PRINCIPAL_KEYS: principalKeys,
        AIBOX_CAPTOKEN_KEYS: capKeys,
        LOG_LEVEL: 'warn',
        SHUTDOWN_GRACE_MS: '1000',
        SANDBOX_CGROUP_PREFIX: cgroupPrefix,
        AIBOX_CREDENTIALS_KEY: randomBytes(32).toString('base64'),
        SANDBOX_CONTAINER_LABEL: containerLabel,
        ...setup.env,
      },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logs.push(chunk.toString('utf8'));
          callback();
        },
      }),
    ),
  );
  const principals = parseKeySet(principalKeys);
  const caps = parseKeySet(capKeys);
  const headers = (who: Who): Record<string, string> => {
    const turn = newTurnId();
    return {
      [HEADER.principal]: signPrincipal(
        {
          tid: who.tid,
          uid: who.uid,
          email: `${who.uid}@example.test`,
          roles: who.admin === true ? ['user', 'admin'] : ['user'],
          iss: 'https://idp.test',
          sub: who.uid,
        },
        principals,
      ),
      [HEADER.turnId]: turn,
      [HEADER.capToken]: signCapToken(
        { turn, tid: who.tid, uid: who.uid, caps: ['sandbox:exec', 'sandbox:manage'] },
        caps,
      ),
    };
  };
  const metadata = (who: Who): Metadata => {
    const values = headers(who);
    const out = new Metadata();
    out.set(GRPC_METADATA.principal, values[HEADER.principal] ?? '');
    out.set(GRPC_METADATA.turnId, values[HEADER.turnId] ?? '');
    out.set(GRPC_METADATA.capToken, values[HEADER.capToken] ?? '');
    return out;
  };
  return {
    service,
    url: service.httpUrl,
    grpcTarget: service.grpcUrl ?? '',
    dataDir,
    cgroupPrefix,
    containerLabel,
    logs,
    headers,
    metadata,
    async call(who, method, path, body, extra = {}) {
      const response = await fetch(`${service.httpUrl}${path}`, {
        method,
        headers: {
          ...headers(who),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extra,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      const json = ((): Record<string, unknown> => {
        try {
          return JSON.parse(text) as Record<string, unknown>;
        } catch {
          return { text };
        }
      })();
      return { status: response.status, headers: response.headers, json };
    },
    async close() {
      await service.close();
      if (setup.state === undefined) {
        await removeCgroups(cgroupPrefix);
        await removeContainers(containerLabel);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export { readSse, type SseEvent } from '@aibox/testing';

/** The status of a GET on the Docker Engine API over its socket; 0 when there is no daemon. */
function dockerApi(path: string): Promise<number> {
  return new Promise((resolve) => {
    const request = httpRequest({ socketPath: '/var/run/docker.sock', path, method: 'GET' }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', () => {
      resolve(0);
    });
    request.end();
  });
}

/** The image the container runtimes' tests run (`make sandbox-image`). */
export const SANDBOX_IMAGE = 'aibox/sandbox:latest';

/**
 * Whether a container runtime's tests can run: the dependency (`docker`, or `gvisor`: runsc registered) is
 * there and Docker has the sandbox image. Without them the tests skip, unless AIBOX_TEST_REQUIRE names the
 * dependency: then this throws, and the suite fails instead of passing with nothing run.
 */
export async function containerRuntimeUsable(dependency: 'docker' | 'gvisor'): Promise<boolean> {
  if (!(await needs(dependency))) return false;
  if ((await dockerApi(`/images/${encodeURIComponent(SANDBOX_IMAGE)}/json`)) === 200) return true;
  const reason = `image ${SANDBOX_IMAGE} is missing (make sandbox-image)`;
  if (requiredDependencies().has(dependency)) throw new Error(`required ${dependency}: ${reason}`);
  process.stderr.write(`skip ${dependency}: ${reason}\n`);
  return false;
}

/** Whether Docker has a container of that name, running or not. */
export async function containerExists(name: string): Promise<boolean> {
  return (await dockerApi(`/containers/${name}/json`)) === 200;
}
