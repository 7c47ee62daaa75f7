import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter } from 'react-router';
import { vi } from 'vitest';

import { theme } from './app/theme.js';

/** Renders a component as the app would: Mantine, a fresh query client without retries, a router at `path`. */
export function renderWithProviders(ui: ReactElement, { path = '/' }: { path?: string } = {}): RenderResult {
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  return render(
    <MantineProvider theme={theme}>
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

/** A request the stubbed gateway answered: its method, path and parsed JSON body. */
export interface StubbedCall {
  readonly method: string;
  readonly path: string;
  /** The query parameters. */
  readonly query: URLSearchParams;
  readonly body: unknown;
}

/** How the stubbed gateway answers one `METHOD /path`, given the request's JSON body and query. */
export type StubbedRoute = (body: unknown, query: URLSearchParams) => Response;

/** A JSON answer as the gateway sends it. */
export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** Stubs `fetch` as the gateway: `METHOD /path` → answer, else a 404; returns every call for the test to check. */
export function stubFetchRoutes(routes: Readonly<Record<string, StubbedRoute>>): StubbedCall[] {
  const calls: StubbedCall[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input), 'http://aibox.test');
      const method = init?.method ?? 'GET';
      const body: unknown = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
      calls.push({ method, path: url.pathname, query: url.searchParams, body });
      const route = routes[`${method} ${url.pathname}`];
      return Promise.resolve(
        route === undefined
          ? jsonResponse({ error: 'No such route', code: 'route_unknown' }, 404)
          : route(body, url.searchParams),
      );
    }),
  );
  return calls;
}

/** What the page saved with `saveBlob`: each file's bytes and the name it was saved under. */
export interface CapturedDownloads {
  readonly blobs: Blob[];
  readonly names: string[];
  /** Puts jsdom's own object URLs and anchor clicks back. */
  restore(): void;
}

/**
 * Captures downloads from here on. jsdom has no object URLs and does not download: the blob handed to
 * `URL.createObjectURL` and the anchor clicked (its `download` name) are the file.
 */
export function captureDownloads(): CapturedDownloads {
  const blobs: Blob[] = [];
  const names: string[] = [];
  const originals = (['createObjectURL', 'revokeObjectURL'] as const).map(
    (name) => [name, Object.getOwnPropertyDescriptor(URL, name)] as const,
  );
  Object.defineProperty(URL, 'createObjectURL', {
    configurable: true,
    writable: true,
    value: (blob: Blob) => {
      blobs.push(blob);
      return 'blob:download';
    },
  });
  Object.defineProperty(URL, 'revokeObjectURL', {
    configurable: true,
    writable: true,
    value: () => undefined,
  });
  const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function save(
    this: HTMLAnchorElement,
  ) {
    names.push(this.download);
  });
  return {
    blobs,
    names,
    restore() {
      click.mockRestore();
      for (const [name, descriptor] of originals) {
        if (descriptor === undefined) Reflect.deleteProperty(URL, name);
        else Object.defineProperty(URL, name, descriptor);
      }
    },
  };
}
