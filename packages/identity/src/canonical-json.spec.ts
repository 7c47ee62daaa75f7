import { describe, expect, it } from 'vitest';

import { canonicalJson } from './canonical-json.js';
import { IdentityError } from './identity.error.js';

describe('canonicalJson', () => {
  it('matches the RFC 8785 §3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units as RFC 8785 §3.2.3 shows', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('has no whitespace and serializes numbers the ECMAScript way', () => {
    expect(canonicalJson({ b: [1, 2.5, -0, 1e21, 1e-7], a: { d: null, c: true } })).toBe(
      '{"a":{"c":true,"d":null},"b":[1,2.5,0,1e+21,1e-7]}',
    );
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['a function', () => 1],
    ['NaN', Number.NaN],
    ['Infinity inside an object', { a: Number.POSITIVE_INFINITY }],
    ['a bigint', 10n],
    ['a lone surrogate', { a: '\ud800' }],
    [
      'a cycle',
      (() => {
        const cyclic: Record<string, unknown> = {};
        cyclic['self'] = cyclic;
        return cyclic;
      })(),
    ],
  ])('refuses %s with payload_invalid', (_label, value) => {
    expect(() => canonicalJson(value)).toThrow(IdentityError);
    expect(() => canonicalJson(value)).toThrow(expect.objectContaining({ code: 'payload_invalid' }));
  });
});
