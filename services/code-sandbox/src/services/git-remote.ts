import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';

/** A host a git URL may name when `SANDBOX_GIT_ALLOWED_HOSTS` lists it; `port` null means the scheme's own. */
export interface GitHost {
  readonly hostname: string;
  readonly port: number | null;
}

/** Where a connection goes: the address the host name resolved to, checked, and used for the connection. */
export interface PinnedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** A remote this service will not contact, or a transfer it stopped; the message is shown to the caller. */
export class GitRemoteRefused extends Error {
  override readonly name = 'GitRemoteRefused';
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'https:': 443, 'http:': 80 };
const MAX_REDIRECTS = 5;
const HOST_ENTRY = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/?#@[\]]+)(?::([0-9]{1,5}))?$/;

/**
 * Addresses that are not on the public internet: "this network" and unspecified, private (RFC 1918),
 * CGNAT, loopback, link-local, IETF and documentation ranges, benchmarking, 6to4 relays, multicast and the
 * reserved rest. `BlockList` matches IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) against these too.
 */
const NOT_PUBLIC_V4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

/**
 * Within global unicast (2000::/3, the only IPv6 range taken as public), the special ranges: IETF protocol
 * assignments (Teredo among them), documentation, 6to4 (it embeds an IPv4 address) and the old 6bone. Outside
 * 2000::/3 lie loopback, unspecified, IPv4-mapped and -compatible, NAT64, discard, unique-local, link-local,
 * site-local and multicast, all refused.
 */
const NOT_PUBLIC_V6: readonly (readonly [string, number])[] = [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3ffe::', 16],
  ['3fff::', 20],
];

const notPublicV4 = new BlockList();
for (const [network, prefix] of NOT_PUBLIC_V4) notPublicV4.addSubnet(network, prefix, 'ipv4');
const globalV6 = new BlockList();
globalV6.addSubnet('2000::', 3, 'ipv6');
const notPublicV6 = new BlockList();
for (const [network, prefix] of NOT_PUBLIC_V6) notPublicV6.addSubnet(network, prefix, 'ipv6');

/** Whether an IP address is on the public internet (see the ranges above); anything unparsable is not. */
export function isPublicAddress(address: string): boolean {
  try {
    switch (isIP(address)) {
      case 4:
        return !notPublicV4.check(address, 'ipv4');
      case 6:
        return (
          !notPublicV4.check(address, 'ipv6') &&
          globalV6.check(address, 'ipv6') &&
          !notPublicV6.check(address, 'ipv6')
        );
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/** A host name as the URL parser gives it (lower case, IPv4 dotted, IPv6 in brackets), without a final dot. */
function canonicalHost(hostname: string): string {
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}

/** `host` or `host:port` (IPv6 in brackets) → a {@link GitHost}; undefined when it is not one. */
export function parseGitHost(entry: string): GitHost | undefined {
  const match = HOST_ENTRY.exec(entry.trim());
  if (match === null) return undefined;
  const [, host = '', port] = match;
  let hostname: string;
  try {
    hostname = canonicalHost(new URL(`http://${host}/`).hostname);
  } catch {
    return undefined;
  }
  if (hostname === '') return undefined;
  if (port === undefined) return { hostname, port: null };
  const number = Number(port);
  return number >= 1 && number <= 65_535 ? { hostname, port: number } : undefined;
}

/** `SANDBOX_GIT_ALLOWED_HOSTS`: comma-separated `host` or `host:port`; a string says what is wrong. */
export function parseGitHosts(raw: string): readonly GitHost[] | string {
  const hosts: GitHost[] = [];
  for (const [index, entry] of raw.split(',').entries()) {
    if (entry.trim() === '') continue;
    const host = parseGitHost(entry);
    if (host === undefined) return `entry ${index + 1} is not a host or host:port`;
    hosts.push(host);
  }
  return hosts;
}

/** The URL as it may be shown: without user name or password. */
export function shownUrl(url: URL | string): string {
  try {
    const copy = new URL(url);
    copy.username = '';
    copy.password = '';
    return copy.href;
  } catch {
    return '(an invalid URL)';
  }
}

function effectivePort(url: URL): number {
  return url.port === '' ? (DEFAULT_PORTS[url.protocol] ?? 0) : Number(url.port);
}

/** An IP literal's address without IPv6 brackets; undefined for a name. */
function literalAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? undefined : bare;
}

export type HostResolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS), every address in the order it gives them. */
export const systemResolver: HostResolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Which git remotes the service contacts, and at which address. With an allowlist, only the hosts on it
 * (`host` on the scheme's default port, `host:port` on that port), at whatever address they resolve to, over
 * https or http. Without one, any host over https whose every resolved address is public. Never another
 * scheme, and never credentials in the URL.
 */
export class GitRemotePolicy {
  constructor(
    private readonly allowed: readonly GitHost[],
    private readonly resolveHost: HostResolver = systemResolver,
  ) {}

  /** Why `url` is refused before any lookup, or undefined when it may be tried. */
  refusal(url: URL): string | undefined {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return `${url.protocol.replace(/:$/, '')} URLs are refused; use https`;
    }
    if (url.username !== '' || url.password !== '') {
      return 'credentials in the URL are refused; name a stored credential instead';
    }
    if (this.allowed.length > 0) {
      return this.allowlisted(url) ? undefined : `${url.host} is not among SANDBOX_GIT_ALLOWED_HOSTS`;
    }
    if (url.protocol === 'http:') return 'http is refused unless the host is in SANDBOX_GIT_ALLOWED_HOSTS';
    const literal = literalAddress(url.hostname);
    if (literal !== undefined && !isPublicAddress(literal)) return `${literal} is not a public address`;
    return undefined;
  }

  /**
   * The address to connect to for `url`: the refusal checks, then the host resolved once and, unless it is
   * allowlisted, every address it resolves to public. The connection is made to this address, so a second
   * lookup (a DNS rebinding) cannot send it elsewhere.
   */
  async admit(url: URL): Promise<PinnedAddress> {
    const refused = this.refusal(url);
    if (refused !== undefined) throw new GitRemoteRefused(refused);
    const literal = literalAddress(url.hostname);
    const addresses =
      literal === undefined
        ? await this.resolveHost(canonicalHost(url.hostname)).catch((error: unknown) => {
            const code = (error as { code?: unknown }).code;
            throw new GitRemoteRefused(
              `cannot resolve ${url.hostname}${typeof code === 'string' ? ` (${code})` : ''}`,
            );
          })
        : [{ address: literal, family: isIP(literal) }];
    const first = addresses[0];
    if (first === undefined) throw new GitRemoteRefused(`${url.hostname} resolves to no address`);
    if (!this.allowlisted(url)) {
      const hidden = addresses.find((entry) => !isPublicAddress(entry.address));
      if (hidden !== undefined) {
        throw new GitRemoteRefused(
          `${url.hostname} resolves to ${hidden.address}, which is not a public address`,
        );
      }
    }
    return { address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  private allowlisted(url: URL): boolean {
    const hostname = canonicalHost(url.hostname);
    const port = effectivePort(url);
    return this.allowed.some(
      (host) =>
        host.hostname === hostname &&
        (host.port === null ? port === DEFAULT_PORTS[url.protocol] : host.port === port),
    );
  }
}

export interface GitHttpOptions {
  readonly policy: GitRemotePolicy;
  /** The repository's URL: only requests to its origin carry the authorization. */
  readonly repository: URL;
  /** The full `Authorization` header value, or null. */
  readonly authorization: string | null;
  /** Response bytes the whole clone may receive. */
  readonly maxBytes: number;
  readonly signal: AbortSignal;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const isRedirect = (status: number): boolean => [301, 302, 303, 307, 308].includes(status);

/**
 * isomorphic-git's HTTP transport for one clone, with this service's rules on every request, redirects
 * included: each target passes {@link GitRemotePolicy.admit} and the connection goes to the address checked
 * there; the authorization goes to the repository's origin only; the bytes received are capped; the clone's
 * signal aborts whatever is in flight. No proxy from the environment is used.
 */
export class GitHttp implements HttpClient {
  private received = 0;
  private readonly pins = new Map<string, PinnedAddress>();

  constructor(private readonly options: GitHttpOptions) {}

  request = async (request: GitHttpRequest): Promise<GitHttpResponse> => {
    let target = new URL(request.url);
    let method = request.method ?? 'GET';
    let payload = await collect(request.body);
    for (let hops = 0; ; hops += 1) {
      const response = await this.send(target, method, request.headers ?? {}, payload);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (!isRedirect(status) || location === undefined) {
        return {
          url: target.href,
          method,
          statusCode: status,
          statusMessage: response.statusMessage ?? '',
          headers: flatHeaders(response.headers),
          body: this.counted(response),
        };
      }
      response.destroy();
      if (hops >= MAX_REDIRECTS) throw new GitRemoteRefused(`more than ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, target);
      } catch {
        throw new GitRemoteRefused(`${shownUrl(target)} redirects to an invalid URL`);
      }
      const refused = this.options.policy.refusal(next);
      if (refused !== undefined) {
        throw new GitRemoteRefused(`${shownUrl(target)} redirects to ${shownUrl(next)}: ${refused}`);
      }
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        payload = undefined;
      }
      target = next;
    }
  };

  private async pinned(url: URL): Promise<PinnedAddress> {
    const key = `${url.protocol}//${url.host}`;
    const known = this.pins.get(key);
    if (known !== undefined) return known;
    const pin = await this.options.policy.admit(url);
    this.pins.set(key, pin);
    return pin;
  }

  private async send(
    url: URL,
    method: string,
    given: Readonly<Record<string, string>>,
    payload: Buffer | undefined,
  ): Promise<IncomingMessage> {
    const { address, family } = await this.pinned(url);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) {
      if (name.toLowerCase() !== 'authorization') headers[name] = value;
    }
    if (this.options.authorization !== null && url.origin === this.options.repository.origin) {
      headers['authorization'] = this.options.authorization;
    }
    if (payload !== undefined) headers['content-length'] = String(payload.length);
    const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
      if (lookupOptions.all === true) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = send(
        {
          protocol: url.protocol,
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          port: effectivePort(url),
          path: `${url.pathname}${url.search}`,
          method,
          headers,
          lookup,
          agent: false,
          signal: this.options.signal,
        },
        resolve,
      );
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  private async *counted(response: IncomingMessage): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        this.received += chunk.length;
        if (this.received > this.options.maxBytes) {
          throw new GitRemoteRefused(`the transfer is larger than ${this.options.maxBytes} bytes`);
        }
        yield chunk;
      }
    } finally {
      response.destroy();
    }
  }
}
