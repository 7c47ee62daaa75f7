import { createServer, type IncomingMessage, type Server } from 'node:http';

import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

import { freePort } from '@aibox/testing';

export type SigningAlg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface SignOptions {
  kid?: string;
  issuer?: string;
  audience?: string;
  subject?: string;
  /** Seconds relative to now. */
  expiresIn?: number;
  notBefore?: number;
  issuedAt?: number;
}

/**
 * A real OpenID provider for tests: discovery, JWKS (fetches counted), a client-credentials token endpoint
 * (client_secret_basic or client_secret_post), and signing of user tokens with its published keys.
 */
export class TestIssuer {
  readonly clients = new Map<string, string>();
  jwksFetches = 0;
  tokenRequests = 0;
  private keys: SigningKey[] = [];
  private server: Server | undefined;
  url = '';

  static async start(alg: SigningAlg = 'RS256'): Promise<TestIssuer> {
    const issuer = new TestIssuer();
    await issuer.addKey(alg);
    await issuer.listen();
    return issuer;
  }

  /** Publishes a new key (kept alongside the old ones) and makes it the signing key. */
  async addKey(
    alg: SigningAlg = 'RS256',
    kid = `k${this.keys.length + 1}-${alg.toLowerCase()}`,
  ): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    this.keys.unshift({ kid, alg, privateKey, publicJwk });
    return kid;
  }

  /** Withdraws a key from the JWKS (a compromised or retired key). */
  removeKey(kid: string): void {
    this.keys = this.keys.filter((key) => key.kid !== kid);
  }

  get signingKid(): string {
    return this.keys[0]?.kid ?? '';
  }

  publicJwk(kid = this.signingKid): JWK {
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (key === undefined) throw new Error(`no key ${kid}`);
    return key.publicJwk;
  }

  async sign(claims: JWTPayload = {}, options: SignOptions = {}): Promise<string> {
    const key =
      this.keys.find((candidate) => candidate.kid === (options.kid ?? this.signingKid)) ?? this.keys[0];
    if (key === undefined) throw new Error('the issuer has no key');
    const now = Math.floor(Date.now() / 1000);
    let jwt = new SignJWT({ email: 'ada@example.test', roles: ['user'], ...claims })
      .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'at+jwt' })
      .setIssuer(options.issuer ?? this.url)
      .setAudience(options.audience ?? 'aibox-api')
      .setSubject(options.subject ?? 'user-ada')
      .setIssuedAt(now + (options.issuedAt ?? 0))
      .setExpirationTime(now + (options.expiresIn ?? 300));
    if (options.notBefore !== undefined) jwt = jwt.setNotBefore(now + options.notBefore);
    return jwt.sign(key.privateKey);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }

  private async listen(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.server = createServer((request, response) => {
      void this.answer(request).then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
  }

  private async answer(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/.well-known/openid-configuration') {
      return {
        status: 200,
        body: { issuer: this.url, jwks_uri: `${this.url}/jwks`, token_endpoint: `${this.url}/token` },
      };
    }
    if (path === '/jwks') {
      this.jwksFetches += 1;
      return { status: 200, body: { keys: this.keys.map((key) => key.publicJwk) } };
    }
    if (path === '/token' && request.method === 'POST') {
      this.tokenRequests += 1;
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      let id = form.get('client_id') ?? '';
      let secret = form.get('client_secret') ?? '';
      const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (basic !== undefined) {
        const [user = '', pass = ''] = Buffer.from(basic, 'base64').toString('utf8').split(':');
        id = decodeURIComponent(user);
        secret = decodeURIComponent(pass);
      }
      if (form.get('grant_type') !== 'client_credentials' || this.clients.get(id) !== secret) {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      const token = await this.sign(
        { client_id: id, roles: [] },
        { audience: 'aibox-internal', subject: id, expiresIn: 300 },
      );
      return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: 300 } };
    }
    return { status: 404, body: { error: 'not_found' } };
  }
}
