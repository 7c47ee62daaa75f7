import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { GatewayError } from '../src/errors/gateway.error.js';
import { OidcIssuerRepository } from '../src/repositories/oidc-issuer.repository.js';
import { TokenVerifier, VERIFIED_TOKEN_TTL_MS } from '../src/services/token-verifier.service.js';
import { TestIssuer } from './support/oidc-issuer.js';

function codeOf(error: unknown): unknown {
  return error instanceof GatewayError ? error.code : error;
}

/** The verifier remembers verified tokens; what it remembers must never outlive what it verified. */
describe('remembered tokens', () => {
  let issuer: TestIssuer;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    issuer = await TestIssuer.start('RS256');
  });
  afterAll(() => issuer.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  function freshVerifier(): TokenVerifier {
    const keys = new OidcIssuerRepository({ refetchIntervalMs: 30_000, maxAgeMs: 600_000 });
    return new TokenVerifier(keys, { issuers: [issuer.url], audience: 'aibox-api' });
  }

  it('refuses a remembered token once it expires', async () => {
    verifier = freshVerifier();
    const token = await issuer.sign({}, { expiresIn: 40 });
    const now = Date.now();
    await expect(verifier.verify([`Bearer ${token}`])).resolves.toMatchObject({ subject: 'user-ada' });
    vi.useFakeTimers({ toFake: ['Date'], now: now + 40_000 + 31_000 });
    await expect(verifier.verify([`Bearer ${token}`]).catch(codeOf)).resolves.toBe('token_expired');
  });

  it('remembers only the exact token: a tampered copy of a remembered one is still checked', async () => {
    verifier = freshVerifier();
    const token = await issuer.sign();
    await verifier.verify([`Bearer ${token}`]);
    const [header, payload, signature = ''] = token.split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), roles: ['admin'] }),
    ).toString('base64url');
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const forged of [`${header}.${forgedPayload}.${signature}`, `${header}.${payload}.${flipped}`]) {
      await expect(verifier.verify([`Bearer ${forged}`]).catch(codeOf)).resolves.toBe('signature_invalid');
    }
  });

  it('stops serving a token whose key the issuer withdrew once the memory window has passed', async () => {
    const keys = new OidcIssuerRepository({ refetchIntervalMs: 30_000, maxAgeMs: 30_000 });
    verifier = new TokenVerifier(keys, { issuers: [issuer.url], audience: 'aibox-api' });
    const retired = issuer.signingKid;
    const token = await issuer.sign({}, { expiresIn: 3_600 });
    const now = Date.now();
    await verifier.verify([`Bearer ${token}`]);
    await issuer.addKey('RS256', 'k-after-compromise');
    issuer.removeKey(retired);
    // Inside the window the remembered verdict stands: the documented price of remembering.
    await expect(verifier.verify([`Bearer ${token}`])).resolves.toMatchObject({ subject: 'user-ada' });
    vi.useFakeTimers({ toFake: ['Date'], now: now + VERIFIED_TOKEN_TTL_MS + 1_000 });
    await expect(verifier.verify([`Bearer ${token}`]).catch(codeOf)).resolves.toBe('key_unknown');
    // A token signed with the new key is accepted.
    const fresh = await issuer.sign({}, { expiresIn: 3_600 });
    await expect(verifier.verify([`Bearer ${fresh}`])).resolves.toMatchObject({ subject: 'user-ada' });
  });
});
