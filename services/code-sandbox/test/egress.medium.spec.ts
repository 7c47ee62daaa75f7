import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateKeySetValue } from '@aibox/identity';
import { needs } from '@aibox/testing';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  readSse,
  removeCgroups,
  startSandboxService,
  type SseEvent,
  type TestSandboxService,
  type Who,
  containerRuntimeUsable,
} from './support/sandbox.js';

/**
 * Network egress through the service's per-sandbox proxy, on loopback only: a page served on the host's
 * 127.0.0.1 is reached by name through the proxy (the deployment lets `localhost` resolve to loopback), and
 * everything else is refused, on the `process` and `docker` runtimes.
 */

/** bubblewrap, and the host's Python the forwarder runs on inside a `process` sandbox. */
async function processUsable(): Promise<boolean> {
  if (!(await needs('bubblewrap'))) return false;
  if (existsSync('/usr/bin/python3')) return true;
  process.stderr.write('skip process egress: no /usr/bin/python3 on the host\n');
  return false;
}

const hasProcess = await processUsable();
const hasDocker = await containerRuntimeUsable('docker');
const hasGvisor = hasDocker && (await containerRuntimeUsable('gvisor'));
/** Whether Docker runs runsc with `--host-uds=open`, without which gVisor sandboxes get no egress. */
const gvisorHostUds =
  hasGvisor &&
  (
    (await new Docker({ socketPath: '/var/run/docker.sock' }).info()) as {
      Runtimes?: Record<string, { runtimeArgs?: string[] } | undefined>;
    }
  ).Runtimes?.['runsc']?.runtimeArgs?.includes('--host-uds=open') === true;

const ADA: Who = { tid: 'default', uid: 'ada' };

/**
 * Run inside the sandbox as `python3 -c PROBE <command> …`; prints one JSON line. `get URL` goes through
 * urllib, which takes the proxy from HTTP_PROXY; `connect HOST:PORT HEX` sends CONNECT to that proxy by hand,
 * then the bytes; `direct PORT` and `unix PATH` try to connect without the proxy.
 */
const PROBE = `
import json, os, socket, sys, urllib.error, urllib.request

def out(**fields):
    print(json.dumps(fields))

command = sys.argv[1]
if command == 'env':
    out(http=os.environ.get('HTTP_PROXY'), https=os.environ.get('HTTPS_PROXY'),
        http_lower=os.environ.get('http_proxy'), https_lower=os.environ.get('https_proxy'),
        no_proxy=os.environ.get('NO_PROXY', os.environ.get('no_proxy')),
        egress_dir=os.path.exists('/.aibox/egress'))
elif command == 'get':
    try:
        with urllib.request.urlopen(sys.argv[2], timeout=20) as answer:
            out(status=answer.status, body=answer.read().decode())
    except urllib.error.HTTPError as error:
        out(status=error.code, body=error.read().decode())
    except Exception as error:
        out(error=type(error).__name__)
elif command == 'connect':
    proxy = os.environ['HTTP_PROXY'].rsplit(':', 1)
    tunnel = socket.create_connection(('127.0.0.1', int(proxy[1])), timeout=20)
    target = sys.argv[2]
    tunnel.sendall(('CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n' % (target, target)).encode())
    head = b''
    while b'\\r\\n\\r\\n' not in head:
        chunk = tunnel.recv(4096)
        if not chunk:
            break
        head += chunk
    status_line, _, _ = head.partition(b'\\r\\n')
    _, _, body = head.partition(b'\\r\\n\\r\\n')
    status = int(status_line.split()[1]) if status_line else 0
    if status != 200:
        while True:
            chunk = tunnel.recv(4096)
            if not chunk:
                break
            body += chunk
        out(status=status, body=body.decode())
    else:
        payload = bytes.fromhex(sys.argv[3])
        tunnel.sendall(payload)
        got = b''
        try:
            while len(got) < len(payload):
                chunk = tunnel.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        out(status=status, echoed=got.hex())
elif command == 'direct':
    try:
        socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=5)
        out(connected=True)
    except OSError as error:
        out(connected=False, error=type(error).__name__)
elif command == 'unix':
    # Relative to its directory: a data dir's socket path may be longer than a unix socket address takes.
    try:
        os.chdir(os.path.dirname(sys.argv[2]))
        peer = socket.socket(socket.AF_UNIX)
        peer.connect(os.path.basename(sys.argv[2]))
        out(connected=True)
    except OSError as error:
        out(connected=False, error=type(error).__name__)
`;

const TLS_HELLO = Buffer.from('160301000568656c6c6f', 'hex');
const NOT_TLS = Buffer.from('SSH-2.0-probe\r\n');

let page: HttpServer;
let pagePort: number;
let echo: TcpServer;
let echoPort: number;
/** A port the deployment does not open to egress (nothing needs to listen there). */
let closedPort: number;
const pageToken = randomBytes(8).toString('hex');
const pageRequests: { url: string; host: string }[] = [];
const echoed: Buffer[] = [];
let sandboxes: TestSandboxService;

function listen(server: HttpServer | TcpServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

beforeAll(async () => {
  page = createHttpServer((request, response) => {
    pageRequests.push({ url: request.url ?? '', host: request.headers.host ?? '' });
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(`page ${pageToken}`);
  });
  pagePort = await listen(page);
  echo = createTcpServer((socket) => {
    socket.on('data', (chunk) => {
      echoed.push(chunk);
      socket.write(chunk);
    });
    socket.on('error', () => socket.destroy());
  });
  echoPort = await listen(echo);
  const spare = createTcpServer();
  closedPort = await listen(spare);
  await new Promise((resolve) => spare.close(resolve));
  sandboxes = await startSandboxService({
    env: {
      SANDBOX_EGRESS_PRIVATE_HOSTS: 'localhost',
      SANDBOX_EGRESS_PORTS: `${String(pagePort)},${String(echoPort)}`,
      LOG_LEVEL: 'info',
    },
  });
});

afterAll(async () => {
  await sandboxes.close();
  await new Promise((resolve) => page.close(resolve));
  await new Promise((resolve) => echo.close(resolve));
});

const settled = (event: SseEvent): boolean =>
  event.event === 'state_changed' && ['ready', 'failed'].includes(String(event.data['state']));

function eventsOf(service: TestSandboxService, id: string): Promise<Response> {
  return fetch(`${service.url}/sandboxes/${id}/events`, { headers: service.headers(ADA) });
}

async function createReady(
  spec: Record<string, unknown>,
  service: TestSandboxService = sandboxes,
): Promise<{ id: string; events: SseEvent[] }> {
  const created = await service.call(ADA, 'POST', '/sandboxes', spec);
  expect(created.status, JSON.stringify(created.json)).toBe(202);
  const id = String(created.json['id']);
  const events = await readSse(await eventsOf(service, id), settled);
  expect(events.at(-1)?.data['state'], JSON.stringify(events.at(-1)?.data)).toBe('ready');
  return { id, events };
}

async function run(
  id: string,
  argv: string[],
  service: TestSandboxService = sandboxes,
): Promise<Record<string, unknown>> {
  const answer = await service.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
    argv,
    timeout_s: 60,
  });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json;
}

/** The probe's JSON line, run in the sandbox. */
async function probe(
  id: string,
  args: string[],
  service: TestSandboxService = sandboxes,
): Promise<Record<string, unknown>> {
  const answer = await run(id, ['python3', '-c', PROBE, ...args], service);
  expect(answer['exit_code'], String(answer['stderr'])).toBe(0);
  return JSON.parse(String(answer['stdout'])) as Record<string, unknown>;
}

async function remove(id: string, service: TestSandboxService = sandboxes): Promise<void> {
  expect((await service.call(ADA, 'DELETE', `/sandboxes/${id}`)).status).toBe(202);
  await readSse(
    await eventsOf(service, id),
    (event) => event.event === 'state_changed' && event.data['state'] === 'deleted',
  );
}

/** Host processes whose command line (NUL-separated arguments) passes `test`. */
async function hostProcesses(test: (cmdline: string) => boolean): Promise<number> {
  let count = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline !== '' && test(cmdline)) count += 1;
  }
  return count;
}

/**
 * Processes of the sandbox `id` matching `test`: the host's under `process` and `docker` (runc runs them as
 * host processes); under gVisor they live in the sandbox kernel only, so its own /proc is read by an exec.
 */
async function sandboxProcesses(
  runtime: 'process' | 'docker' | 'gvisor',
  id: string,
  test: (cmdline: string) => boolean,
): Promise<number> {
  if (runtime !== 'gvisor') return hostProcesses(test);
  const listing = await run(id, [
    'sh',
    '-c',
    'for d in /proc/[0-9]*; do tr "\\0" "\\1" < $d/cmdline; echo; done',
  ]);
  return String(listing['stdout'])
    .split('\n')
    .map((line) => line.replaceAll('\u0001', '\0'))
    .filter((cmdline) => cmdline !== '' && test(cmdline)).length;
}

/** The forwarder of an exec whose arguments hold `needle`, as every runtime starts it. */
const forwarderOf =
  (needle: string) =>
  (cmdline: string): boolean =>
    cmdline.startsWith('/usr/bin/python3\0-I\0-S\0/.aibox/egress/forwarder.py\0') && cmdline.includes(needle);

function stepMessage(events: readonly SseEvent[], step: string): string {
  const ended = events.find(
    (event) =>
      event.event === 'provisioning_step' &&
      event.data['step'] === step &&
      event.data['status'] !== 'started',
  );
  return `${String(ended?.data['status'])}: ${String(ended?.data['message'])}`;
}

/** The service's log records (pino JSON lines) with this message. */
function logRecords(service: TestSandboxService, msg: string): Record<string, unknown>[] {
  return service.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record['msg'] === msg);
}

const egressSocket = (service: TestSandboxService, id: string): string =>
  join(service.dataDir, 'code-sandbox', 'sandboxes', id, 'egress', 'egress.sock');

describe.each([
  ['process', hasProcess],
  ['docker', hasDocker],
  ['gvisor', gvisorHostUds],
] as const)('egress on the %s runtime', (runtime, present) => {
  describe.runIf(present)('through the proxy', () => {
    let id: string;
    let events: SseEvent[];

    beforeAll(async () => {
      ({ id, events } = await createReady({
        runtime,
        network: { mode: 'egress', allow: ['LocalHost', 'localhost', '*.example.test'] },
      }));
    }, 120_000);

    afterAll(async () => {
      await remove(id);
      expect(existsSync(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', id))).toBe(false);
    }, 60_000);

    it('opens the proxy at StartSandbox, keeps the allowlist lower-cased, and gives programs the proxy variables only', async () => {
      expect(stepMessage(events, 'StartSandbox')).toMatch(
        /^completed: .*egress proxy open to localhost, \*\.example\.test/,
      );
      const shown = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`);
      expect(shown.json['spec']).toMatchObject({
        network: { mode: 'egress', allow: ['localhost', '*.example.test'] },
      });
      const env = await probe(id, ['env']);
      expect(env).toMatchObject({ no_proxy: null, egress_dir: true });
      expect(String(env['http'])).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(env['https']).toBe(env['http']);
      expect(env['http_lower']).toBe(env['http']);
      expect(env['https_lower']).toBe(env['http']);
      // A NO_PROXY of the caller's would send programs around the proxy, where there is nothing.
      const overridden = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
        argv: ['python3', '-c', PROBE, 'env'],
        env: { NO_PROXY: 'localhost', no_proxy: '*' },
      });
      expect(JSON.parse(String(overridden.json['stdout']))).toMatchObject({ no_proxy: null });
      // The socket on the host is the sandbox user's only, in the service's traversable-only directory.
      expect(await probe(id, ['unix', '/.aibox/egress/egress.sock'])).toEqual({ connected: true });
      const { mode, uid } = await stat(egressSocket(sandboxes, id));
      expect(mode & 0o777).toBe(0o600);
      expect(uid).toBe(runtime !== 'process' ? 1000 : process.getuid?.());
    });

    it('fetches a page from an allowlisted host by name, and logs the host but never the path', async () => {
      const got = await probe(id, ['get', `http://localhost:${String(pagePort)}/page?q=secret-path`]);
      expect(got).toEqual({ status: 200, body: `page ${pageToken}` });
      expect(pageRequests.at(-1)).toEqual({
        url: '/page?q=secret-path',
        host: `localhost:${String(pagePort)}`,
      });
      const allowed = logRecords(sandboxes, 'egress allowed').filter((record) => record['sandbox_id'] === id);
      expect(allowed.at(-1)).toMatchObject({ host: 'localhost', port: pagePort, via: 'http' });
      const egressLogs = [
        ...logRecords(sandboxes, 'egress allowed'),
        ...logRecords(sandboxes, 'egress refused'),
      ];
      expect(JSON.stringify(egressLogs)).not.toContain('secret-path');
    });

    it('refuses an IP address, a host off the list and a port not open to egress with 403 naming why', async () => {
      const before = pageRequests.length;
      expect(await probe(id, ['get', `http://127.0.0.1:${String(pagePort)}/page`])).toEqual({
        status: 403,
        body: '127.0.0.1 is an IP address; only the host names the sandbox allows are reached\n',
      });
      expect(await probe(id, ['get', `http://elsewhere.test:${String(pagePort)}/page`])).toEqual({
        status: 403,
        body: "elsewhere.test is not on this sandbox's allowlist\n",
      });
      // A wildcard covers names below it, not the name itself; none is looked up before it is allowed.
      expect(await probe(id, ['get', `http://example.test:${String(pagePort)}/`])).toMatchObject({
        status: 403,
      });
      expect(await probe(id, ['get', `http://localhost:${String(closedPort)}/`])).toMatchObject({
        status: 403,
        body: `port ${String(closedPort)} is not open to egress (${String(pagePort)}, ${String(echoPort)})\n`,
      });
      expect(pageRequests.length).toBe(before);
      const refused = logRecords(sandboxes, 'egress refused').filter((record) => record['sandbox_id'] === id);
      expect(refused.map((record) => record['host'])).toEqual(
        expect.arrayContaining(['127.0.0.1', 'elsewhere.test', 'localhost']),
      );
    });

    it('tunnels CONNECT to an allowed host:port for TLS only, and refuses other hosts and ports', async () => {
      expect(
        await probe(id, ['connect', `localhost:${String(echoPort)}`, TLS_HELLO.toString('hex')]),
      ).toEqual({
        status: 200,
        echoed: TLS_HELLO.toString('hex'),
      });
      // Not a TLS handshake: the tunnel closes before a byte reaches the host.
      expect(await probe(id, ['connect', `localhost:${String(echoPort)}`, NOT_TLS.toString('hex')])).toEqual({
        status: 200,
        echoed: '',
      });
      expect(Buffer.concat(echoed).includes(NOT_TLS)).toBe(false);
      expect(
        await probe(id, ['connect', `localhost:${String(closedPort)}`, TLS_HELLO.toString('hex')]),
      ).toMatchObject({
        status: 403,
        body: expect.stringContaining(`port ${String(closedPort)}`) as unknown,
      });
      expect(
        await probe(id, ['connect', `127.0.0.1:${String(echoPort)}`, TLS_HELLO.toString('hex')]),
      ).toMatchObject({ status: 403, body: expect.stringContaining('IP address') as unknown });
      expect(
        await probe(id, ['connect', `elsewhere.test:${String(echoPort)}`, TLS_HELLO.toString('hex')]),
      ).toMatchObject({ status: 403, body: expect.stringContaining('allowlist') as unknown });
    });

    it("cannot reach the host's loopback around the proxy", async () => {
      expect(await probe(id, ['direct', String(pagePort)])).toMatchObject({ connected: false });
      expect(await probe(id, ['direct', String(echoPort)])).toMatchObject({ connected: false });
    });

    it("keeps the program's status and leaves no forwarder behind when it ends or is cancelled", async () => {
      const marker = `egress-${randomBytes(6).toString('hex')}`;
      expect(await run(id, ['sh', '-c', 'exit 3', marker])).toMatchObject({ status: 'exited', exit_code: 3 });
      expect(await run(id, ['sh', '-c', 'kill -TERM $$', marker])).toMatchObject({
        status: 'exited',
        exit_code: 143,
      });
      expect(await sandboxProcesses(runtime, id, forwarderOf(marker))).toBe(0);

      const seconds = String(40_000 + Math.floor(Math.random() * 50_000));
      const program = (cmdline: string): boolean => cmdline === `sleep\0${seconds}\0`;
      const forwarder = forwarderOf(`\0sleep\0${seconds}\0`);
      const started = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs`, {
        argv: ['sleep', seconds],
      });
      const exec = String(started.json['id']);
      for (let attempt = 0; attempt < 100; attempt += 1) {
        if (
          (await sandboxProcesses(runtime, id, program)) === 1 &&
          (await sandboxProcesses(runtime, id, forwarder)) === 1
        )
          break;
        await new Promise((done) => setTimeout(done, 50));
      }
      expect(await sandboxProcesses(runtime, id, program)).toBe(1);
      expect(await sandboxProcesses(runtime, id, forwarder)).toBe(1);
      const cancelled = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/execs/${exec}/cancel`);
      expect(cancelled.json).toMatchObject({ status: 'cancelled' });
      expect(await sandboxProcesses(runtime, id, forwarder)).toBe(0);
      expect(await sandboxProcesses(runtime, id, program)).toBe(0);
    });

    it('closes the proxy on stop, removing its socket, and opens it again on start', async () => {
      expect((await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/stop`)).json).toMatchObject({
        state: 'stopped',
      });
      expect(existsSync(egressSocket(sandboxes, id))).toBe(false);
      expect((await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/start`)).json).toMatchObject({
        state: 'ready',
      });
      expect(existsSync(egressSocket(sandboxes, id))).toBe(true);
      expect(await probe(id, ['get', `http://localhost:${String(pagePort)}/page`])).toEqual({
        status: 200,
        body: `page ${pageToken}`,
      });
    });

    it("gives another sandbox its own proxy and allowlist, and never this one's socket", async () => {
      const other = await createReady({ runtime, network: { mode: 'egress', allow: ['api.example.test'] } });
      try {
        expect(await probe(other.id, ['get', `http://localhost:${String(pagePort)}/page`])).toMatchObject({
          status: 403,
          body: "localhost is not on this sandbox's allowlist\n",
        });
        expect(await probe(other.id, ['unix', egressSocket(sandboxes, id)])).toMatchObject({
          connected: false,
          error: 'FileNotFoundError',
        });
      } finally {
        await remove(other.id);
      }
      expect(existsSync(egressSocket(sandboxes, other.id))).toBe(false);
    }, 120_000);

    it('gives a sandbox without egress no proxy, no proxy variables and no socket', async () => {
      const plain = await createReady({ runtime });
      try {
        expect(stepMessage(plain.events, 'StartSandbox')).not.toMatch(/egress/);
        expect(await probe(plain.id, ['env'])).toEqual({
          http: null,
          https: null,
          http_lower: null,
          https_lower: null,
          no_proxy: null,
          egress_dir: false,
        });
        expect(await probe(plain.id, ['unix', egressSocket(sandboxes, id)])).toEqual({
          connected: false,
          error: 'FileNotFoundError',
        });
        expect(await probe(plain.id, ['unix', '/.aibox/egress/egress.sock'])).toEqual({
          connected: false,
          error: 'FileNotFoundError',
        });
        expect(existsSync(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', plain.id, 'egress'))).toBe(
          false,
        );
      } finally {
        await remove(plain.id);
      }
    }, 120_000);
  });
});

describe('egress specs', () => {
  it.each([
    ['egress without allow', { mode: 'egress' }],
    ['an empty allowlist', { mode: 'egress', allow: [] }],
    ['allow with mode none', { mode: 'none', allow: ['example.com'] }],
    ['an IP address', { mode: 'egress', allow: ['127.0.0.1'] }],
    ['an IPv6 address', { mode: 'egress', allow: ['::1'] }],
    ['a port', { mode: 'egress', allow: ['example.com:443'] }],
    ['a URL', { mode: 'egress', allow: ['https://example.com'] }],
    ['a bare wildcard', { mode: 'egress', allow: ['*'] }],
    ['a wildcard inside a name', { mode: 'egress', allow: ['api.*.example.com'] }],
    ['a label starting with -', { mode: 'egress', allow: ['-bad.example.com'] }],
    ['an unknown field', { mode: 'egress', allow: ['example.com'], ports: [443] }],
    [
      'more than 64 entries',
      { mode: 'egress', allow: Array.from({ length: 65 }, (_, index) => `h${String(index)}.example.com`) },
    ],
  ])('refuses %s with 400', async (_what, network) => {
    const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', { network });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'invalid_request' });
  });

  it.runIf(hasGvisor && !gvisorHostUds)(
    'refuses egress under gvisor without --host-uds, naming why',
    async () => {
      const answer = await sandboxes.call(ADA, 'POST', '/sandboxes', {
        runtime: 'gvisor',
        network: { mode: 'egress', allow: ['example.com'] },
      });
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: 'feature_unavailable' });
      expect(JSON.stringify(answer.json)).toContain('--host-uds');
    },
  );
});

describe.runIf(hasProcess)('egress across a restart', () => {
  it('reopens the proxy of a ready sandbox when the service starts again', async () => {
    const state = {
      dataDir: await mkdtemp(join(tmpdir(), 'aibox-egress-restart-')),
      principalKeys: generateKeySetValue(['test-principal']),
      capKeys: generateKeySetValue(['test-captoken']),
      cgroupPrefix: `aibox-sandbox-t${randomBytes(5).toString('hex')}`,
    };
    const env = {
      SANDBOX_EGRESS_PRIVATE_HOSTS: 'localhost',
      SANDBOX_EGRESS_PORTS: String(pagePort),
    };
    try {
      const first = await startSandboxService({ state, env });
      const { id } = await createReady({ network: { mode: 'egress', allow: ['localhost'] } }, first);
      await first.close();
      // Stopping the service closes its proxies and removes their sockets.
      expect(existsSync(egressSocket(first, id))).toBe(false);

      const second = await startSandboxService({ state, env });
      try {
        expect(await probe(id, ['get', `http://localhost:${String(pagePort)}/page`], second)).toEqual({
          status: 200,
          body: `page ${pageToken}`,
        });
        await remove(id, second);
      } finally {
        await second.close();
      }
    } finally {
      await removeCgroups(state.cgroupPrefix);
      await rm(state.dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
