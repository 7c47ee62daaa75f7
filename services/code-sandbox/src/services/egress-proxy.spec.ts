import { describe, expect, it } from 'vitest';

import { isEgressHostPattern } from '../dtos/sandbox.dto.js';
import {
  EgressPolicy,
  EgressRefused,
  hostMatches,
  parseAbsoluteTarget,
  parseAuthority,
} from './egress-proxy.js';
import type { HostResolver } from './git-remote.js';

/** A resolver answering from a table, recording every name it was asked. */
function fakeResolver(table: Record<string, readonly string[]>): { resolve: HostResolver; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolve: (hostname) => {
      asked.push(hostname);
      const addresses = table[hostname];
      if (addresses === undefined) {
        return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
      }
      return Promise.resolve(
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (error: unknown) {
    if (error instanceof EgressRefused) return { status: error.status, message: error.message };
    throw error;
  }
  throw new Error('admitted');
}

describe('isEgressHostPattern', () => {
  it.each([
    ['example.com', true],
    ['localhost', true],
    ['xn--bcher-kva.example', true],
    ['*.example.com', true],
    ['a-b.c0.example', true],
    ['*', false],
    ['*.', false],
    ['**.example.com', false],
    ['api.*.example.com', false],
    ['example.com.', false],
    ['.example.com', false],
    ['-a.example.com', false],
    ['a-.example.com', false],
    ['ex_ample.com', false],
    ['example.com:443', false],
    ['https://example.com', false],
    ['127.0.0.1', false],
    ['10.0.0.1', false],
    ['example.0x7f', false],
    ['1.2.3.4.5', false],
    ['::1', false],
    ['[::1]', false],
    [`${'a'.repeat(64)}.com`, false],
    ['', false],
  ])('%s → %s', (entry, expected) => {
    expect(isEgressHostPattern(entry)).toBe(expected);
  });
});

describe('hostMatches', () => {
  it('takes exact names, and *.name for names below it only', () => {
    const allow = ['api.example.com', '*.pypi.org'];
    expect(hostMatches('api.example.com', allow)).toBe(true);
    expect(hostMatches('www.api.example.com', allow)).toBe(false);
    expect(hostMatches('example.com', allow)).toBe(false);
    expect(hostMatches('files.pypi.org', allow)).toBe(true);
    expect(hostMatches('a.b.pypi.org', allow)).toBe(true);
    expect(hostMatches('pypi.org', allow)).toBe(false);
    expect(hostMatches('evilpypi.org', allow)).toBe(false);
    expect(hostMatches('pypi.org.evil.com', allow)).toBe(false);
  });
});

describe('request targets', () => {
  it('parses CONNECT authorities with an explicit port, canonical hosts, IPv6 in brackets', () => {
    expect(parseAuthority('Example.COM:443')).toEqual({ host: 'example.com', port: 443 });
    expect(parseAuthority('example.com.:443')).toEqual({ host: 'example.com', port: 443 });
    expect(parseAuthority('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(parseAuthority('127.1:443')).toEqual({ host: '127.0.0.1', port: 443 });
    for (const bad of ['example.com', 'example.com:0', 'example.com:70000', 'user@example.com:443', ':443']) {
      expect(parseAuthority(bad)).toBeUndefined();
    }
    expect(parseAuthority('a/b:443')).toBeUndefined();
  });

  it('parses absolute-form http targets only', () => {
    expect(parseAbsoluteTarget('http://Example.com/a/b?c=d')).toEqual({
      host: 'example.com',
      port: 80,
      path: '/a/b?c=d',
      authority: 'example.com',
    });
    expect(parseAbsoluteTarget('http://example.com:8080')).toMatchObject({ port: 8080, path: '/' });
    expect(parseAbsoluteTarget('/a/b')).toBeUndefined();
    expect(parseAbsoluteTarget('https://example.com/')).toBeUndefined();
    expect(parseAbsoluteTarget('ftp://example.com/')).toBeUndefined();
  });
});

describe('EgressPolicy', () => {
  const settings = { privateHosts: ['internal.example', '*.corp.example'], ports: [80, 443] };

  it('refuses IP addresses, names off the allowlist and other ports before any lookup', async () => {
    const resolver = fakeResolver({ 'api.example.com': ['93.184.216.34'] });
    const policy = new EgressPolicy(settings, resolver.resolve);
    const allow = ['api.example.com'];
    expect(await refusal(policy.admit(allow, '93.184.216.34', 443))).toMatchObject({ status: 403 });
    expect(await refusal(policy.admit(allow, 'secret-data.attacker.example', 443))).toEqual({
      status: 403,
      message: "secret-data.attacker.example is not on this sandbox's allowlist",
    });
    expect(await refusal(policy.admit(allow, 'api.example.com', 22))).toEqual({
      status: 403,
      message: 'port 22 is not open to egress (80, 443)',
    });
    expect(resolver.asked).toEqual([]);
  });

  it('pins the addresses it checked, and refuses a name with any non-public address', async () => {
    const resolver = fakeResolver({
      'api.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
      'rebind.example.com': ['93.184.216.34', '10.0.0.7'],
      'meta.example.com': ['169.254.169.254'],
      'mapped.example.com': ['::ffff:127.0.0.1'],
    });
    const policy = new EgressPolicy(settings, resolver.resolve);
    const allow = ['*.example.com'];
    expect(await policy.admit(allow, 'api.example.com', 443)).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    expect(await refusal(policy.admit(allow, 'rebind.example.com', 443))).toEqual({
      status: 403,
      message: 'rebind.example.com resolves to 10.0.0.7, which is not a public address',
    });
    expect(await refusal(policy.admit(allow, 'meta.example.com', 80))).toMatchObject({ status: 403 });
    expect(await refusal(policy.admit(allow, 'mapped.example.com', 80))).toMatchObject({ status: 403 });
    expect(await refusal(policy.admit(allow, 'gone.example.com', 80))).toEqual({
      status: 502,
      message: 'cannot resolve gone.example.com (ENOTFOUND)',
    });
  });

  it('lets the deployment’s private hosts resolve to private addresses, when the sandbox allows them', async () => {
    const resolver = fakeResolver({ 'internal.example': ['10.1.2.3'], 'git.corp.example': ['127.0.0.1'] });
    const policy = new EgressPolicy(settings, resolver.resolve);
    expect(await policy.admit(['internal.example'], 'internal.example', 443)).toEqual([
      { address: '10.1.2.3', family: 4 },
    ]);
    expect(await policy.admit(['*.corp.example'], 'git.corp.example', 80)).toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
    // The setting does not allow anything by itself.
    expect(await refusal(policy.admit(['other.example'], 'internal.example', 443))).toMatchObject({
      status: 403,
    });
  });
});
