import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  AuditProofError,
  canonicalJson,
  fromBase64,
  fromHex,
  sha256,
  toBase64,
  toHex,
} from '../src/index.js';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error: unknown) {
    return error instanceof AuditProofError ? error.code : String(error);
  }
}

describe('canonical JSON (RFC 8785)', () => {
  it('gives the RFC 8785 §3.2.2 example byte for byte', () => {
    const input: unknown = JSON.parse(
      String.raw`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`,
    );
    expect(canonicalJson(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it('sorts properties by UTF-16 code units, as the RFC 8785 §3.2.3 example', () => {
    const input: unknown = JSON.parse(
      String.raw`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
    );
    expect([...canonicalJson(input).matchAll(/":"([^"]+)"/g)].map((match) => match[1])).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
  });

  it('refuses what JSON cannot hold, at any depth, instead of dropping or converting it', () => {
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    const sparse: unknown[] = [];
    sparse[1] = 'b';
    for (const [position, value] of [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      () => 1,
      10n,
      Symbol('s'),
      { a: undefined },
      { a: { b: Number.NEGATIVE_INFINITY } },
      [1, undefined],
      sparse,
      { when: new Date(0) },
      new Map([['a', 1]]),
      cycle,
    ].entries()) {
      expect(
        codeOf(() => canonicalJson(value)),
        `value ${position}`,
      ).toBe('not_json');
    }
    // The same object twice (not a cycle) is fine.
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
    expect(canonicalJson(Object.assign(Object.create(null) as object, { b: 1, a: -0 }))).toBe(
      '{"a":0,"b":1}',
    );
  });
});

describe('hex and base64', () => {
  it('round-trip any bytes and agree with Node', () => {
    for (const length of [0, 1, 2, 3, 4, 31, 32, 33, 68]) {
      const bytes = new Uint8Array(randomBytes(length));
      expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(fromHex(toHex(bytes))).toEqual(bytes);
      expect(fromHex(toHex(bytes).toUpperCase())).toEqual(bytes);
      expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    }
  });

  it('refuse what is not hex of whole bytes or canonical padded base64', () => {
    for (const bad of ['a', 'zz', '0x00', ' 00'])
      expect(
        codeOf(() => fromHex(bad)),
        bad,
      ).toBe('hex_invalid');
    // 'AB==' carries stray bits ('AA==' is the canonical form of the same byte); base64url is not base64.
    for (const bad of ['A', 'AAA', 'AB==', 'AA=A', '-_8=', 'AAAA\n'])
      expect(
        codeOf(() => fromBase64(bad)),
        bad,
      ).toBe('base64_invalid');
  });

  it('hash strings as UTF-8', async () => {
    expect(toHex(await sha256('€'))).toBe(toHex(await sha256(Uint8Array.of(0xe2, 0x82, 0xac))));
    expect(toHex(await sha256(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
