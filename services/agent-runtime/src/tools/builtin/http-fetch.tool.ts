import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';

import { request, type Dispatcher } from 'undici';

import type { Tool, ToolContext, ToolOutput } from '../tool.js';

/** AGENT_HTTP_FETCH_*: the domains the tool may reach, the body cap and the whole fetch's timeout. */
export interface HttpFetchConfig {
  readonly allow: readonly string[];
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** Redirects followed by hand (each target checked against the allowlist) before giving up. */
export const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TEXT_TYPES =
  /^(text\/.*|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|yaml|x-yaml|toml|graphql|x-ndjson)|.*\+(json|xml))$/;

/** A host name as URL gives it, without IPv6 brackets or a trailing dot, lower-cased. */
function bareHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/**
 * Whether `host` is an allowlisted domain or a subdomain of one, label by label: `example.com` allows
 * `a.example.com` but not `badexample.com`. An IP address is allowed only when listed exactly.
 */
export function hostAllowed(host: string, allow: readonly string[]): boolean {
  const bare = bareHost(host);
  if (bare === '') return false;
  return allow.some((entry) => {
    const domain = bareHost(entry.replace(/^\*?\./, ''));
    if (domain === '') return false;
    if (bare === domain) return true;
    return isIP(bare) === 0 && isIP(domain) === 0 && bare.endsWith(`.${domain}`);
  });
}

/** The URL, if the tool may fetch it; otherwise why not, in words the model can act on. */
export function checkFetchUrl(
  raw: string,
  allow: readonly string[],
): { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: `"${raw}" is not a valid absolute URL.` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      ok: false,
      reason: `Only http and https URLs can be fetched, not ${url.protocol.replace(/:$/, '')}.`,
    };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'URLs with credentials (user:password@) cannot be fetched.' };
  }
  if (!hostAllowed(url.hostname, allow)) {
    const allowed = allow.length === 0 ? 'none' : allow.join(', ');
    return { ok: false, reason: `${url.hostname} is not an allowed domain (allowed: ${allowed}).` };
  }
  return { ok: true, url };
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Up to `maxBytes` of `body`; stops reading (and so closes the response) once the cap is reached. */
async function readCapped(
  body: AsyncIterable<Buffer>,
  maxBytes: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = maxBytes - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

function decode(bytes: Buffer, contentType: string): string {
  const charset = /;\s*charset="?([^";\s]+)"?/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** Text-like by its type; without one, text unless it has NUL bytes near the start. */
function isText(mime: string, bytes: Buffer): boolean {
  if (mime === '') return !bytes.subarray(0, 1024).includes(0);
  return TEXT_TYPES.test(mime);
}

type Fetched =
  { readonly response: Dispatcher.ResponseData; readonly url: URL } | { readonly refused: string };

async function fetchChecked(
  url: URL,
  method: 'GET' | 'HEAD',
  config: HttpFetchConfig,
  signal: AbortSignal,
): Promise<Fetched> {
  let target = url;
  let verb = method;
  for (let redirects = 0; ; redirects += 1) {
    const response = await request(target, {
      method: verb,
      signal,
      headers: { 'user-agent': 'aibox-agent-runtime http_fetch', accept: '*/*' },
    });
    const location = headerOf(response.headers, 'location');
    if (!REDIRECT_STATUSES.has(response.statusCode) || location === undefined)
      return { response, url: target };
    await response.body.dump();
    if (redirects === MAX_REDIRECTS) {
      return { refused: `Stopped after ${MAX_REDIRECTS} redirects (the next one went to ${location}).` };
    }
    let next: URL;
    try {
      next = new URL(location, target);
    } catch {
      return { refused: `The server redirected to "${location}", which is not a valid URL.` };
    }
    const checked = checkFetchUrl(next.href, config.allow);
    if (!checked.ok)
      return { refused: `The server redirected to ${next.href}; not followed: ${checked.reason}` };
    target = checked.url;
    if (response.statusCode === 303 && verb !== 'HEAD') verb = 'GET';
  }
}

async function fetchUrl(
  args: Record<string, unknown>,
  config: HttpFetchConfig,
  context: ToolContext,
): Promise<ToolOutput> {
  const raw = typeof args['url'] === 'string' ? args['url'] : '';
  const method = args['method'] === 'HEAD' ? 'HEAD' : 'GET';
  const checked = checkFetchUrl(raw, config.allow);
  if (!checked.ok) return { text: checked.reason, isError: true };

  const timeout = AbortSignal.timeout(config.timeoutMs);
  const signal = AbortSignal.any([context.signal, timeout]);
  try {
    const fetched = await fetchChecked(checked.url, method, config, signal);
    if ('refused' in fetched) return { text: fetched.refused, isError: true };
    const { response, url } = fetched;
    const contentType = headerOf(response.headers, 'content-type') ?? '';
    const mime = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    const length = headerOf(response.headers, 'content-length');
    const { bytes, truncated } =
      method === 'HEAD'
        ? { bytes: Buffer.alloc(0), truncated: false }
        : await readCapped(response.body, config.maxBytes);
    if (method === 'HEAD') await response.body.dump();

    const status = `HTTP ${response.statusCode} ${STATUS_CODES[response.statusCode] ?? ''}`.trimEnd();
    const head = [status, `URL: ${url.href}`, `Content-Type: ${contentType === '' ? '(none)' : contentType}`];
    if (length !== undefined) head.push(`Content-Length: ${length}`);
    let body = '';
    if (method === 'GET') {
      if (truncated) head.push(`[body truncated to the first ${config.maxBytes} bytes]`);
      const size = truncated ? `more than ${config.maxBytes}` : `${bytes.length}`;
      body = isText(mime, bytes) ? decode(bytes, contentType) : `[binary ${mime || 'data'}, ${size} bytes]`;
    }
    return { text: `${head.join('\n')}\n\n${body}`, isError: response.statusCode >= 400 };
  } catch (error: unknown) {
    if (context.signal.aborted) throw error;
    if (timeout.aborted)
      return { text: `Fetching ${raw} timed out after ${config.timeoutMs} ms.`, isError: true };
    return { text: `Fetching ${raw} failed: ${messageOf(error)}`, isError: true };
  }
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const cause: unknown = error.cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

/**
 * `http_fetch`: GET or HEAD a URL of an allowlisted domain. Redirects are never followed blindly (each target is
 * checked like the first URL) and the body is read only up to the cap.
 */
export function httpFetchTool(config: HttpFetchConfig): Tool {
  const allowed = config.allow.length === 0 ? 'none' : config.allow.join(', ');
  return {
    name: 'http_fetch',
    description:
      `Fetches a URL over HTTP(S) with GET or HEAD and returns the status, content type and (for text) the ` +
      `body, up to ${config.maxBytes} bytes. Only these domains and their subdomains can be reached: ${allowed}.`,
    parameters: {
      type: 'object',
      properties: {
        url: { type: 'string', description: 'The absolute http or https URL to fetch.' },
        method: { type: 'string', enum: ['GET', 'HEAD'], description: 'GET (default) or HEAD.' },
      },
      required: ['url'],
      additionalProperties: false,
    },
    run: (args, context): Promise<ToolOutput> => fetchUrl(args, config, context),
  };
}
