import { describe, expect, it } from 'vitest';

import { isUuid, newTurnId } from './ids.js';

describe('newTurnId', () => {
  it('returns distinct version-7 UUIDs that sort in creation order, across refills of its random pool', () => {
    const ids = Array.from({ length: 1_000 }, () => newTurnId());
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The last 48 bits are random in every id: a reused random draw would repeat them.
    expect(new Set(ids.map((id) => id.slice(-12))).size).toBe(ids.length);
  });
});

describe('isUuid', () => {
  it.each([
    '0190a4f2-7b3c-7def-8abc-0123456789ab',
    '0190A4F2-7B3C-7DEF-8ABC-0123456789AB',
    '00000000-0000-0000-0000-000000000000',
  ])('accepts %s', (value) => {
    expect(isUuid(value)).toBe(true);
  });

  it.each<unknown>([
    '',
    'turn-1',
    '0190a4f27b3c7def8abc0123456789ab',
    '{0190a4f2-7b3c-7def-8abc-0123456789ab}',
    '0190a4f2-7b3c-7def-8abc-0123456789ab\n',
    ' 0190a4f2-7b3c-7def-8abc-0123456789ab',
    '0190a4f2-7b3c-7def-8abc-0123456789ag',
    42,
    undefined,
  ])('rejects %j', (value) => {
    expect(isUuid(value)).toBe(false);
  });
});
