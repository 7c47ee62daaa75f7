import type { Readable } from 'node:stream';

import { PlatformError } from '@aibox/platform';

import type { SpaSignIn } from '../config/gateway-config.schema.js';
import type { StaticFile, StaticFilesRepository } from '../repositories/static-files.repository.js';

/**
 * Headers on every file of the SPA. Besides its own origin, the SPA may `fetch` only from its sign-in
 * issuer's origin (discovery, token and revocation endpoints).
 */
export function securityHeaders(signIn: SpaSignIn): Readonly<Record<string, string>> {
  const connect = signIn.mode === 'oidc' ? `'self' ${new URL(signIn.issuer).origin}` : "'self'";
  return Object.freeze({
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
      `font-src 'self' data:; connect-src ${connect}; object-src 'none'; base-uri 'self'; form-action 'self'; ` +
      "frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  });
}

export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
export const NO_CACHE = 'no-cache';

// Vite's hashed build output: /assets/<name>-<hash>.<ext>.
const HASHED_ASSET = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$/;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
  webmanifest: 'application/manifest+json',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  txt: 'text/plain; charset=utf-8',
  wasm: 'application/wasm',
};

export interface StaticResponse {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readable;
}

function contentType(name: string): string {
  const extension = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

/**
 * The request path as file segments, or undefined when it tries to leave the directory or reach a hidden
 * file: `..`/`.` segments, encoded separators, backslashes, NUL, dot files, malformed escapes.
 */
export function fileSegments(path: string): string[] | undefined {
  const segments: string[] = [];
  for (const raw of path.split('/').slice(1)) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '') continue;
    if (segment.startsWith('.') || /[/\\\0]/.test(segment)) return undefined;
    segments.push(segment);
  }
  return segments;
}

function acceptsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/html\b/i.test(accept);
}

/**
 * The SPA at `/` (GATEWAY_STATIC_DIR): files as they are, `index.html` for paths that are not files when
 * the client accepts HTML (client-side routing), long immutable caching for hashed assets, `no-cache` for
 * everything else, and security headers on all of it.
 */
export class StaticSiteService {
  private readonly securityHeaders: Readonly<Record<string, string>>;

  constructor(
    private readonly files: StaticFilesRepository | undefined,
    signIn: SpaSignIn,
  ) {
    this.securityHeaders = securityHeaders(signIn);
  }

  async serve(path: string, accept: string | undefined): Promise<StaticResponse> {
    if (this.files === undefined || path === '/v1' || path.startsWith('/v1/')) {
      throw new PlatformError('route_unknown', { detail: `nothing is served at ${path.slice(0, 200)}` });
    }
    const segments = fileSegments(path);
    if (segments === undefined) throw new PlatformError('not_found');
    const wanted = segments.length === 0 ? ['index.html'] : segments;
    const file = await this.files.find(wanted);
    if (file !== undefined) {
      return this.response(
        file,
        wanted.at(-1) ?? 'index.html',
        HASHED_ASSET.test(path) ? IMMUTABLE_CACHE : NO_CACHE,
      );
    }
    const index = acceptsHtml(accept) ? await this.files.find(['index.html']) : undefined;
    if (index === undefined) throw new PlatformError('not_found');
    return this.response(index, 'index.html', NO_CACHE);
  }

  private response(file: StaticFile, name: string, cache: string): StaticResponse {
    return {
      headers: {
        ...this.securityHeaders,
        'content-type': contentType(name),
        'content-length': String(file.size),
        'cache-control': cache,
        'last-modified': file.modified.toUTCString(),
      },
      body: file.open(),
    };
  }
}
