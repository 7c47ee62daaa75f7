import { createHmac, timingSafeEqual } from 'node:crypto';

import {
  generateKeySetValue,
  parseKeySet,
  signPrincipal,
  verifyPrincipal,
  type Principal,
} from '@aibox/identity';

import type { Benchmark, BenchResult } from './bench.js';
import { compareOps } from './measure.js';

const SUBJECT = 'signPrincipal + verifyPrincipal';
const BASELINE = 'bare HMAC-SHA256 sign + verify';

/** A principal of typical size: the claims the gateway stamps for a user with a few roles. */
const CLAIMS: Omit<Principal, 'iat' | 'exp'> = {
  tid: 'acme',
  uid: '0190d6a4-7c1e-7b61-9a52-2c1f0e8b5d3a',
  email: 'alice@acme.example',
  roles: ['member', 'agent-builder', 'admin'],
  iss: 'http://127.0.0.1:8011',
  sub: '0190d6a4-7c1e-7b61-9a52-2c1f0e8b5d3a',
};

/**
 * `principal`: a gateway-side sign plus a service-side verify of `X-Aibox-Principal`, against the HMAC work
 * neither can avoid: HMAC-SHA256 over the same bytes twice (sign, then verify) and a constant-time compare.
 * The ratio is what canonical JSON, base64url and the claim checks cost on top.
 */
export const principalBenchmark: Benchmark = {
  name: 'principal',
  description: `${SUBJECT} vs ${BASELINE} of the same token bytes (ops/s, ~2 s each after warm-up)`,
  run(): Promise<BenchResult[]> {
    const keys = parseKeySet(generateKeySetValue(['bench'], 32));
    const key = keys.keys.get(keys.signingKid) ?? Buffer.alloc(32);
    const token = signPrincipal(CLAIMS, keys);
    const signedPart = Buffer.from(token.slice(0, token.lastIndexOf('.')), 'ascii');

    const [baseline, subject] = compareOps(
      [
        {
          name: BASELINE,
          operation: () => {
            const mac = createHmac('sha256', key).update(signedPart).digest();
            return timingSafeEqual(mac, createHmac('sha256', key).update(signedPart).digest());
          },
        },
        { name: SUBJECT, operation: () => verifyPrincipal(signPrincipal(CLAIMS, keys), keys) },
      ],
      { warmupMs: 500, roundMs: 500, rounds: 4 },
    );
    if (baseline === undefined || subject === undefined) {
      throw new Error('principal: a case was not measured');
    }
    return Promise.resolve([
      { case: BASELINE, unit: 'op', perSecond: baseline.perSecond, operations: baseline.operations },
      {
        case: SUBJECT,
        unit: 'op',
        perSecond: subject.perSecond,
        operations: subject.operations,
        baseline: BASELINE,
      },
    ]);
  },
};
