import { constants } from 'node:fs';
import { chmod, chown, mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

import type { Logger } from '@aibox/platform';

import {
  EGRESS_FORWARDER_NAME,
  EGRESS_FORWARDER_SOURCE,
  EGRESS_SOCKET_NAME,
} from '../runtimes/egress-forwarder.js';
import { isPublicAddress, systemResolver, type HostResolver, type PinnedAddress } from './git-remote.js';
import type { SandboxDirs } from './sandbox-dirs.js';

/** The deployment's egress settings. */
export interface EgressSettings {
  /** Host names (`name` or `*.name`) that may resolve to addresses that are not public. */
  readonly privateHosts: readonly string[];
  /** The ports the proxy connects to, for http and for CONNECT alike. */
  readonly ports: readonly number[];
}

const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY } = constants;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a CONNECT tunnel waits for the client's TLS handshake. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Connections one sandbox may hold open through its proxy at once. */
const MAX_CONNECTIONS = 128;
/** Resolved addresses tried in turn (all of them are checked). */
const MAX_ADDRESSES = 4;
/** Headers for this hop only, never passed on (besides those the `Connection` header names). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

/** A connection the proxy does not make; `status` is the HTTP answer, the message its body. */
export class EgressRefused extends Error {
  override readonly name = 'EgressRefused';

  constructor(
    readonly status: 400 | 403 | 502,
    message: string,
  ) {
    super(message);
  }
}

/** Whether `host` (lower case, no final dot) is one of `patterns`: `name` exactly, or `*.name` any subdomain. */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) =>
    pattern.startsWith('*.')
      ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
      : host === pattern,
  );
}

/** A URL parser's host name without IPv6 brackets or a final dot. */
function canonicalHost(hostname: string): string {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/** CONNECT's `host:port` (IPv6 in brackets); undefined when it is not one. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^([^\s/?#@\\]+):(\d{1,5})$/u.exec(authority);
  if (match === null) return undefined;
  const [, name = '', digits = ''] = match;
  let url: URL;
  try {
    url = new URL(`http://${name}/`);
  } catch {
    return undefined;
  }
  const port = Number(digits);
  if (url.port !== '' || url.hostname === '' || port < 1 || port > 65_535) return undefined;
  return { host: canonicalHost(url.hostname), port };
}

/** An absolute-form `http://` request target; undefined for anything else. */
export function parseAbsoluteTarget(
  target: string,
): { host: string; port: number; path: string; authority: string } | undefined {
  if (!/^http:\/\//iu.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (url.hostname === '') return undefined;
  return {
    host: canonicalHost(url.hostname),
    port: url.port === '' ? 80 : Number(url.port),
    path: `${url.pathname}${url.search}`,
    authority: url.host,
  };
}

/**
 * Where a sandbox's request may go. The host must be on the sandbox's allowlist (names only: an IP address is
 * never on it) and the port among the deployment's, all before any lookup, so a sandbox cannot make the
 * service resolve a name it does not allow (no DNS exfiltration). Then the name is resolved once, and
 * refused when any of its addresses is not public, unless the deployment lists it in `privateHosts`.
 */
export class EgressPolicy {
  constructor(
    private readonly settings: EgressSettings,
    private readonly resolveHost: HostResolver = systemResolver,
  ) {}

  /** The checked addresses to connect to, in order; throws {@link EgressRefused}. */
  async admit(allow: readonly string[], host: string, port: number): Promise<readonly PinnedAddress[]> {
    if (isIP(host) !== 0) {
      throw new EgressRefused(
        403,
        `${host} is an IP address; only the host names the sandbox allows are reached`,
      );
    }
    if (!hostMatches(host, allow)) throw new EgressRefused(403, `${host} is not on this sandbox's allowlist`);
    if (!this.settings.ports.includes(port)) {
      throw new EgressRefused(403, `port ${port} is not open to egress (${this.settings.ports.join(', ')})`);
    }
    const found = await this.resolveHost(host).catch((error: unknown) => {
      const code = (error as { code?: unknown }).code;
      throw new EgressRefused(502, `cannot resolve ${host}${typeof code === 'string' ? ` (${code})` : ''}`);
    });
    if (found.length === 0) throw new EgressRefused(502, `${host} resolves to no address`);
    if (!hostMatches(host, this.settings.privateHosts)) {
      const hidden = found.find((entry) => !isPublicAddress(entry.address));
      if (hidden !== undefined) {
        throw new EgressRefused(403, `${host} resolves to ${hidden.address}, which is not a public address`);
      }
    }
    return found
      .slice(0, MAX_ADDRESSES)
      .map((entry) => ({ address: entry.address, family: entry.family === 6 ? 6 : 4 }));
  }
}

/** A TCP connection to the first of `addresses` that answers; only those addresses, never a new lookup. */
async function connectPinned(addresses: readonly PinnedAddress[], port: number): Promise<Socket> {
  let failure: unknown = new Error('no address');
  for (const { address, family } of addresses) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host: address, family, port, timeout: CONNECT_TIMEOUT_MS });
        const fail = (error: Error): void => {
          socket.destroy();
          reject(error);
        };
        socket.once('error', fail);
        socket.once('timeout', () => {
          fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
        });
        socket.once('connect', () => {
          socket.setTimeout(0);
          socket.removeAllListeners('timeout');
          socket.off('error', fail);
          resolve(socket);
        });
      });
    } catch (error: unknown) {
      failure = error;
    }
  }
  throw failure;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'failed';
}

/** Raw headers without hop-by-hop ones (and `host`, which the proxy sets from the target). */
function passedHeaders(raw: readonly string[], dropHost: boolean): string[] {
  const named = new Set<string>();
  for (let index = 0; index + 1 < raw.length; index += 2) {
    if (raw[index]?.toLowerCase() === 'connection') {
      for (const name of (raw[index + 1] ?? '').split(',')) named.add(name.trim().toLowerCase());
    }
  }
  const kept: string[] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (dropHost && lower === 'host')) continue;
    // The framing headers stay: Node frames the body again from them.
    if (named.has(lower) && lower !== 'transfer-encoding' && lower !== 'content-length') continue;
    kept.push(name, raw[index + 1] ?? '');
  }
  return kept;
}

/** The first `count` bytes a client sends (with what came with its request), or undefined if it stops. */
function firstBytes(stream: Duplex, head: Buffer, count: number): Promise<Buffer | undefined> {
  if (head.length >= count) return Promise.resolve(head);
  return new Promise((resolve) => {
    let buffered = head;
    const finish = (result: Buffer | undefined): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= count) finish(buffered);
    };
    const onEnd = (): void => {
      finish(undefined);
    };
    const timer = setTimeout(onEnd, HANDSHAKE_TIMEOUT_MS);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}

/** A TLS record opening a handshake: content type 22, protocol major version 3. */
const isTlsHandshake = (bytes: Buffer): boolean => bytes[0] === 0x16 && bytes[1] === 0x03;

function refusalText(status: number, reason: string): { head: string; body: string } {
  const body = `${reason}\n`;
  return {
    body,
    head: `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${String(Buffer.byteLength(body))}\r\nconnection: close\r\n\r\n`,
  };
}

/** One sandbox's proxy: an HTTP server on its unix socket, forwarding what its allowlist admits. */
class SandboxEgressProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();

  constructor(
    private readonly sandboxId: string,
    private readonly allow: readonly string[],
    private readonly policy: EgressPolicy,
    private readonly logger: Logger,
  ) {
    // No whole-request deadline: an upload through the proxy may take long (headers still must come in 60 s).
    this.server = createServer({ requireHostHeader: false, requestTimeout: 0 });
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.on('connection', (socket: Socket) => {
      this.track(socket);
    });
    this.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.forward(request, response).catch((error: unknown) => {
        this.logger.warn({ err: error, sandbox_id: this.sandboxId }, 'egress request failed');
        response.destroy();
      });
    });
    this.server.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.tunnel(request, socket, head).catch((error: unknown) => {
        this.logger.warn({ err: error, sandbox_id: this.sandboxId }, 'egress tunnel failed');
        socket.destroy();
      });
    });
    this.server.on('clientError', (_error: Error, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening (libuv unlinks the socket's name) and cuts every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Admits `host:port` for this sandbox and connects; a refusal is logged and thrown. */
  private async open(host: string, port: number, via: 'http' | 'CONNECT'): Promise<Socket> {
    const where = { sandbox_id: this.sandboxId, host, port, via };
    let upstream: Socket;
    try {
      const addresses = await this.policy.admit(this.allow, host, port);
      upstream = await connectPinned(addresses, port).catch((error: unknown) => {
        throw new EgressRefused(502, `cannot connect to ${host}:${String(port)} (${errorCode(error)})`);
      });
    } catch (error: unknown) {
      if (error instanceof EgressRefused)
        this.logger.info({ ...where, reason: error.message }, 'egress refused');
      throw error;
    }
    this.track(upstream);
    this.logger.info({ ...where, address: upstream.remoteAddress }, 'egress allowed');
    return upstream;
  }

  /** An absolute-form `http://` request, passed on to its host with this hop's headers removed. */
  private async forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = parseAbsoluteTarget(request.url ?? '');
    if (target === undefined) {
      this.refuse(
        response,
        new EgressRefused(
          400,
          'send http:// requests in absolute form to this proxy, and https through CONNECT',
        ),
      );
      return;
    }
    let upstream: Socket;
    try {
      upstream = await this.open(target.host, target.port, 'http');
    } catch (error: unknown) {
      if (!(error instanceof EgressRefused)) throw error;
      this.refuse(response, error);
      return;
    }
    if (response.destroyed) {
      upstream.destroy();
      return;
    }
    const outgoing = httpRequest({
      createConnection: () => upstream,
      method: request.method ?? 'GET',
      path: target.path,
      setHost: false,
      headers: ['Host', target.authority, ...passedHeaders(request.rawHeaders, true), 'Connection', 'close'],
    });
    outgoing.on('response', (incoming) => {
      response.writeHead(
        incoming.statusCode ?? 502,
        incoming.statusMessage ?? '',
        passedHeaders(incoming.rawHeaders, false),
      );
      incoming.on('error', () => response.destroy());
      incoming.pipe(response);
    });
    outgoing.on('error', (error) => {
      if (response.headersSent) response.destroy();
      else this.refuse(response, new EgressRefused(502, `${target.host} failed: ${errorCode(error)}`));
    });
    response.on('close', () => {
      outgoing.destroy();
      upstream.destroy();
    });
    request.pipe(outgoing);
  }

  /**
   * CONNECT `host:port`: once admitted and connected, the tunnel carries the client's bytes only if they
   * open a TLS handshake, so it serves HTTPS and not whatever else a program would speak to that port; the
   * server's bytes reach the client only after that, so a protocol where the server speaks first gets nowhere.
   */
  private async tunnel(request: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const target = parseAuthority(request.url ?? '');
    if (target === undefined) {
      this.refuseTunnel(client, new EgressRefused(400, 'CONNECT takes host:port'));
      return;
    }
    let upstream: Socket;
    try {
      upstream = await this.open(target.host, target.port, 'CONNECT');
    } catch (error: unknown) {
      if (!(error instanceof EgressRefused)) throw error;
      this.refuseTunnel(client, error);
      return;
    }
    upstream.on('error', () => {
      upstream.destroy();
      client.destroy();
    });
    client.once('close', () => upstream.destroy());
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    client.write('HTTP/1.1 200 Connection established\r\n\r\n');
    const first = await firstBytes(client, head, 3);
    if (first === undefined || !isTlsHandshake(first)) {
      this.logger.info(
        {
          sandbox_id: this.sandboxId,
          host: target.host,
          port: target.port,
          via: 'CONNECT',
          reason: 'not TLS',
        },
        'egress tunnel closed',
      );
      client.destroy();
      return;
    }
    upstream.write(first);
    upstream.once('close', () => client.end());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private refuse(response: ServerResponse, refusal: EgressRefused): void {
    const { body } = refusalText(refusal.status, refusal.message);
    response.writeHead(refusal.status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  }

  private refuseTunnel(client: Duplex, refusal: EgressRefused): void {
    const { head, body } = refusalText(refusal.status, refusal.message);
    if (client.writable) client.end(`${head}${body}`);
    else client.destroy();
  }
}

interface OpenProxy {
  readonly proxy: SandboxEgressProxy;
  /** The egress directory, open while the socket is bound: the socket's name goes through it. */
  readonly dir: FileHandle;
}

/**
 * The egress proxies of this service's sandboxes, one per sandbox with `network.mode: egress`, each on a unix
 * socket in the sandbox's egress directory (`<sandbox>/egress/egress.sock`, beside the forwarder the sandbox
 * runs). The directory is the service's, mode 0711; the socket is 0600 and belongs to the user the sandbox's
 * programs run as on the host. Each connection is logged with the sandbox and host, never a path or a header.
 */
export class EgressProxies {
  private readonly open = new Map<string, OpenProxy>();
  /** Each sandbox's start and stop, one after the other. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly dirs: SandboxDirs,
    private readonly policy: EgressPolicy,
    private readonly logger: Logger,
  ) {}

  /** Makes the sandbox's egress directory with the forwarder in it: before a container binds it. Idempotent. */
  async prepare(sandboxId: string): Promise<void> {
    const dir = this.dirs.egress(sandboxId);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(dir, 0o711);
    const script = join(dir, EGRESS_FORWARDER_NAME);
    await writeFile(`${script}.tmp`, EGRESS_FORWARDER_SOURCE, { mode: 0o644 });
    await chmod(`${script}.tmp`, 0o644);
    await rename(`${script}.tmp`, script);
  }

  /**
   * Opens (or reopens) the sandbox's proxy with its allowlist; `uid` is the host user its programs run as,
   * when not the service's.
   */
  start(sandboxId: string, allow: readonly string[], uid: number | undefined): Promise<void> {
    return this.serialized(sandboxId, async () => {
      await this.closeOne(sandboxId);
      await this.prepare(sandboxId);
      const dirPath = this.dirs.egress(sandboxId);
      const socketPath = join(dirPath, EGRESS_SOCKET_NAME);
      await rm(socketPath, { force: true });
      // A unix socket's path is at most 107 bytes; the data dir's may be longer, its descriptor's never is.
      const dir = await open(dirPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      const proxy = new SandboxEgressProxy(sandboxId, allow, this.policy, this.logger);
      try {
        await proxy.listen(`/proc/self/fd/${String(dir.fd)}/${EGRESS_SOCKET_NAME}`);
      } catch (error: unknown) {
        await dir.close();
        throw error;
      }
      this.open.set(sandboxId, { proxy, dir });
      await chmod(socketPath, 0o600);
      if (uid !== undefined) await chown(socketPath, uid, uid);
    });
  }

  /** Closes the sandbox's proxy, cutting its connections, and removes its socket. */
  stop(sandboxId: string): Promise<void> {
    return this.serialized(sandboxId, () => this.closeOne(sandboxId));
  }

  /** Every proxy (the service stops); a restart reopens those of ready sandboxes. */
  async close(): Promise<void> {
    await Promise.all([...this.open.keys()].map((sandboxId) => this.stop(sandboxId)));
  }

  private async closeOne(sandboxId: string): Promise<void> {
    const entry = this.open.get(sandboxId);
    this.open.delete(sandboxId);
    if (entry !== undefined) {
      try {
        await entry.proxy.close();
      } finally {
        await entry.dir.close();
      }
    }
    await rm(join(this.dirs.egress(sandboxId), EGRESS_SOCKET_NAME), { force: true });
  }

  private serialized(sandboxId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(sandboxId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.queues.set(sandboxId, next);
    void next
      .finally(() => {
        if (this.queues.get(sandboxId) === next) this.queues.delete(sandboxId);
      })
      .catch(() => undefined);
    return next;
  }
}
