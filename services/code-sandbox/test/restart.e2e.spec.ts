import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  generateKeySetValue,
  HEADER,
  newTurnId,
  parseKeySet,
  signCapToken,
  signPrincipal,
} from '@aibox/identity';
import { freePortPair, needs } from '@aibox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  containerExists,
  containerRuntimeUsable,
  removeCgroups,
  removeContainers,
} from './support/sandbox.js';

/**
 * The service killed with SIGKILL mid-provisioning and mid-exec, then started again on the same data: the
 * interrupted pipeline fails and is cleaned up, the exec that finished while the service was away keeps its
 * output and exit code, and one still running is adopted and finishes. Runs the built service
 * (`make build` first).
 */
const hasBubblewrap = await needs('bubblewrap');
const hasDocker = await containerRuntimeUsable('docker');
const runtimes = [
  ['process', hasBubblewrap],
  ['docker', hasDocker],
  ['gvisor', hasDocker && (await containerRuntimeUsable('gvisor'))],
] as const;
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const WHO = { tid: 'default', uid: 'ada' };
/** A duration no other process on the machine sleeps for: it finds the provisioning script's process. */
const LONG = String(50_000 + Math.floor(Math.random() * 40_000));

let dataDir: string;
let port: number;
const principalKeys = generateKeySetValue(['test-principal']);
const capKeys = generateKeySetValue(['test-captoken']);
const cgroupPrefix = `aibox-sandbox-t${randomBytes(5).toString('hex')}`;
const containerLabel = `aibox.test-${cgroupPrefix.slice(-10)}`;
let child: ChildProcess | undefined;

function headers(): Record<string, string> {
  const turn = newTurnId();
  return {
    [HEADER.principal]: signPrincipal(
      {
        tid: WHO.tid,
        uid: WHO.uid,
        email: 'ada@example.test',
        roles: ['user'],
        iss: 'https://idp.test',
        sub: WHO.uid,
      },
      parseKeySet(principalKeys),
    ),
    [HEADER.turnId]: turn,
    [HEADER.capToken]: signCapToken(
      { turn, tid: WHO.tid, uid: WHO.uid, caps: ['sandbox:exec', 'sandbox:manage'] },
      parseKeySet(capKeys),
    ),
  };
}

async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${String(port)}${path}`, {
    method,
    headers: { ...headers(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function start(): Promise<void> {
  const started = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      AIBOX_DATA_DIR: dataDir,
      AIBOX_PRINCIPAL_KEYS: principalKeys,
      AIBOX_CAPTOKEN_KEYS: capKeys,
      LOG_LEVEL: 'warn',
      SANDBOX_CGROUP_PREFIX: cgroupPrefix,
      SANDBOX_CONTAINER_LABEL: containerLabel,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child = started;
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const ready = await fetch(`http://127.0.0.1:${String(port)}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    if (started.exitCode !== null) throw new Error(`code-sandbox exited with ${String(started.exitCode)}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('code-sandbox did not get ready');
}

async function killHard(): Promise<void> {
  const running = child;
  if (running === undefined || running.exitCode !== null) return;
  const exited = new Promise((done) => running.once('exit', done));
  running.kill('SIGKILL');
  await exited;
}

/** Host processes whose command line contains `needle` (arguments separated by NUL). */
async function processesRunning(needle: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) count += 1;
  }
  return count;
}

async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('the condition never held');
}

afterAll(async () => {
  await removeCgroups(cgroupPrefix);
  if (hasDocker) await removeContainers(containerLabel);
});

describe.each(runtimes)('kill -9 and restart, %s runtime', (runtime, present) => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aibox-sandbox-restart-'));
    port = await freePortPair();
  });

  afterAll(async () => {
    await killHard();
    await rm(dataDir, { recursive: true, force: true });
  });

  it.runIf(present && existsSync(resolve(MAIN)))(
    'fails an interrupted pipeline cleanly and keeps the results of execs that outlived the service',
    async () => {
      await start();
      const ready = String((await call('POST', '/sandboxes', { name: 'survivor', runtime }))['id']);
      await until(async () =>
        (await call('GET', `/sandboxes/${ready}`))['state'] === 'ready' ? true : undefined,
      );
      const quick = String(
        (
          await call('POST', `/sandboxes/${ready}/execs`, {
            argv: ['sh', '-c', 'sleep 1; echo finished-away; exit 7'],
          })
        )['id'],
      );
      const slow = String(
        (
          await call('POST', `/sandboxes/${ready}/execs`, {
            argv: ['sh', '-c', 'sleep 4; echo finished-later'],
          })
        )['id'],
      );
      const provisioning = String(
        (
          await call('POST', '/sandboxes', {
            runtime,
            provisioning_scripts: [{ name: 'long', run: `sleep ${LONG}` }],
          })
        )['id'],
      );
      await until(async () =>
        (await call('GET', `/sandboxes/${provisioning}`))['state'] === 'provisioning' ? true : undefined,
      );

      await killHard();
      // The quick exec ends while nothing watches it.
      await new Promise((done) => setTimeout(done, 1_500));
      await start();

      const interrupted = await call('GET', `/sandboxes/${provisioning}`);
      expect(interrupted).toMatchObject({ state: 'failed', error: { code: 'interrupted' } });
      expect(existsSync(join(dataDir, 'code-sandbox', 'sandboxes', provisioning))).toBe(false);
      expect(await containerExists(`aibox-sandbox-${provisioning}`)).toBe(false);

      expect(await call('GET', `/sandboxes/${ready}/execs/${quick}`)).toMatchObject({
        status: 'exited',
        exit_code: 7,
      });
      const quickOut = await fetch(
        `http://127.0.0.1:${String(port)}/sandboxes/${ready}/execs/${quick}/output`,
        {
          headers: headers(),
        },
      );
      expect(await quickOut.text()).toBe('finished-away\n');

      const later = await until(async () => {
        const exec = await call('GET', `/sandboxes/${ready}/execs/${slow}`);
        return exec['status'] === 'running' ? undefined : exec;
      });
      expect(later).toMatchObject({ status: 'exited', exit_code: 0 });
      // No process of the interrupted provisioning script is left on the machine (under gVisor its processes
      // were never the host's: the container is gone, checked above). A killed process may take a moment to
      // leave /proc.
      const left = await until(async () =>
        (await processesRunning(`sleep\u0000${LONG}\u0000`)) === 0 ? 0 : undefined,
      );
      expect(left).toBe(0);
    },
    90_000,
  );
});
