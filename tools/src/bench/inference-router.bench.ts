import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateKeySetValue, parseKeySet } from '@aibox/identity';

import type { Benchmark, BenchResult } from './bench.js';
import { identityHeaders, type Identity, type Keys } from './bench-identity.js';
import { freePort, startChild, waitReady } from './child-target.js';
import { httpResult, loadHttp, percentile, type HttpLoadOptions, type HttpSample } from './measure.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ROUTER_MAIN = join(ROOT, 'services', 'inference-router', 'dist', 'main.js');
const UPSTREAM_SCRIPT = fileURLToPath(new URL('./inference-upstream.js', import.meta.url));
const PATH = '/v1/chat/completions';

/** What `inference-upstream.ts` serves: keep in step with it. */
const MODEL = 'bench-model';
const STREAM_CHUNKS = 200;
const GAP_MS = 1;

/** Non-streamed requests: each target is loaded in two turns of this, after a warm-up. */
const WARMUP: HttpLoadOptions = { connections: 10, durationSeconds: 1 };
const TURN: HttpLoadOptions = { connections: 10, durationSeconds: 1.5 };
/** One request at a time: the difference of the p50s is the latency the router adds without queueing. */
const SERIAL_TURN: HttpLoadOptions = { connections: 1, durationSeconds: 1 };
/** Paced streams, one at a time, taking turns: this many per target, after a few not counted. */
const PACED_STREAMS = 24;
const PACED_WARMUP = 2;
/** Unpaced streams (the upstream writes its chunks back to back): streams per second under load. */
const STREAM_WARMUP: HttpLoadOptions = { connections: 4, durationSeconds: 0.5 };
const STREAM_TURN: HttpLoadOptions = { connections: 4, durationSeconds: 1 };

/** A mesh service calling the router, and the administrator who registers the provider. */
const CALLER: Identity = { uid: 'bench', roles: ['user'], caps: ['inference:invoke'] };
const ADMIN: Identity = { uid: 'root', roles: ['user', 'admin'], caps: ['inference:admin'] };

const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
  { role: 'user', content: 'Name one animal that is quick and one that is lazy.' },
];

/** The body a caller sends (`model` a role for the router, the provider's model for the upstream). */
function chatBody(model: string, stream?: 'paced' | 'unpaced'): string {
  return JSON.stringify({
    model,
    messages: MESSAGES,
    max_tokens: 256,
    ...(stream === undefined
      ? {}
      : {
          stream: true,
          stream_options: { include_usage: true },
          ...(stream === 'unpaced' ? { metadata: { pacing: 'none' } } : {}),
        }),
  });
}

/** An admin call to the router. */
function call(url: string, method: string, body: unknown, keys: Keys): Promise<Response> {
  return fetch(url, {
    method,
    headers: { ...identityHeaders(ADMIN, keys), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Registers the upstream as provider `bench` and makes it the `default` role's only model. */
async function registerUpstream(routerUrl: string, upstreamUrl: string, keys: Keys): Promise<void> {
  const provider = await call(
    `${routerUrl}/v1/internal/providers`,
    'POST',
    { name: 'bench', kind: 'chat_completions', base_url: `${upstreamUrl}/v1` },
    keys,
  );
  if (provider.status !== 201) {
    throw new Error(`the router refused the provider (${provider.status}): ${await provider.text()}`);
  }
  await provider.arrayBuffer();
  const role = await call(
    `${routerUrl}/v1/internal/roles/default`,
    'PUT',
    { models: [`bench/${MODEL}`] },
    keys,
  );
  if (role.status !== 200) {
    throw new Error(`the router refused the role (${role.status}): ${await role.text()}`);
  }
  await role.arrayBuffer();
}

/** Waits until a chat completion through the router succeeds (the routing snapshot has the provider). */
async function waitRoutable(routerUrl: string, keys: Keys): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const response = await fetch(`${routerUrl}${PATH}`, {
      method: 'POST',
      headers: { ...identityHeaders(CALLER, keys), 'content-type': 'application/json' },
      body: chatBody('default'),
    });
    last = `${response.status} ${await response.text()}`;
    if (response.ok) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`the router did not route to the upstream: ${last}`);
}

/** Complete SSE events (`\n\n`-terminated) at the start of `pending`, and what is left of it. */
export function takeEvents(pending: string): { events: string[]; rest: string } {
  const events: string[] = [];
  let start = 0;
  for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n', start)) {
    events.push(pending.slice(start, end));
    start = end + 2;
  }
  return { events, rest: pending.slice(start) };
}

const SENT_AT = /"bench_sent_ns":"(\d+)"/;

/** One stream as the client saw it. */
export interface StreamSample {
  /** Request sent → first token chunk read. */
  readonly ttftMs: number;
  /** Between two consecutive token chunks read (0 when they arrived in one read). */
  readonly gapsMs: readonly number[];
  /** Each token chunk: upstream wrote it → client read it (both on the machine's monotonic clock). */
  readonly transitMs: readonly number[];
}

/**
 * Reads token chunk arrivals out of SSE text as it arrives: `push` each piece read with the time it was read
 * (`process.hrtime.bigint()`); a chunk that spans reads counts as read when its end was.
 */
export class ChunkClock {
  private pending = '';
  readonly arrivals: bigint[] = [];
  readonly transitMs: number[] = [];
  done = false;

  push(text: string, atNs: bigint): void {
    const { events, rest } = takeEvents(this.pending + text);
    this.pending = rest;
    for (const event of events) {
      const sent = SENT_AT.exec(event)?.[1];
      if (sent !== undefined) {
        this.arrivals.push(atNs);
        this.transitMs.push(Number(atNs - BigInt(sent)) / 1e6);
      } else if (event === 'data: [DONE]') {
        this.done = true;
      }
    }
  }

  sample(startNs: bigint): StreamSample {
    const [first] = this.arrivals;
    return {
      ttftMs: first === undefined ? Number.NaN : Number(first - startNs) / 1e6,
      gapsMs: this.arrivals.slice(1).map((at, index) => Number(at - (this.arrivals[index] ?? at)) / 1e6),
      transitMs: this.transitMs,
    };
  }
}

/** One streamed chat completion on `agent`'s connection, checked to carry every chunk and end in `[DONE]`. */
function streamOnce(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<StreamSample> {
  return new Promise((resolve, reject) => {
    const clock = new ChunkClock();
    let text = '';
    const startNs = process.hrtime.bigint();
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.setEncoding('utf8');
        response.on('data', (piece: string) => {
          clock.push(piece, process.hrtime.bigint());
          if (text.length < 2_000) text += piece;
        });
        response.on('end', () => {
          if (response.statusCode !== 200 || !clock.done || clock.arrivals.length !== STREAM_CHUNKS) {
            reject(
              new Error(
                `${url.href}: ${response.statusCode ?? '?'} with ${clock.arrivals.length} of ${STREAM_CHUNKS} chunks${clock.done ? '' : ', no [DONE]'}: ${text.slice(0, 500)}`,
              ),
            );
          } else {
            resolve(clock.sample(startNs));
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** A latency-only result: p50/p99 of `values` (no throughput). */
function latencyResult(name: string, values: readonly number[], baseline?: string): BenchResult {
  const order = sorted(values);
  return {
    case: name,
    unit: 'req',
    perSecond: Number.NaN,
    operations: order.length,
    p50Ms: percentile(order, 0.5),
    p99Ms: percentile(order, 0.99),
    ...(baseline === undefined ? {} : { baseline, showAdded: true }),
  };
}

/** The upstream directly; the router with the request in a turn (audited); the router outside any turn. */
type Target = 'direct' | 'router' | 'untracked';
/** Non-streamed loads take turns in this order, so a busier moment weighs on every target alike. */
const LOAD_ORDER: readonly Target[] = ['direct', 'router', 'untracked', 'untracked', 'router', 'direct'];

/** `count` rounds over `targets`, every other one in reverse order (a, b, c, c, b, a, a, …). */
function* rounds<T>(targets: readonly T[], count: number): Generator<T> {
  for (let round = 0; round < count; round += 1) {
    yield* round % 2 === 0 ? targets : [...targets].reverse();
  }
}

const DIRECT = 'upstream direct';
const ROUTER = 'router, in a turn (audited)';
const UNTRACKED = 'router, no turn (not audited)';
const SERIAL = ', 1 connection';
const UNPACED = `unpaced stream, ${STREAM_TURN.connections} connections`;

/**
 * `inference-router`: `POST /v1/chat/completions` through the router (principal and cap token checked, role
 * resolved, undici to the provider, usage metered and, in a turn, `model_invoked` / `model_response` with
 * both bodies published to a gRPC audit sink) against the same request straight to the upstream, each in its
 * own process on loopback: non-streamed under load and one at a time (autocannon), in a turn and outside
 * any; paced 200-chunk streams one at a time (this process's own client: time to first token, gaps between
 * chunks, and each chunk's transit from the upstream's write to the client's read); unpaced streams under
 * load.
 */
export const inferenceRouterBenchmark: Benchmark = {
  name: 'inference-router',
  description: `POST ${PATH}: router (in a turn, audited; no turn) vs upstream direct. Non-streamed: autocannon, ${TURN.connections} connections, 2 × ${TURN.durationSeconds} s each after ${WARMUP.durationSeconds} s warm-up, then 2 × ${SERIAL_TURN.durationSeconds} s with 1 connection. Streams of ${STREAM_CHUNKS} chunks ${GAP_MS} ms apart: ${PACED_STREAMS} each, one at a time. Unpaced streams: ${STREAM_TURN.connections} connections, 2 × ${STREAM_TURN.durationSeconds} s each. Loopback`,
  async run(): Promise<BenchResult[]> {
    if (!existsSync(ROUTER_MAIN)) throw new Error(`${ROUTER_MAIN} is missing: run make build`);
    const workDir = await mkdtemp(join(tmpdir(), 'aibox-bench-router-'));
    const stops: (() => Promise<void>)[] = [];
    /** The stream client's connections, one per target. */
    const agents: Record<Target, Agent> = {
      direct: new Agent({ keepAlive: true, maxSockets: 1 }),
      router: new Agent({ keepAlive: true, maxSockets: 1 }),
      untracked: new Agent({ keepAlive: true, maxSockets: 1 }),
    };
    try {
      const upstream = await startChild({
        name: 'the inference upstream',
        command: process.execPath,
        args: [UPSTREAM_SCRIPT],
        ready: /^ready (http:\/\/127\.0\.0\.1:\d+) (\S+)$/,
        stopWith: 'stdin',
      });
      stops.push(() => upstream.stop());
      const [, upstreamUrl = '', auditTarget = ''] = upstream.match;

      const principalKeys = generateKeySetValue(['bench']);
      const capKeys = generateKeySetValue(['bench']);
      const keys: Keys = { principals: parseKeySet(principalKeys), caps: parseKeySet(capKeys) };
      const router = await startChild({
        name: 'the inference router',
        command: process.execPath,
        args: [ROUTER_MAIN],
        env: {
          PATH: process.env['PATH'] ?? '',
          PORT: String(await freePort()),
          HOST: '127.0.0.1',
          AIBOX_ENV: 'development',
          AIBOX_DATA_DIR: join(workDir, 'data'),
          LOG_LEVEL: 'warn',
          AIBOX_PRINCIPAL_KEYS: principalKeys,
          AIBOX_CAPTOKEN_KEYS: capKeys,
          AIBOX_CREDENTIALS_KEY: randomBytes(32).toString('base64'),
          INFERENCE_BOOTSTRAP: 'false',
          AUDIT_GRPC_URL: auditTarget,
        },
        ready: /^inference-router listening (http:\/\/\S+)/,
        stopWith: 'sigterm',
      });
      stops.push(() => router.stop());
      const routerUrl = router.match[1] ?? '';
      await waitReady(`${routerUrl}/readyz`);
      await registerUpstream(routerUrl, upstreamUrl, keys);
      await waitRoutable(routerUrl, keys);

      const urls: Record<Target, string> = {
        direct: `${upstreamUrl}${PATH}`,
        router: `${routerUrl}${PATH}`,
        untracked: `${routerUrl}${PATH}`,
      };
      const models: Record<Target, string> = { direct: MODEL, router: 'default', untracked: 'default' };
      const load = (target: Target, options: HttpLoadOptions, stream?: 'unpaced'): Promise<HttpSample> =>
        loadHttp(urls[target], {
          ...options,
          method: 'POST',
          // The upstream gets the router's headers too, so that both read requests of the same size.
          headers: {
            ...identityHeaders(CALLER, keys, target !== 'untracked'),
            'content-type': 'application/json',
          },
          body: chatBody(models[target], stream),
        });

      // --- non-streamed: under load, then one request at a time ---
      for (const target of ['direct', 'router', 'untracked'] as const) await load(target, WARMUP);
      const loaded: Record<Target, HttpSample[]> = { direct: [], router: [], untracked: [] };
      for (const target of LOAD_ORDER) loaded[target].push(await load(target, TURN));
      const serial: Record<Target, HttpSample[]> = { direct: [], router: [], untracked: [] };
      for (const target of LOAD_ORDER) serial[target].push(await load(target, SERIAL_TURN));

      // --- unpaced streams under load (they also warm the router's streaming path up) ---
      const both = ['direct', 'router'] as const;
      for (const target of both) await load(target, STREAM_WARMUP, 'unpaced');
      const streams: Record<Target, HttpSample[]> = { direct: [], router: [], untracked: [] };
      for (const target of rounds(both, 2)) streams[target].push(await load(target, STREAM_TURN, 'unpaced'));

      // --- paced streams, one at a time ---
      const paced: Record<Target, StreamSample[]> = { direct: [], router: [], untracked: [] };
      const streamOne = (target: Target): Promise<StreamSample> =>
        streamOnce(
          agents[target],
          new URL(urls[target]),
          identityHeaders(CALLER, keys, target !== 'untracked'),
          chatBody(models[target], 'paced'),
        );
      const all = ['direct', 'router', 'untracked'] as const;
      for (const target of rounds(all, PACED_WARMUP)) await streamOne(target);
      for (const target of rounds(all, PACED_STREAMS)) paced[target].push(await streamOne(target));

      const ttft = (target: Target): number[] => paced[target].map((sample) => sample.ttftMs);
      const gaps = (target: Target): number[] => paced[target].flatMap((sample) => sample.gapsMs);
      const transit = (target: Target): number[] => paced[target].flatMap((sample) => sample.transitMs);
      return [
        httpResult(DIRECT, loaded.direct),
        httpResult(ROUTER, loaded.router, DIRECT, true),
        httpResult(UNTRACKED, loaded.untracked, DIRECT, true),
        httpResult(`${DIRECT}${SERIAL}`, serial.direct),
        httpResult(`${ROUTER}${SERIAL}`, serial.router, `${DIRECT}${SERIAL}`, true),
        httpResult(`${UNTRACKED}${SERIAL}`, serial.untracked, `${DIRECT}${SERIAL}`, true),
        latencyResult('stream TTFT, direct', ttft('direct')),
        latencyResult('stream TTFT, router in a turn', ttft('router'), 'stream TTFT, direct'),
        latencyResult('stream TTFT, router no turn', ttft('untracked'), 'stream TTFT, direct'),
        latencyResult('stream inter-chunk gap, direct', gaps('direct')),
        latencyResult(
          'stream inter-chunk gap, router in a turn',
          gaps('router'),
          'stream inter-chunk gap, direct',
        ),
        latencyResult('stream chunk transit, direct', transit('direct')),
        latencyResult(
          'stream chunk transit, router in a turn',
          transit('router'),
          'stream chunk transit, direct',
        ),
        httpResult(`${UNPACED}, direct`, streams.direct),
        httpResult(`${UNPACED}, router in a turn`, streams.router, `${UNPACED}, direct`, true),
      ];
    } finally {
      for (const agent of Object.values(agents)) agent.destroy();
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
