import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuditSink } from './support/audit-sink.js';
import { bearer, send } from './support/client.js';
import { Downstream } from './support/downstream.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { TestIssuer } from './support/oidc-issuer.js';

// The production default is 30 s; the test shortens the window to keep its run short, not to change the rule.
const REFETCH_SECONDS = 2;

describe('issuer key rotation', () => {
  let issuer: TestIssuer;
  let downstream: Downstream;
  let audit: AuditSink;
  let gateway: TestGateway;

  beforeAll(async () => {
    [issuer, downstream, audit] = await Promise.all([
      TestIssuer.start('RS256'),
      Downstream.start(),
      AuditSink.start(),
    ]);
    gateway = await startGateway(
      {
        AUTH_ISSUERS: issuer.url,
        AUDIT_GRPC_URL: audit.target,
        AUTH_JWKS_REFETCH_SECONDS: String(REFETCH_SECONDS),
      },
      downstream.url,
    );
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([issuer.close(), downstream.close(), audit.close()]);
  });

  it('keeps old tokens valid, accepts the new kid without a restart, and refetches at most once per window', async () => {
    const oldToken = await issuer.sign();
    expect((await send(`${gateway.url}/v1/models`, { headers: bearer(oldToken) })).status).toBe(200);
    expect(issuer.jwksFetches).toBe(1);

    // A flood of tokens with kids the issuer never published: one refetch at most inside the window.
    const outsider = await TestIssuer.start('RS256');
    try {
      const forged = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          outsider.sign({}, { issuer: issuer.url, kid: `forged-${index}` }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, REFETCH_SECONDS * 1000 + 100));
      const flood = await Promise.all(
        forged.map((token) => send(`${gateway.url}/v1/models`, { headers: bearer(token) })),
      );
      for (const response of flood) {
        expect(response.status).toBe(401);
        expect(response.json()).toMatchObject({ code: 'key_unknown' });
      }
      const again = await Promise.all(
        forged.map((token) => send(`${gateway.url}/v1/models`, { headers: bearer(token) })),
      );
      expect(again.every((response) => response.status === 401)).toBe(true);
      expect(issuer.jwksFetches).toBe(2);
    } finally {
      await outsider.close();
    }

    // The issuer rotates: a new signing key is published next to the old one.
    await issuer.addKey('RS256', 'k-rotated');
    const newToken = await issuer.sign();
    await new Promise((resolve) => setTimeout(resolve, REFETCH_SECONDS * 1000 + 100));
    const accepted = await send(`${gateway.url}/v1/models`, { headers: bearer(newToken) });
    expect(accepted.status).toBe(200);
    expect(issuer.jwksFetches).toBe(3);
    expect((await send(`${gateway.url}/v1/models`, { headers: bearer(oldToken) })).status).toBe(200);
    expect(issuer.jwksFetches).toBe(3);
  });
});
