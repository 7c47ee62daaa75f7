import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ProviderConfigError } from '../src/errors/provider-config.error.js';
import { probeProvider } from '../src/repositories/provider-probe.js';

const KEY = 'sk-test-0123456789abcdefSECRET';

/** A real HTTP upstream whose behaviour each path picks, recording what reached it. */
class Upstream {
  readonly seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  private readonly server: Server;
  url = '';

  constructor(private readonly answer: (path: string, response: ServerResponse) => void) {
    this.server = createServer((request, response) => {
      this.seen.push({ path: request.url ?? '', headers: request.headers });
      this.answer(request.url ?? '', response);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : '';
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

async function failure(work: Promise<unknown>): Promise<ProviderConfigError> {
  try {
    await work;
  } catch (error: unknown) {
    if (error instanceof ProviderConfigError) return error;
    throw error;
  }
  throw new Error('the probe succeeded');
}

describe('probeProvider', () => {
  let target: Upstream;
  let upstream: Upstream;

  beforeAll(async () => {
    target = await new Upstream((_path, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
    }).start();
    upstream = await new Upstream((path, response) => {
      const json = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (path === '/ok/v1/models')
        json(200, {
          object: 'list',
          data: [{ id: 'gpt-4o-mini', object: 'model' }, { id: 'text-embedding-3-small' }, { nope: 1 }],
        });
      else if (path === '/moved/v1/models')
        response.writeHead(302, { location: `${target.url}/steal/v1/models` }).end();
      else if (path === '/denied/v1/models')
        json(401, { error: { message: `Incorrect API key provided: ${KEY}` } });
      else if (path === '/html/v1/models')
        response.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
      else if (path === '/hang/v1/models') response.writeHead(200);
      else json(404, { error: 'not found' });
    }).start();
  });
  afterAll(async () => {
    await Promise.all([upstream.close(), target.close()]);
  });

  it('lists the models, sending the key as a bearer token', async () => {
    expect(await probeProvider({ baseUrl: `${upstream.url}/ok/v1`, apiKey: KEY })).toEqual([
      'gpt-4o-mini',
      'text-embedding-3-small',
    ]);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('never follows a redirect, and names where it pointed', async () => {
    const error = await failure(probeProvider({ baseUrl: `${upstream.url}/moved/v1`, apiKey: KEY }));
    expect(error.code).toBe('provider_redirect');
    expect(error.message).toContain(`${target.url}/steal/v1/models`);
    expect(target.seen).toEqual([]);
  });

  it('refuses what is not a model list, without echoing the provider body or the key', async () => {
    const denied = await failure(probeProvider({ baseUrl: `${upstream.url}/denied/v1`, apiKey: KEY }));
    expect(denied).toMatchObject({ code: 'provider_rejected' });
    expect(denied.message).toContain('401');
    expect(denied.message).not.toContain(KEY);
    expect((await failure(probeProvider({ baseUrl: `${upstream.url}/html/v1` }))).code).toBe(
      'provider_rejected',
    );
    expect((await failure(probeProvider({ baseUrl: `${upstream.url}/missing/v1` }))).code).toBe(
      'provider_rejected',
    );
  });

  it('gives up on a provider that stalls or is not there', async () => {
    const stalled = await failure(probeProvider({ baseUrl: `${upstream.url}/hang/v1`, timeoutMs: 300 }));
    expect(stalled.code).toBe('provider_unreachable');
    const closed = await failure(probeProvider({ baseUrl: 'http://127.0.0.1:1/v1' }));
    expect(closed.code).toBe('provider_unreachable');
  });
});
