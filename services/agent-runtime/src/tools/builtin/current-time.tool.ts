import type { Tool, ToolOutput } from '../tool.js';

/** The canonical IANA name of `timeZone`, or undefined when Intl does not know it. */
function resolveTimeZone(timeZone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** `2024-05-01T14:03:09+02:00` and `Wednesday`: the wall-clock time of `now` in `timeZone`. */
function localTime(now: Date, timeZone: string): { local: string; weekday: string } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    weekday: 'long',
    timeZoneName: 'longOffset',
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  // `longOffset` is `GMT+02:00`, or plain `GMT` at offset zero.
  const offset = part('timeZoneName').replace(/^GMT/, '') || '+00:00';
  return {
    local: `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${offset}`,
    weekday: part('weekday'),
  };
}

/** `current_time`: what time it is now, in UTC or in a time zone the model names. */
export function currentTimeTool(now: () => Date): Tool {
  return {
    name: 'current_time',
    description:
      'Returns the current date and time: ISO 8601 in UTC, Unix seconds, and the local time in a time zone ' +
      '(UTC unless `timezone` is given).',
    parameters: {
      type: 'object',
      properties: {
        timezone: {
          type: 'string',
          description: 'An IANA time zone name such as "Europe/Berlin" or "America/New_York". Default: UTC.',
        },
      },
      additionalProperties: false,
    },
    run(args): Promise<ToolOutput> {
      const asked = typeof args['timezone'] === 'string' ? args['timezone'] : 'UTC';
      const timeZone = resolveTimeZone(asked);
      if (timeZone === undefined) {
        return Promise.resolve({
          text: `Unknown time zone "${asked}". Use an IANA name such as "Europe/Berlin" or "UTC".`,
          isError: true,
        });
      }
      const at = now();
      const { local, weekday } = localTime(at, timeZone);
      const text = JSON.stringify({
        iso: at.toISOString(),
        unix: Math.floor(at.getTime() / 1000),
        timezone: timeZone,
        local,
        weekday,
      });
      return Promise.resolve({ text });
    },
  };
}
