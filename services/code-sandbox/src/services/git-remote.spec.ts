import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import {
  GitHttp,
  GitRemotePolicy,
  GitRemoteRefused,
  isPublicAddress,
  parseGitHosts,
  type HostResolver,
} from './git-remote.js';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['172.32.0.1', true],
    ['100.128.0.1', true],
    ['2606:4700:4700::1111', true],
    ['0.0.0.0', false],
    ['10.1.2.3', false],
    ['100.64.0.1', false],
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['169.254.169.254', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['198.18.0.1', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::', false],
    ['::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['64:ff9b::a00:1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['ff02::1', false],
    ['2001:db8::1', false],
    ['2002:a00:1::1', false],
    ['example.com', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('parseGitHosts', () => {
  it('takes hosts and host:port, normalized', () => {
    expect(parseGitHosts(' Git.Example.COM , 127.0.0.1:8080,[::1]:9000,,')).toEqual([
      { hostname: 'git.example.com', port: null },
      { hostname: '127.0.0.1', port: 8080 },
      { hostname: '[::1]', port: 9000 },
    ]);
    expect(parseGitHosts('')).toEqual([]);
  });

  it('says which entry is not a host', () => {
    expect(parseGitHosts('ok.example,https://x.example')).toBe('entry 2 is not a host or host:port');
    expect(parseGitHosts('a b')).toBe('entry 1 is not a host or host:port');
    expect(parseGitHosts('host:99999')).toBe('entry 1 is not a host or host:port');
    expect(parseGitHosts('user@host')).toBe('entry 1 is not a host or host:port');
  });
});

const resolving =
  (table: Readonly<Record<string, readonly string[]>>): HostResolver =>
  (hostname) => {
    const addresses = table[hostname];
    if (addresses === undefined) {
      return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    }
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };

describe('GitRemotePolicy', () => {
  it('without an allowlist, takes https to public hosts only', () => {
    const policy = new GitRemotePolicy([]);
    expect(policy.refusal(new URL('https://github.com/a/b.git'))).toBeUndefined();
    expect(policy.refusal(new URL('https://8.8.8.8/a.git'))).toBeUndefined();
    expect(policy.refusal(new URL('http://github.com/a/b.git'))).toMatch(/http is refused/);
    expect(policy.refusal(new URL('https://10.0.0.1/a.git'))).toMatch(/not a public address/);
    expect(policy.refusal(new URL('https://[::1]/a.git'))).toMatch(/not a public address/);
    expect(policy.refusal(new URL('https://0x7f000001/a.git'))).toMatch(/not a public address/);
    expect(policy.refusal(new URL('file:///etc'))).toMatch(/file URLs are refused/);
    expect(policy.refusal(new URL('ssh://git@github.com/a.git'))).toMatch(/ssh URLs are refused/);
    expect(policy.refusal(new URL('https://u:p@github.com/a.git'))).toMatch(/credentials in the URL/);
  });

  it('with an allowlist, takes the hosts on it only, on their ports, over https or http', () => {
    const hosts = parseGitHosts('git.internal,127.0.0.1:8080');
    if (typeof hosts === 'string') throw new Error(hosts);
    const policy = new GitRemotePolicy(hosts);
    expect(policy.refusal(new URL('https://git.internal/a.git'))).toBeUndefined();
    expect(policy.refusal(new URL('https://GIT.internal./a.git'))).toBeUndefined();
    expect(policy.refusal(new URL('http://git.internal/a.git'))).toBeUndefined();
    expect(policy.refusal(new URL('http://127.0.0.1:8080/a.git'))).toBeUndefined();
    expect(policy.refusal(new URL('https://git.internal:8443/a.git'))).toMatch(/not among/);
    expect(policy.refusal(new URL('http://127.0.0.1:8081/a.git'))).toMatch(/not among/);
    expect(policy.refusal(new URL('http://127.0.0.1/a.git'))).toMatch(/not among/);
    expect(policy.refusal(new URL('https://github.com/a.git'))).toMatch(/not among/);
  });

  it('checks every address a name resolves to, and pins the one to connect to', async () => {
    const policy = new GitRemotePolicy(
      [],
      resolving({
        'public.test': ['93.184.216.34', '2606:2800:220:1::1'],
        'rebind.test': ['93.184.216.34', '10.0.0.7'],
        'mapped.test': ['::ffff:127.0.0.1'],
        'empty.test': [],
      }),
    );
    await expect(policy.admit(new URL('https://public.test/a.git'))).resolves.toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(policy.admit(new URL('https://rebind.test/a.git'))).rejects.toThrow(
      'rebind.test resolves to 10.0.0.7, which is not a public address',
    );
    await expect(policy.admit(new URL('https://mapped.test/a.git'))).rejects.toThrow(/not a public address/);
    await expect(policy.admit(new URL('https://empty.test/a.git'))).rejects.toThrow(/resolves to no address/);
    await expect(policy.admit(new URL('https://missing.test/a.git'))).rejects.toThrow(
      'cannot resolve missing.test (ENOTFOUND)',
    );
  });

  it("refuses a name the system resolves to loopback (the machine's own resolver)", async () => {
    await expect(new GitRemotePolicy([]).admit(new URL('https://localhost/a.git'))).rejects.toBeInstanceOf(
      GitRemoteRefused,
    );
  });

  it('lets an allowlisted host resolve anywhere', async () => {
    const policy = new GitRemotePolicy(
      [{ hostname: 'git.internal', port: null }],
      resolving({ 'git.internal': ['10.1.1.1'] }),
    );
    await expect(policy.admit(new URL('https://git.internal/a.git'))).resolves.toEqual({
      address: '10.1.1.1',
      family: 4,
    });
  });
});

describe('GitHttp', () => {
  const servers: Server[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });

  async function listen(
    handler: (
      url: string,
      headers: IncomingHttpHeaders,
    ) => { status: number; headers?: Record<string, string>; body?: string },
  ): Promise<number> {
    const server = createServer((request, response) => {
      const answer = handler(request.url ?? '/', request.headers);
      response.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      request.resume();
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return (server.address() as AddressInfo).port;
  }

  async function read(body: AsyncIterable<Uint8Array> | undefined): Promise<string> {
    let text = '';
    for await (const chunk of body ?? []) text += Buffer.from(chunk).toString('utf8');
    return text;
  }

  it('connects to the pinned address, not to what a name resolves to later', async () => {
    const port = await listen(() => ({ status: 200, body: 'reached' }));
    // `pinned.test` exists only in this resolver: the connection can only have gone to the pinned address.
    const policy = new GitRemotePolicy(
      [{ hostname: 'pinned.test', port }],
      resolving({ 'pinned.test': ['127.0.0.1'] }),
    );
    const url = new URL(`http://pinned.test:${port}/a.git`);
    const http = new GitHttp({
      policy,
      repository: url,
      authorization: null,
      maxBytes: 1_000,
      signal: new AbortController().signal,
    });
    const response = await http.request({ url: `${url.href}/info/refs` });
    expect(response.statusCode).toBe(200);
    expect(await read(response.body)).toBe('reached');
  });

  it("sends the authorization to the repository's origin only, and follows redirects within the allowlist", async () => {
    const seen: (string | undefined)[] = [];
    const second = await listen((_url, headers) => {
      seen.push(headers.authorization);
      return { status: 200, body: 'moved' };
    });
    const first = await listen((url, headers) => {
      seen.push(headers.authorization);
      return { status: 302, headers: { location: `http://127.0.0.1:${second}${url}` } };
    });
    const policy = new GitRemotePolicy([
      { hostname: '127.0.0.1', port: first },
      { hostname: '127.0.0.1', port: second },
    ]);
    const url = new URL(`http://127.0.0.1:${first}/a.git`);
    const http = new GitHttp({
      policy,
      repository: url,
      authorization: 'Basic c2VjcmV0',
      maxBytes: 1_000,
      signal: new AbortController().signal,
    });
    const response = await http.request({
      url: `${url.href}/info/refs`,
      headers: { authorization: 'Basic bGVha2Vk' },
    });
    expect(response.url).toBe(`http://127.0.0.1:${second}/a.git/info/refs`);
    expect(await read(response.body)).toBe('moved');
    expect(seen).toEqual(['Basic c2VjcmV0', undefined]);
  });

  it('stops a transfer past its byte cap', async () => {
    const port = await listen(() => ({ status: 200, body: 'x'.repeat(5_000) }));
    const url = new URL(`http://127.0.0.1:${port}/a.git`);
    const http = new GitHttp({
      policy: new GitRemotePolicy([{ hostname: '127.0.0.1', port }]),
      repository: url,
      authorization: null,
      maxBytes: 1_000,
      signal: new AbortController().signal,
    });
    const response = await http.request({ url: url.href });
    await expect(read(response.body)).rejects.toThrow('the transfer is larger than 1000 bytes');
  });
});
