import type { KeySet } from './key-set.js';
import { signToken, verifyToken, type TokenKind } from './signed-token.js';

/** What one turn may do (`caps`, e.g. `sandbox:exec`), as stamped by the gateway in `X-Aibox-Cap-Token`. */
export interface CapToken {
  turn: string;
  tid: string;
  uid: string;
  caps: string[];
  iat: number;
  exp: number;
}

const CAP_TOKEN: TokenKind<{
  readonly turn: 'id';
  readonly tid: 'id';
  readonly uid: 'id';
  readonly caps: 'names';
  readonly iat: 'seconds';
  readonly exp: 'seconds';
}> = {
  name: 'cap token',
  shape: { turn: 'id', tid: 'id', uid: 'id', caps: 'names', iat: 'seconds', exp: 'seconds' },
  // A cap token lives as long as its turn may.
  defaultTtlSeconds: 900,
};

/** Signs a cap token valid for `ttlSeconds` (default 900) from `now`. Only the cap token's fields are read. */
export function signCapToken(
  claims: Omit<CapToken, 'iat' | 'exp'>,
  keys: KeySet,
  opts: { now?: number; ttlSeconds?: number } = {},
): string {
  return signToken(CAP_TOKEN, claims, keys, opts);
}

/** Verifies an `X-Aibox-Cap-Token` value; throws `IdentityError` with the first thing that is wrong. */
export function verifyCapToken(
  token: string | undefined,
  keys: KeySet,
  opts: { now?: number; skewSeconds?: number } = {},
): CapToken {
  return verifyToken(CAP_TOKEN, token, keys, opts);
}

/** Exact match: holding `sandbox:exec` grants `sandbox:exec` only, never `sandbox` or `sandbox:exec:*`. */
export function hasCapability(token: CapToken, cap: string): boolean {
  return token.caps.includes(cap);
}
