import { describe, expect, it } from 'vitest';

import type { ToolContext } from '../tool.js';
import { currentTimeTool } from './current-time.tool.js';

// The tool reads nothing of its context.
const context = { signal: new AbortController().signal } as ToolContext;
// A Wednesday, in summer time in Berlin and New York.
const now = new Date('2024-05-01T12:03:09.500Z');
const tool = currentTimeTool(() => now);

describe('current_time', () => {
  it('answers in UTC by default', async () => {
    const output = await tool.run({}, context);
    expect(output.isError).not.toBe(true);
    expect(JSON.parse(output.text)).toEqual({
      iso: '2024-05-01T12:03:09.500Z',
      unix: 1_714_564_989,
      timezone: 'UTC',
      local: '2024-05-01T12:03:09+00:00',
      weekday: 'Wednesday',
    });
  });

  it('gives the local time with its offset in an IANA time zone', async () => {
    const berlin = JSON.parse((await tool.run({ timezone: 'Europe/Berlin' }, context)).text) as Record<
      string,
      unknown
    >;
    expect(berlin).toMatchObject({ timezone: 'Europe/Berlin', local: '2024-05-01T14:03:09+02:00' });
    const newYork = JSON.parse((await tool.run({ timezone: 'America/New_York' }, context)).text) as Record<
      string,
      unknown
    >;
    expect(newYork).toMatchObject({ local: '2024-05-01T08:03:09-04:00', iso: '2024-05-01T12:03:09.500Z' });
  });

  it('reports a time zone Intl does not know, naming it', async () => {
    const output = await tool.run({ timezone: 'Mars/Olympus_Mons' }, context);
    expect(output).toEqual({
      text: 'Unknown time zone "Mars/Olympus_Mons". Use an IANA name such as "Europe/Berlin" or "UTC".',
      isError: true,
    });
  });
});
