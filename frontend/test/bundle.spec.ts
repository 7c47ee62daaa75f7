import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

/**
 * The production build as the gateway serves it (`make build` writes frontend/dist before the tests run): every
 * asset hashed, and the JavaScript a first visit loads — the entry and what it preloads — under 300 kB gzipped.
 */
const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

async function indexHtml(): Promise<string> {
  try {
    return await readFile(join(DIST, 'index.html'), 'utf8');
  } catch {
    throw new Error(`${DIST}/index.html is missing: build the web app first (make build)`);
  }
}

function initialScripts(html: string): string[] {
  const entries = [...html.matchAll(/<script type="module"[^>]*\ssrc="([^"]+)"/g)].map(
    (match) => match[1] ?? '',
  );
  const preloads = [...html.matchAll(/<link rel="modulepreload"[^>]*\shref="([^"]+)"/g)].map(
    (match) => match[1] ?? '',
  );
  return [...entries, ...preloads];
}

describe('the production build', () => {
  it('references only hashed assets', async () => {
    const html = await indexHtml();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
    expect(assets.length).toBeGreaterThan(1);
    for (const asset of assets) expect(asset).toMatch(/^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.(js|css)$/);
  });

  it('loads under 300 kB of gzipped JavaScript on a first visit, admin pages not included', async () => {
    const scripts = initialScripts(await indexHtml());
    expect(scripts.length).toBeGreaterThan(0);
    let gzipped = 0;
    for (const script of scripts) {
      const body = await readFile(join(DIST, script));
      gzipped += gzipSync(body).length;
      expect(body.toString('utf8')).not.toContain('Add provider');
    }
    expect(gzipped).toBeLessThan(300_000);
  });
});
