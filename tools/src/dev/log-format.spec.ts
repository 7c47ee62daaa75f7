import { describe, expect, it } from 'vitest';

import { linePrefix, renderLogLine, stripColour } from './log-format.js';

const plain = { colour: false, raw: false };

function localClock(iso: string): string {
  const date = new Date(iso);
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

describe('renderLogLine', () => {
  it('renders a platform access line as time, level, message, request and ids', () => {
    const time = '2025-03-04T05:06:07.089Z';
    const line = JSON.stringify({
      level: 'info',
      time,
      service: 'audit',
      msg: 'request completed',
      method: 'GET',
      route: '/v1/receipts/:id',
      path: '/v1/receipts/t-1',
      status: 200,
      duration_ms: 3.14159,
      correlation_id: 'c-9',
      turn_id: 't-1',
      tenant_id: 'acme',
      user_id: 'alice',
    });

    expect(renderLogLine(line, plain)).toEqual([
      `${localClock(time)}.089 INFO  request completed GET /v1/receipts/t-1 → 200 3.1ms turn_id=t-1 tenant_id=acme user_id=alice corr=c-9`,
    ]);
  });

  it('adds the error and its first stack frames under an error line', () => {
    const line = JSON.stringify({
      level: 50,
      time: 0,
      msg: 'publish failed',
      err: {
        type: 'TypeError',
        message: 'x is undefined',
        stack: 'TypeError: x is undefined\n    at f (a.js:1:2)',
      },
    });

    const [head, ...rest] = renderLogLine(line, plain);

    expect(head).toMatch(/ ERROR publish failed err=TypeError: x is undefined$/);
    expect(rest).toEqual(['    at f (a.js:1:2)']);
  });

  it('leaves anything that is not a pino line alone, and everything alone in raw mode', () => {
    const pinoLine = JSON.stringify({ level: 30, time: 1, msg: 'hi' });

    expect(renderLogLine('Error: listen EADDRINUSE', plain)).toEqual(['Error: listen EADDRINUSE']);
    expect(renderLogLine('{"not":"pino"}', plain)).toEqual(['{"not":"pino"}']);
    expect(renderLogLine('{broken', plain)).toEqual(['{broken']);
    expect(renderLogLine(pinoLine, { colour: false, raw: true })).toEqual([pinoLine]);
  });

  it('colours only when asked, and the colour strips back to the plain text', () => {
    const line = JSON.stringify({ level: 40, time: 1, msg: 'careful' });
    const [coloured = ''] = renderLogLine(line, { colour: true, raw: false });

    expect(coloured).toContain('\x1b[');
    expect(stripColour(coloured)).toBe(renderLogLine(line, plain)[0]);
    expect(stripColour(linePrefix('audit', 8, 2, true))).toBe(linePrefix('audit', 8, 2, false));
    expect(linePrefix('audit', 8, 2, false)).toBe('audit    | ');
  });
});
