import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CHROMIUM_PATH, needs } from '@aibox/testing';

import type { VerifyReport } from '../src/index.js';
import { buildTenantLog, type TenantLog } from './support/tenant-log.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const CANONICALIZE = createRequire(import.meta.url).resolve('canonicalize');
const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<script type="importmap">{"imports":{"canonicalize":"/canonicalize.js"}}</script></head><body></body></html>`;

/**
 * The built package, as the SPA will load it: plain ES modules in a real Chromium, with WebCrypto for
 * SHA-256 and Ed25519 and no Node built-ins (a module importing one would not load at all).
 */
describe.runIf(await needs('chromium'))('the verifier in a browser', () => {
  let server: Server;
  let browser: Browser;
  let origin = '';
  let log: TenantLog;

  beforeAll(async () => {
    log = await buildTenantLog(5);
    server = createServer((request, response) => {
      const path = normalize(request.url ?? '/');
      const send = (type: string, body: string | Buffer): void => {
        response.writeHead(200, { 'content-type': type });
        response.end(body);
      };
      if (path === '/') send('text/html', PAGE);
      else if (path === '/canonicalize.js')
        void readFile(CANONICALIZE).then((body) => {
          send('text/javascript', body);
        });
      else if (path.startsWith('/audit-proof/') && path.endsWith('.js'))
        void readFile(join(DIST, path.slice('/audit-proof/'.length))).then(
          (body) => {
            send('text/javascript', body);
          },
          () => {
            response.writeHead(404).end();
          },
        );
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    origin = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : '';
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function verifyInBrowser(proof: unknown, keys: unknown): Promise<VerifyReport> {
    const page = await browser.newPage();
    try {
      await page.goto(origin);
      // A module script, as the SPA would load it (vitest rewrites import() inside evaluated functions).
      await page.addScriptTag({
        type: 'module',
        content: "import * as proofs from '/audit-proof/index.js'; globalThis.auditProof = proofs;",
      });
      await page.waitForFunction(() => 'auditProof' in globalThis);
      return await page.evaluate(
        (args) =>
          (
            globalThis as unknown as { auditProof: typeof import('../src/index.js') }
          ).auditProof.verifyReceiptProof(args.proof, args.keys),
        { proof, keys },
      );
    } finally {
      await page.close();
    }
  }

  it('verifies a genuine receipt proof and names the failure of a tampered one', async () => {
    const proof = log.proofs[2];
    expect(await verifyInBrowser(proof, log.keys)).toMatchObject({ ok: true });
    const tampered = structuredClone(proof) as unknown as { events: { event: Record<string, unknown> }[] };
    const event = tampered.events[0];
    if (event !== undefined) event.event['user_id'] = 'mallory';
    expect(await verifyInBrowser(tampered, log.keys)).toMatchObject({
      ok: false,
      failure: { code: 'event_hash_mismatch' },
    });
  });
});
