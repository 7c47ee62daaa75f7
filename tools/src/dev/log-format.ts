/** ANSI colours for prefixes and levels; only used when the output is a terminal. */
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const SERVICE_COLOURS = ['36', '35', '34', '33', '32', '96', '95', '94', '93', '92'] as const;

/** Ids worth seeing on every line, in display order, with the name shown for each. */
const ID_FIELDS: readonly (readonly [field: string, label: string])[] = [
  ['turn_id', 'turn_id'],
  ['tenant_id', 'tenant_id'],
  ['user_id', 'user_id'],
  ['correlation_id', 'corr'],
  ['reqId', 'req'],
];

/** Stack frames shown under an error-level line; the raw line (AIBOX_DEV_RAW_LOGS=1) has all of them. */
const MAX_STACK_FRAMES = 8;

interface Level {
  readonly label: string;
  readonly colour: string;
}

function levelOf(value: unknown): Level | undefined {
  const byNumber: Record<number, Level> = {
    10: { label: 'TRACE', colour: '90' },
    20: { label: 'DEBUG', colour: '90' },
    30: { label: 'INFO', colour: '32' },
    40: { label: 'WARN', colour: '33' },
    50: { label: 'ERROR', colour: '31' },
    60: { label: 'FATAL', colour: '41;97' },
  };
  if (typeof value === 'number') {
    return byNumber[value] ?? { label: `L${value}`, colour: '90' };
  }
  if (typeof value === 'string' && value !== '') {
    const known = Object.values(byNumber).find((level) => level.label === value.toUpperCase());
    return known ?? { label: value.toUpperCase(), colour: '90' };
  }
  return undefined;
}

function isSevere(level: Level): boolean {
  return level.label === 'ERROR' || level.label === 'FATAL';
}

function two(value: number): string {
  return String(value).padStart(2, '0');
}

/** Local wall-clock time `HH:MM:SS.mmm` of a pino `time` (epoch milliseconds or an ISO string). */
function clockTime(value: unknown): string | undefined {
  const date = typeof value === 'number' || typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    return undefined;
  }
  const millis = String(date.getMilliseconds()).padStart(3, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${millis}`;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

/** Parses a pino JSON line; `undefined` for anything else, which is then shown as it is. */
function parsePinoLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const record = asRecord(parsed);
  return record !== undefined && 'level' in record && ('msg' in record || 'time' in record)
    ? record
    : undefined;
}

function paint(colour: boolean, code: string, value: string): string {
  return colour ? `\x1b[${code}m${value}${RESET}` : value;
}

/**
 * `GET /v1/me → 200 3.1ms` from the platform's access line (`method`, `path`, `status`, `duration_ms`) or
 * Fastify's (`req`, `res`, `responseTime`), when the line carries them.
 */
function requestSummary(record: Record<string, unknown>): string | undefined {
  const req = asRecord(record['req']);
  const res = asRecord(record['res']);
  const method = text(record['method']) ?? text(req?.['method']);
  const path = text(record['path']) ?? text(req?.['path']) ?? text(req?.['url']);
  const status = text(record['status']) ?? text(res?.['statusCode']);
  const duration = record['duration_ms'] ?? record['responseTime'];
  const parts: string[] = [];
  if (method !== undefined && path !== undefined) {
    parts.push(`${method} ${path}`);
  }
  if (status !== undefined) {
    parts.push(`→ ${status}`);
  }
  if (typeof duration === 'number') {
    parts.push(`${duration.toFixed(1)}ms`);
  }
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/**
 * Renders one output line of a service: a pino JSON line becomes `time LEVEL msg key=id…` (plus the stack of an
 * error-level line, indented), anything else is returned as it is. Returns one or more lines.
 */
export function renderLogLine(line: string, options: { colour: boolean; raw: boolean }): string[] {
  const record = options.raw ? undefined : parsePinoLine(line);
  const level = levelOf(record?.['level']);
  if (record === undefined || level === undefined) {
    return [line];
  }
  const { colour } = options;
  const parts: string[] = [];
  const time = clockTime(record['time']);
  if (time !== undefined) {
    parts.push(paint(colour, '2', time));
  }
  parts.push(paint(colour, level.colour, level.label.padEnd(5)));
  const message = text(record['msg']) ?? text(record['message']);
  if (message !== undefined && message !== '') {
    parts.push(message);
  }
  const request = requestSummary(record);
  if (request !== undefined) {
    parts.push(request);
  }
  for (const [field, label] of ID_FIELDS) {
    const value = text(record[field]);
    if (value !== undefined && value !== '') {
      parts.push(paint(colour, '2', `${label}=${value}`));
    }
  }
  const err = asRecord(record['err']) ?? asRecord(record['error']);
  const errMessage = text(err?.['message']);
  if (errMessage !== undefined) {
    const errType = text(err?.['type']) ?? text(err?.['name']) ?? 'Error';
    parts.push(paint(colour, level.colour, `err=${errType}: ${errMessage}`));
  }
  const rendered = [parts.join(' ')];
  const stack = text(err?.['stack']);
  if (stack !== undefined && isSevere(level)) {
    const frames = stack
      .split('\n')
      .filter((frame) => frame.trimStart().startsWith('at '))
      .slice(0, MAX_STACK_FRAMES);
    rendered.push(...frames.map((frame) => paint(colour, '2', `    ${frame.trim()}`)));
  }
  return rendered;
}

/** Removes ANSI colour sequences, for lines kept for reports. */
export function stripColour(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replaceAll(/\x1b\[[0-9;]*m/g, '');
}

/** Builds the `name | ` prefix of each output line, padded to the longest name and coloured on a terminal. */
export function linePrefix(name: string, width: number, index: number, colour: boolean): string {
  const padded = name.padEnd(width);
  if (!colour) {
    return `${padded} | `;
  }
  const code = index < 0 ? undefined : SERVICE_COLOURS[index % SERVICE_COLOURS.length];
  const head = code === undefined ? `${BOLD}${padded}${RESET}` : `\x1b[${code}m${padded}${RESET}`;
  return `${head} ${DIM}|${RESET} `;
}
