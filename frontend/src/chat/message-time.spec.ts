import { describe, expect, it } from 'vitest';

import { fullMessageTime, shortMessageTime } from './message-time.js';

// Local times, so the expectations hold in any time zone; a fixed locale, so they hold in any language.
const NOW = new Date(2026, 11, 10, 9, 30); // Thursday 10 December 2026, 09:30

describe('shortMessageTime', () => {
  it.each([
    ['earlier today', new Date(2026, 11, 10, 0, 5), '00:05'],
    ['later today (a clock ahead of this one)', new Date(2026, 11, 10, 23, 59), '23:59'],
    ['yesterday', new Date(2026, 11, 9, 22, 15), 'Wed 22:15'],
    ['six days ago', new Date(2026, 11, 4, 14, 5), 'Fri 14:05'],
    ['seven days ago', new Date(2026, 11, 3, 14, 5), '3 Dec'],
    ['earlier this year', new Date(2026, 0, 2, 8, 0), '2 Jan'],
    ['last year', new Date(2025, 11, 31, 23, 0), '31 Dec 2025'],
    ['tomorrow', new Date(2026, 11, 11, 0, 30), '11 Dec'],
  ])('%s', (_when, at, expected) => {
    expect(shortMessageTime(at, NOW, 'en-GB')).toBe(expected);
  });

  it('follows the reader’s locale', () => {
    // ICU puts a narrow no-break space before "PM" in some versions.
    expect(shortMessageTime(new Date(2026, 11, 10, 14, 5), NOW, 'en-US')).toMatch(/^2:05\sPM$/);
    expect(shortMessageTime(new Date(2026, 11, 7, 14, 5), NOW, 'de-DE')).toBe('Mo 14:05');
    expect(shortMessageTime(new Date(2025, 11, 7, 14, 5), NOW, 'de-DE')).toBe('7. Dez. 2025');
  });
});

describe('fullMessageTime', () => {
  it('says the whole date and the time', () => {
    const full = fullMessageTime(new Date(2026, 11, 4, 14, 5), 'en-GB');
    expect(full).toContain('Friday');
    expect(full).toContain('4 December 2026');
    expect(full).toContain('14:05');
  });
});
