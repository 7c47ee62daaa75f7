import { describe, expect, it } from 'vitest';

import { hashPassword, parsePasswordHash, verifyPassword } from './password-hash.js';

const cheap = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('hashes as scrypt$N$r$p$salt$hash with a fresh salt and verifies only the right password', async () => {
    const first = await hashPassword('correct horse', cheap);
    const second = await hashPassword('correct horse', cheap);
    expect(first).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(second).not.toBe(first);
    expect(await verifyPassword('correct horse', first)).toBe(true);
    expect(await verifyPassword('correct horsf', first)).toBe(false);
    expect(await verifyPassword('', first)).toBe(false);
  });

  it('uses the default cost when none is given', async () => {
    expect(await hashPassword('x')).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('never matches a malformed or unsupported hash', async () => {
    const good = await hashPassword('pw', cheap);
    const parts = good.split('$');
    for (const bad of [
      'plain-text',
      'argon2$x',
      good.replace('scrypt', 'bcrypt'),
      [...parts.slice(0, 1), '1000', ...parts.slice(2)].join('$'), // N not a power of two
      [...parts.slice(0, 5)].join('$'),
      `${good}$extra`,
    ]) {
      expect(parsePasswordHash(bad)).toBeUndefined();
      expect(await verifyPassword('pw', bad)).toBe(false);
    }
  });
});
