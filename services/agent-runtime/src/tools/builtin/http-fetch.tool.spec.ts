import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { freePort } from '@aibox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Tool, ToolContext } from '../tool.js';
import { checkFetchUrl, hostAllowed, httpFetchTool } from './http-fetch.tool.js';

// The tool reads only the signal of its context.
const context = { signal: new AbortController().signal } as ToolContext;
const MAX_BYTES = 1_024;

async function listen(
  host: string,
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, port };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

describe('http_fetch against a loopback server', () => {
  let site: { server: Server; port: number };
  let elsewhere: { server: Server; port: number };
  const elsewhereRequests: string[] = [];
  let tool: Tool;
  let base: string;

  beforeAll(async () => {
    // `localhost` is not on the allowlist: this server stands for a host the tool must never reach.
    elsewhere = await listen('localhost', (request, response) => {
      elsewhereRequests.push(request.url ?? '');
      response.end('secret');
    });
    site = await listen('127.0.0.1', (request, response) => {
      switch (request.url ?? '') {
        case '/hello':
          response.setHeader('content-type', 'text/plain; charset=utf-8');
          response.end('hello, world');
          return;
        case '/big':
          response.setHeader('content-type', 'text/plain');
          response.end('x'.repeat(200 * MAX_BYTES));
          return;
        case '/picture':
          response.setHeader('content-type', 'image/png');
          response.end(Buffer.alloc(300, 1));
          return;
        case '/missing':
          response.statusCode = 404;
          response.setHeader('content-type', 'text/plain');
          response.end('no such page');
          return;
        case '/redirect-home':
          response.writeHead(302, { location: '/hello' }).end();
          return;
        case '/redirect-away':
          response.writeHead(302, { location: `http://localhost:${elsewhere.port}/stolen` }).end();
          return;
        case '/loop':
          response.writeHead(307, { location: '/loop' }).end();
          return;
        default:
          response.statusCode = 500;
          response.end();
      }
    });
    base = `http://127.0.0.1:${site.port}`;
    tool = httpFetchTool({ allow: ['127.0.0.1'], maxBytes: MAX_BYTES, timeoutMs: 5_000 });
  });

  afterAll(async () => {
    await stop(site.server);
    await stop(elsewhere.server);
  });

  it('returns the body of an allowed URL with its status and content type', async () => {
    const output = await tool.run({ url: `${base}/hello` }, context);
    expect(output.isError).toBe(false);
    expect(output.text).toMatch(/^HTTP 200 OK\n/);
    expect(output.text).toContain('Content-Type: text/plain; charset=utf-8');
    expect(output.text.endsWith('\n\nhello, world')).toBe(true);
  });

  it('answers HEAD without a body', async () => {
    const output = await tool.run({ url: `${base}/hello`, method: 'HEAD' }, context);
    expect(output.text).toContain('HTTP 200 OK');
    expect(output.text).not.toContain('hello, world');
  });

  it('refuses a host that is not allowlisted, without connecting', async () => {
    const output = await tool.run({ url: `http://localhost:${elsewhere.port}/direct` }, context);
    expect(output).toEqual({
      text: 'localhost is not an allowed domain (allowed: 127.0.0.1).',
      isError: true,
    });
    expect(elsewhereRequests).toEqual([]);
  });

  it('follows a redirect to an allowed URL', async () => {
    const output = await tool.run({ url: `${base}/redirect-home` }, context);
    expect(output.text).toContain(`URL: ${base}/hello`);
    expect(output.text.endsWith('hello, world')).toBe(true);
  });

  it('does not follow a redirect to a host that is not allowlisted', async () => {
    const output = await tool.run({ url: `${base}/redirect-away` }, context);
    expect(output.isError).toBe(true);
    expect(output.text).toContain(`redirected to http://localhost:${elsewhere.port}/stolen; not followed`);
    expect(elsewhereRequests).toEqual([]);
  });

  it('gives up after three redirects', async () => {
    const output = await tool.run({ url: `${base}/loop` }, context);
    expect(output).toMatchObject({
      isError: true,
      text: expect.stringContaining('Stopped after 3 redirects') as unknown,
    });
  });

  it('stops reading at the size cap and says so', async () => {
    const output = await tool.run({ url: `${base}/big` }, context);
    expect(output.text).toContain(`[body truncated to the first ${MAX_BYTES} bytes]`);
    const body = output.text.split('\n\n')[1] ?? '';
    expect(body).toBe('x'.repeat(MAX_BYTES));
  });

  it('describes a binary body instead of returning it', async () => {
    const output = await tool.run({ url: `${base}/picture` }, context);
    expect(output.text.endsWith('\n\n[binary image/png, 300 bytes]')).toBe(true);
  });

  it('reports an error status as an error, with the body', async () => {
    const output = await tool.run({ url: `${base}/missing` }, context);
    expect(output.isError).toBe(true);
    expect(output.text).toMatch(/^HTTP 404 Not Found\n/);
    expect(output.text.endsWith('no such page')).toBe(true);
  });

  it('refuses a scheme other than http and https', async () => {
    expect(await tool.run({ url: 'file:///etc/passwd' }, context)).toEqual({
      text: 'Only http and https URLs can be fetched, not file.',
      isError: true,
    });
  });
});

describe('checkFetchUrl', () => {
  const allow = ['example.com', '127.0.0.1'];

  it('allows a listed domain and its subdomains, label by label', () => {
    expect(checkFetchUrl('https://example.com/a', allow).ok).toBe(true);
    expect(checkFetchUrl('https://docs.api.EXAMPLE.com./a', allow).ok).toBe(true);
    expect(checkFetchUrl('https://badexample.com/', allow)).toEqual({
      ok: false,
      reason: 'badexample.com is not an allowed domain (allowed: example.com, 127.0.0.1).',
    });
    expect(checkFetchUrl('https://example.com.evil.net/', allow).ok).toBe(false);
  });

  it('allows an IP address only exactly', () => {
    expect(checkFetchUrl('http://127.0.0.1:8080/', allow).ok).toBe(true);
    expect(checkFetchUrl('http://127.0.0.2/', allow).ok).toBe(false);
    expect(hostAllowed('1.127.0.0.1', ['127.0.0.1'])).toBe(false);
  });

  it('refuses credentials, other schemes and things that are no URL', () => {
    expect(checkFetchUrl('https://user:pass@example.com/', allow)).toEqual({
      ok: false,
      reason: 'URLs with credentials (user:password@) cannot be fetched.',
    });
    expect(checkFetchUrl('ftp://example.com/', allow).ok).toBe(false);
    expect(checkFetchUrl('javascript:alert(1)', allow).ok).toBe(false);
    expect(checkFetchUrl('/relative', allow).ok).toBe(false);
  });
});
