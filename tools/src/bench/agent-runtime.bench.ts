import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateKeySetValue, parseKeySet } from '@aibox/identity';

import type { Benchmark, BenchResult } from './bench.js';
import { AUDIENCE, identityHeaders, startIssuer, type Identity, type Keys } from './bench-identity.js';
import { freeServicePorts, startChild, waitReady, type ChildTarget } from './child-target.js';
import { takeEvents } from './inference-router.bench.js';
import { percentile } from './measure.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const mainOf = (service: string): string => join(ROOT, 'services', service, 'dist', 'main.js');
const SERVICES = ['audit', 'inference-router', 'agent-runtime', 'gateway'] as const;
const UPSTREAM_SCRIPT = fileURLToPath(new URL('./inference-upstream.js', import.meta.url));

/** The upstream's model (`inference-upstream.ts`) and the short answer it streams here: chunks back to back. */
const MODEL = 'bench-model';
const CHUNKS = 4;

/** Streams one at a time, the targets taking turns: this many per target, after a warm-up not counted. */
const SERIAL_WARMUP = 20;
const SERIAL_SAMPLES = 200;
/** Concurrent users, each looping over whole streams: in two turns of this per target, after a warm-up. */
const USERS = 16;
const LOAD_WARMUP_S = 1;
const LOAD_TURN_S = 2.5;

/** The administrator who registers the provider; a user as the gateway stamps one on a chat route. */
const ADMIN: Identity = { uid: 'root', roles: ['user', 'admin'], caps: ['inference:admin'] };
const USER: Identity = { uid: 'bench-user', roles: ['user'], caps: ['inference:invoke'] };

async function adminCall(url: string, method: string, body: unknown, keys: Keys): Promise<void> {
  const response = await fetch(url, {
    method,
    headers: { ...identityHeaders(ADMIN, keys), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: the router answered ${response.status}: ${text}`);
}

/** What a target is sent, and how its stream says "token" and "done". */
type Protocol = 'completions' | 'turn';

/** One stream as the client saw it, from sending the request. */
interface StreamTiming {
  /** To the first event carrying answer text (a content chunk; a `delta` event). */
  readonly firstMs: number;
  /** To the end of the answer (`data: [DONE]`; the `done` event). */
  readonly doneMs: number;
  /** To the end of the response. */
  readonly endMs: number;
}

function classify(event: string, protocol: Protocol): 'token' | 'done' | 'error' | undefined {
  if (protocol === 'turn') {
    const name = /^event: (\S+)$/m.exec(event)?.[1];
    if (name === 'delta') return 'token';
    if (name === 'done') return 'done';
    return name === 'error' ? 'error' : undefined;
  }
  if (!event.startsWith('data: ')) return undefined;
  const data = event.slice('data: '.length);
  if (data === '[DONE]') return 'done';
  const chunk = JSON.parse(data) as {
    choices?: { delta?: { content?: unknown } }[];
    error?: unknown;
  };
  if (chunk.error !== undefined) return 'error';
  const content = chunk.choices?.[0]?.delta?.content;
  return typeof content === 'string' && content !== '' ? 'token' : undefined;
}

/** One POST on `agent`'s connections, read to its end; a stream without a token and a done is a failure. */
function timeStream(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  protocol: Protocol,
): Promise<StreamTiming> {
  return new Promise((resolve, reject) => {
    const startNs = process.hrtime.bigint();
    const ms = (at: bigint): number => Number(at - startNs) / 1e6;
    let pending = '';
    let seen = '';
    let first: bigint | undefined;
    let done: bigint | undefined;
    let failure: string | undefined;
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
          const at = process.hrtime.bigint();
          if (seen.length < 2_000) seen += piece;
          const { events, rest } = takeEvents(pending + piece);
          pending = rest;
          for (const event of events) {
            const kind = classify(event, protocol);
            if (kind === 'token') first ??= at;
            else if (kind === 'done') done ??= at;
            else if (kind === 'error') failure ??= event;
          }
        });
        response.on('end', () => {
          const end = process.hrtime.bigint();
          if (
            response.statusCode !== 200 ||
            first === undefined ||
            done === undefined ||
            failure !== undefined
          ) {
            reject(
              new Error(
                `${url.href}: ${response.statusCode ?? '?'}${first === undefined ? ', no token' : ''}${done === undefined ? ', no end of answer' : ''}: ${(failure ?? seen).slice(0, 500)}`,
              ),
            );
          } else {
            resolve({ firstMs: ms(first), doneMs: ms(done), endMs: ms(end) });
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** `count` rounds over `targets`, every other one in reverse order (a, b, c, c, b, a, a, …). */
function* rounds<T>(targets: readonly T[], count: number): Generator<T> {
  for (let round = 0; round < count; round += 1) {
    yield* round % 2 === 0 ? targets : [...targets].reverse();
  }
}

/** `users` loops of `once` for `seconds`: the streams completed, in how long, and their times. */
async function loadStreams(
  seconds: number,
  users: number,
  once: () => Promise<StreamTiming>,
): Promise<{ count: number; seconds: number; timings: StreamTiming[] }> {
  const timings: StreamTiming[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: users }, async () => {
      while (performance.now() < end) timings.push(await once());
    }),
  );
  return { count: timings.length, seconds: (performance.now() - started) / 1000, timings };
}

function latencyResult(name: string, values: readonly number[], baseline?: string): BenchResult {
  const order = [...values].sort((a, b) => a - b);
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

/** The upstream directly; the router (in a turn); agent-runtime without the gateway; the whole turn. */
type Target = 'direct' | 'router' | 'runtime' | 'turn';
const TARGETS: readonly Target[] = ['direct', 'router', 'runtime', 'turn'];
const LABEL: Readonly<Record<Target, string>> = {
  direct: 'upstream direct',
  router: 'router → upstream (in a turn)',
  runtime: 'agent-runtime → router → upstream (no gateway)',
  turn: 'full turn: gateway → agent-runtime → router → upstream',
};

const MESSAGES = [{ role: 'user', content: 'hi' }];

/**
 * `agent-runtime`: what a whole chat turn adds. `POST /v1/chat/stream` `{"message":"hi"}` with a bearer JWT
 * through the gateway (JWT validated, identity stamped) to agent-runtime (conversation and turn rows,
 * prompt, `prompt_generated` with the prompt uploaded, the model call, the answer stored, `usage` / `done`,
 * the turn sealed 750 ms later) to the inference router (role resolved, `model_invoked` / `model_response`
 * with both bodies) to an OpenAI-compatible upstream answering at once with a short stream, every service
 * publishing to a real audit service — against the same upstream's stream called directly. Every service
 * is its own process on loopback with its own PGlite. Also the hops below the gateway on their own (the
 * router; agent-runtime called with the headers the gateway would stamp) to tell where the time goes.
 */
export const agentRuntimeBenchmark: Benchmark = {
  name: 'agent-runtime',
  description: `POST /v1/chat/stream {"message":"hi"} through gateway → agent-runtime → inference router → upstream (real audit, PGlite, AGENT_TITLES=false) vs POST /v1/chat/completions stream:true straight to the upstream (${CHUNKS} chunks back to back): time to first token and to done, ${SERIAL_SAMPLES} streams each one at a time, taking turns, after ${SERIAL_WARMUP} not counted; then ${USERS} users looping, 2 × ${LOAD_TURN_S} s each after ${LOAD_WARMUP_S} s warm-up. Loopback`,
  async run(): Promise<BenchResult[]> {
    for (const service of SERVICES) {
      if (!existsSync(mainOf(service))) throw new Error(`${mainOf(service)} is missing: run make build`);
    }
    const workDir = await mkdtemp(join(tmpdir(), 'aibox-bench-runtime-'));
    const stops: (() => Promise<void>)[] = [];
    const agents: Record<Target, Agent> = {
      direct: new Agent({ keepAlive: true, maxSockets: USERS }),
      router: new Agent({ keepAlive: true, maxSockets: USERS }),
      runtime: new Agent({ keepAlive: true, maxSockets: USERS }),
      turn: new Agent({ keepAlive: true, maxSockets: USERS }),
    };
    try {
      const issuer = await startIssuer();
      stops.push(() => issuer.close());
      const upstream = await startChild({
        name: 'the inference upstream',
        command: process.execPath,
        args: [UPSTREAM_SCRIPT, `--chunks=${CHUNKS}`, '--unpaced'],
        ready: /^ready (http:\/\/127\.0\.0\.1:\d+) \S+$/,
        stopWith: 'stdin',
      });
      stops.push(() => upstream.stop());
      const upstreamUrl = upstream.match[1] ?? '';

      const principalKeys = generateKeySetValue(['bench-principal']);
      const capKeys = generateKeySetValue(['bench-captoken']);
      const keys: Keys = { principals: parseKeySet(principalKeys), caps: parseKeySet(capKeys) };
      const ports: Record<(typeof SERVICES)[number], number> = {
        audit: await freeServicePorts(),
        'inference-router': await freeServicePorts(),
        'agent-runtime': await freeServicePorts(),
        gateway: await freeServicePorts(),
      };
      const local = (port: number): string => `http://127.0.0.1:${port}`;
      const auditGrpc = `127.0.0.1:${ports.audit + 1000}`;
      // Built by hand, so that no DATABASE_URL or REDIS_URL of the machine leaks in: PGlite everywhere.
      const common = (service: (typeof SERVICES)[number]): NodeJS.ProcessEnv => ({
        PATH: process.env['PATH'] ?? '',
        PORT: String(ports[service]),
        HOST: '127.0.0.1',
        AIBOX_ENV: 'development',
        AIBOX_DATA_DIR: join(workDir, service),
        AIBOX_PRINCIPAL_KEYS: principalKeys,
        AIBOX_CAPTOKEN_KEYS: capKeys,
        AUDIT_GRPC_URL: auditGrpc,
      });
      const env: Record<(typeof SERVICES)[number], NodeJS.ProcessEnv> = {
        audit: {
          ...common('audit'),
          AUDIT_SIGNING_KEYS: generateKeySetValue(['bench-audit'], 32),
          LOG_LEVEL: 'warn',
        },
        'inference-router': {
          ...common('inference-router'),
          AIBOX_CREDENTIALS_KEY: randomBytes(32).toString('base64'),
          INFERENCE_BOOTSTRAP: 'false',
          LOG_LEVEL: 'warn',
        },
        'agent-runtime': {
          ...common('agent-runtime'),
          INFERENCE_ROUTER_URL: local(ports['inference-router']),
          // A title is one more model call per new conversation: not part of the turn's latency.
          AGENT_TITLES: 'false',
        },
        gateway: {
          ...common('gateway'),
          AUTH_ISSUERS: issuer.url,
          AUTH_AUDIENCE: AUDIENCE,
          AGENT_RUNTIME_URL: local(ports['agent-runtime']),
          INFERENCE_ROUTER_URL: local(ports['inference-router']),
          AUDIT_URL: local(ports.audit),
          // One user sending as fast as the turns go: limits would measure 429s.
          GATEWAY_RATE_LIMIT_ENABLED: 'false',
        },
      };
      // All four boot at once (their clients connect lazily); each is stopped even if another fails.
      const started = await Promise.allSettled(
        SERVICES.map((service) =>
          startChild({
            name: service,
            command: process.execPath,
            args: [mainOf(service)],
            env: env[service],
            ready: new RegExp(`^${service} listening (http://\\S+)`),
            stopWith: 'sigterm',
          }),
        ),
      );
      for (const outcome of started) {
        if (outcome.status === 'fulfilled') stops.push(() => outcome.value.stop());
      }
      const failed = started.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const urls = SERVICES.map((_, index) => {
        const outcome = started[index] as PromiseFulfilledResult<ChildTarget>;
        return outcome.value.match[1] ?? '';
      });
      await Promise.all(urls.map((url) => waitReady(`${url}/readyz`)));
      const [, routerUrl = '', runtimeUrl = '', gatewayUrl = ''] = urls;

      await adminCall(
        `${routerUrl}/v1/internal/providers`,
        'POST',
        { name: 'bench', kind: 'chat_completions', base_url: `${upstreamUrl}/v1` },
        keys,
      );
      await adminCall(`${routerUrl}/v1/internal/roles/default`, 'PUT', { models: [`bench/${MODEL}`] }, keys);

      const completions = (model: string): string =>
        JSON.stringify({ model, messages: MESSAGES, stream: true, stream_options: { include_usage: true } });
      const chat = JSON.stringify({ message: 'hi' });
      const once = (target: Target): Promise<StreamTiming> => {
        switch (target) {
          case 'direct':
            return timeStream(
              agents.direct,
              new URL(`${upstreamUrl}/v1/chat/completions`),
              {},
              completions(MODEL),
              'completions',
            );
          case 'router':
            return timeStream(
              agents.router,
              new URL(`${routerUrl}/v1/chat/completions`),
              identityHeaders(USER, keys),
              completions('default'),
              'completions',
            );
          case 'runtime':
            return timeStream(
              agents.runtime,
              new URL(`${runtimeUrl}/v1/chat/stream`),
              identityHeaders(USER, keys),
              chat,
              'turn',
            );
          case 'turn':
            return timeStream(
              agents.turn,
              new URL(`${gatewayUrl}/v1/chat/stream`),
              { authorization: `Bearer ${issuer.token}` },
              chat,
              'turn',
            );
        }
      };

      // The router serves a provider once its routing snapshot has it: retry the first turn until then.
      let lastError: Error | undefined;
      for (let attempt = 0; attempt < 50; attempt += 1) {
        try {
          await once('turn');
          lastError = undefined;
          break;
        } catch (error) {
          lastError = error instanceof Error ? error : new Error(String(error));
          await new Promise((done) => setTimeout(done, 100));
        }
      }
      if (lastError !== undefined) throw lastError;

      // --- one stream at a time, the targets taking turns ---
      for (const target of rounds(TARGETS, SERIAL_WARMUP)) await once(target);
      const serial: Record<Target, StreamTiming[]> = { direct: [], router: [], runtime: [], turn: [] };
      for (const target of rounds(TARGETS, SERIAL_SAMPLES)) serial[target].push(await once(target));

      // --- concurrent users ---
      const loaded = ['direct', 'turn'] as const;
      for (const target of loaded) await loadStreams(LOAD_WARMUP_S, USERS, () => once(target));
      const load: Record<
        (typeof loaded)[number],
        { count: number; seconds: number; timings: StreamTiming[] }
      > = {
        direct: { count: 0, seconds: 0, timings: [] },
        turn: { count: 0, seconds: 0, timings: [] },
      };
      for (const target of rounds(loaded, 2)) {
        const sample = await loadStreams(LOAD_TURN_S, USERS, () => once(target));
        load[target].count += sample.count;
        load[target].seconds += sample.seconds;
        load[target].timings.push(...sample.timings);
      }

      const first = (target: Target): number[] => serial[target].map((timing) => timing.firstMs);
      const done = (target: Target): number[] => serial[target].map((timing) => timing.doneMs);
      const firstCase = (target: Target): string => `first token, ${LABEL[target]}`;
      const doneCase = (target: Target): string => `done, ${LABEL[target]}`;
      const loadCase = (target: Target): string => `${USERS} users, ${LABEL[target]} (to done)`;
      const loadResult = (target: (typeof loaded)[number], baseline?: string): BenchResult => {
        const order = load[target].timings.map((timing) => timing.doneMs).sort((a, b) => a - b);
        return {
          case: loadCase(target),
          unit: 'req',
          perSecond: load[target].count / load[target].seconds,
          operations: load[target].count,
          p50Ms: percentile(order, 0.5),
          p99Ms: percentile(order, 0.99),
          ...(baseline === undefined ? {} : { baseline, showAdded: true }),
        };
      };
      return [
        latencyResult(firstCase('direct'), first('direct')),
        ...(['router', 'runtime', 'turn'] as const).map((target) =>
          latencyResult(firstCase(target), first(target), firstCase('direct')),
        ),
        latencyResult(doneCase('direct'), done('direct')),
        ...(['router', 'runtime', 'turn'] as const).map((target) =>
          latencyResult(doneCase(target), done(target), doneCase('direct')),
        ),
        latencyResult(
          'response end, full turn (after done: the turn row stored)',
          serial.turn.map((timing) => timing.endMs),
          doneCase('turn'),
        ),
        loadResult('direct'),
        loadResult('turn', loadCase('direct')),
      ];
    } finally {
      for (const agent of Object.values(agents)) agent.destroy();
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
