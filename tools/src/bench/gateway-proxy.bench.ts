import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateKeySetValue } from '@aibox/identity';

import type { Benchmark, BenchResult } from './bench.js';
import { AUDIENCE, startIssuer } from './bench-identity.js';
import { freePort, startChild, waitReady, type ChildTarget } from './child-target.js';
import { httpResult, loadHttp, type HttpLoadOptions, type HttpSample } from './measure.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const GATEWAY_MAIN = join(ROOT, 'services', 'gateway', 'dist', 'main.js');
const UPSTREAM_SCRIPT = fileURLToPath(new URL('./proxy-upstream.js', import.meta.url));
const NGINX = '/usr/sbin/nginx';
/** A route the gateway proxies over HTTP (to the inference router), answered by the upstream. */
const PATH = '/v1/models';

const DIRECT = 'upstream direct';
const NGINX_CASE = 'nginx reverse proxy (1 worker)';
const GATEWAY = 'gateway (JWT validated, identity stamped)';
const GATEWAY_VS_NGINX = 'gateway, relative to nginx';
/** One request at a time: the p50s compare the latency each hop adds, without queueing. */
const SERIAL = ', 1 connection';

const WARMUP: HttpLoadOptions = { connections: 10, durationSeconds: 1 };
/** Each target is loaded in two turns of this. */
const TURN: HttpLoadOptions = { connections: 10, durationSeconds: 2 };
/** Each target is also loaded once like this. */
const SERIAL_TURN: HttpLoadOptions = { connections: 1, durationSeconds: 2 };

/** nginx as a plain reverse proxy with upstream keep-alive, one worker, no access log. */
async function startNginx(workDir: string, upstreamPort: string, port: number): Promise<ChildTarget> {
  const dir = join(workDir, 'nginx');
  const conf = join(dir, 'nginx.conf');
  await mkdir(dir, { recursive: true });
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backend { server 127.0.0.1:${upstreamPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  // nginx prints nothing once it serves; a wrapper announces it after the configuration test passed.
  return startChild({
    name: 'nginx',
    command: '/bin/sh',
    args: [
      '-c',
      `"${NGINX}" -t -q -p "${dir}" -c "${conf}" && echo ready && exec "${NGINX}" -p "${dir}" -c "${conf}"`,
    ],
    ready: /^ready$/,
    stopWith: 'sigterm',
  });
}

/**
 * `gateway-proxy`: `GET /v1/models` with a bearer JWT through the gateway (JWT validation, header strip and
 * stamp, turn events to a gRPC sink, rate limiting, undici passthrough) against the same request to the
 * upstream directly and through nginx as a plain reverse proxy, each in its own process on loopback, loaded
 * by autocannon from this process in turns (direct, nginx, gateway, gateway, nginx, direct).
 */
export const gatewayProxyBenchmark: Benchmark = {
  name: 'gateway-proxy',
  description: `GET ${PATH} with a JWT: gateway vs upstream direct vs nginx (autocannon, ${TURN.connections} connections, 2 × ${TURN.durationSeconds} s each after ${WARMUP.durationSeconds} s warm-up, then ${SERIAL_TURN.durationSeconds} s with 1 connection, loopback)`,
  async run(): Promise<BenchResult[]> {
    if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run make build`);
    if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: apt-get install nginx`);
    const workDir = await mkdtemp(join(tmpdir(), 'aibox-bench-gateway-'));
    const stops: (() => Promise<void>)[] = [];
    try {
      const issuer = await startIssuer();
      stops.push(() => issuer.close());
      const upstream = await startChild({
        name: 'the proxy upstream',
        command: process.execPath,
        args: [UPSTREAM_SCRIPT],
        ready: /^ready (http:\/\/127\.0\.0\.1:(\d+)) (\S+)$/,
        stopWith: 'stdin',
      });
      stops.push(() => upstream.stop());
      const [, upstreamUrl = '', upstreamPort = '', auditTarget = ''] = upstream.match;

      const nginxPort = await freePort();
      const nginx = await startNginx(workDir, upstreamPort, nginxPort);
      stops.push(() => nginx.stop());

      const gatewayPort = await freePort();
      const gateway = await startChild({
        name: 'the gateway',
        command: process.execPath,
        args: [GATEWAY_MAIN],
        env: {
          PATH: process.env['PATH'] ?? '',
          PORT: String(gatewayPort),
          HOST: '127.0.0.1',
          AIBOX_ENV: 'development',
          AIBOX_DATA_DIR: join(workDir, 'data'),
          AIBOX_PRINCIPAL_KEYS: generateKeySetValue(['bench-principal']),
          AIBOX_CAPTOKEN_KEYS: generateKeySetValue(['bench-captoken']),
          AUTH_ISSUERS: issuer.url,
          AUTH_AUDIENCE: AUDIENCE,
          INFERENCE_ROUTER_URL: upstreamUrl,
          AUDIT_GRPC_URL: auditTarget,
          // The benchmark is one principal sending as fast as it can: limits would measure 429s.
          GATEWAY_RATE_LIMIT_ENABLED: 'false',
        },
        ready: /^gateway listening (http:\/\/\S+)/,
        stopWith: 'sigterm',
      });
      stops.push(() => gateway.stop());
      const gatewayUrl = gateway.match[1] ?? '';
      await waitReady(`${gatewayUrl}/readyz`);

      const request = { headers: { authorization: `Bearer ${issuer.token}` } };
      const urls = {
        direct: `${upstreamUrl}${PATH}`,
        nginx: `http://127.0.0.1:${nginxPort}${PATH}`,
        gateway: `${gatewayUrl}${PATH}`,
      };
      for (const url of Object.values(urls)) await loadHttp(url, { ...WARMUP, ...request });
      const samples: Record<keyof typeof urls, HttpSample[]> = { direct: [], nginx: [], gateway: [] };
      for (const kind of ['direct', 'nginx', 'gateway', 'gateway', 'nginx', 'direct'] as const) {
        samples[kind].push(await loadHttp(urls[kind], { ...TURN, ...request }));
      }
      const serial: Record<keyof typeof urls, HttpSample[]> = { direct: [], nginx: [], gateway: [] };
      for (const kind of ['direct', 'nginx', 'gateway'] as const) {
        serial[kind].push(await loadHttp(urls[kind], { ...SERIAL_TURN, ...request }));
      }
      return [
        httpResult(DIRECT, samples.direct),
        httpResult(NGINX_CASE, samples.nginx, DIRECT),
        httpResult(GATEWAY, samples.gateway, DIRECT),
        httpResult(GATEWAY_VS_NGINX, samples.gateway, NGINX_CASE),
        httpResult(`${DIRECT}${SERIAL}`, serial.direct),
        httpResult(`${NGINX_CASE}${SERIAL}`, serial.nginx, `${DIRECT}${SERIAL}`),
        httpResult(`${GATEWAY}${SERIAL}`, serial.gateway, `${DIRECT}${SERIAL}`),
      ];
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
