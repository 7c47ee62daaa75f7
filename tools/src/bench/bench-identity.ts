import { createServer, type Server } from 'node:http';

import { HEADER, newTurnId, signCapToken, signPrincipal, type KeySet } from '@aibox/identity';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** The audience the gateway is started with in the benchmarks, and that the issuer's token names. */
export const AUDIENCE = 'aibox-api';

export interface Issuer {
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

/** An OIDC issuer serving discovery and JWKS, and one RS256 access token (valid an hour) it signed. */
export async function startIssuer(): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  let url = '';
  const server: Server = createServer((request, response) => {
    const body =
      request.url === '/.well-known/openid-configuration'
        ? { issuer: url, jwks_uri: `${url}/jwks`, token_endpoint: `${url}/token` }
        : request.url === '/jwks'
          ? { keys: [jwk] }
          : undefined;
    response.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the issuer got no port');
  url = `http://127.0.0.1:${address.port}`;
  const token = await new SignJWT({ email: 'bench@aibox.local', roles: ['user'] })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(url)
    .setAudience(AUDIENCE)
    .setSubject('bench-user')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
  return {
    url,
    token,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => {
          done();
        });
      }),
  };
}

/** Who a benchmark request is from, as the gateway would stamp it (tenant `default`). */
export interface Identity {
  readonly uid: string;
  readonly roles: readonly string[];
  readonly caps: readonly string[];
}

export interface Keys {
  readonly principals: KeySet;
  readonly caps: KeySet;
}

/**
 * Headers of one request by `who` in a fresh turn (the cap token is bound to it), or in none (`inTurn`
 * false: the router records only calls in a turn). Principals live 60 s: a load phase signs its own.
 */
export function identityHeaders(who: Identity, keys: Keys, inTurn = true): Record<string, string> {
  const turn = newTurnId();
  return {
    [HEADER.principal]: signPrincipal(
      {
        tid: 'default',
        uid: who.uid,
        email: `${who.uid}@bench.local`,
        roles: [...who.roles],
        iss: 'https://idp.bench.local',
        sub: who.uid,
      },
      keys.principals,
    ),
    ...(inTurn ? { [HEADER.turnId]: turn } : {}),
    [HEADER.capToken]: signCapToken({ turn, tid: 'default', uid: who.uid, caps: [...who.caps] }, keys.caps),
  };
}
