import { describe, expect, it } from 'vitest';

import { SseSplitter, encodeSseEvent, type SseEvent } from './sse.js';

const utf8 = new TextEncoder();

/** Feeds `chunks` to a fresh splitter and returns every event, in order. */
function feed(chunks: readonly Uint8Array[], splitter = new SseSplitter()): SseEvent[] {
  return chunks.flatMap((chunk) => splitter.push(chunk));
}

/** `bytes` cut at `cuts` (sorted, each in 1..length-1). */
function cut(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const at of cuts) {
    parts.push(bytes.subarray(start, at));
    start = at;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

/** A deterministic PRNG (mulberry32), so a failing cut can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every feature at once: names, comments, CRLF, CR, LF, multi-line data, multi-byte UTF-8, ignored fields. */
const SAMPLE =
  'event: message\ndata: {"a":1}\n\n' +
  ': ping\n\n' +
  'data: line one\r\ndata: line two\r\n\r\n' +
  'event: delta\rdata: héllo wörld ✓ 😀\r\r' +
  'data:no-space\n' +
  'id: 7\n' +
  ': a comment inside an event\n' +
  'data:  two spaces\n\n' +
  '\n\n' +
  'data: last\r\n\r\n';

const SAMPLE_EVENTS: SseEvent[] = [
  { event: 'message', data: '{"a":1}' },
  { event: undefined, data: undefined },
  { event: undefined, data: 'line one\nline two' },
  { event: 'delta', data: 'héllo wörld ✓ 😀' },
  { event: undefined, data: 'no-space\n two spaces' },
  { event: undefined, data: 'last' },
];

describe('SseSplitter', () => {
  const bytes = utf8.encode(SAMPLE);

  it('splits a whole stream into its events', () => {
    const splitter = new SseSplitter();
    expect(feed([bytes], splitter)).toEqual(SAMPLE_EVENTS);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('gives the same events when the stream comes one byte at a time', () => {
    const chunks = Array.from(bytes, (byte) => Uint8Array.of(byte));
    const splitter = new SseSplitter();
    expect(feed(chunks, splitter)).toEqual(SAMPLE_EVENTS);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('gives the same events for a cut at every byte position', () => {
    for (let at = 1; at < bytes.length; at += 1) {
      expect(feed(cut(bytes, [at])), `cut at byte ${at}`).toEqual(SAMPLE_EVENTS);
    }
  });

  it('gives the same events for random cuts', () => {
    const next = random(0x5e5);
    for (let round = 0; round < 200; round += 1) {
      const count = 1 + Math.floor(next() * 12);
      const cuts = [
        ...new Set(Array.from({ length: count }, () => 1 + Math.floor(next() * (bytes.length - 1)))),
      ].sort((a, b) => a - b);
      expect(feed(cut(bytes, cuts)), `cuts ${cuts.join(',')}`).toEqual(SAMPLE_EVENTS);
    }
  });

  it('emits each event as soon as its blank line arrives, not with the next event', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode('data: a\n'))).toEqual([]);
    expect(splitter.push(utf8.encode('\n'))).toEqual([{ event: undefined, data: 'a' }]);
    expect(splitter.push(utf8.encode('data: b\r\n\r\n'))).toEqual([{ event: undefined, data: 'b' }]);
  });

  it.each([
    ['\\n', '\n'],
    ['\\r\\n', '\r\n'],
    ['\\r', '\r'],
  ])('accepts %s line ends', (_name, end) => {
    const text = `event: e${end}data: one${end}data: two${end}${end}data: next${end}${end}`;
    // The last event's blank line is not the end of the text for a bare \r: see the \r-only case below.
    const events = feed([utf8.encode(`${text}data: tail\n\n`)]);
    expect(events).toEqual([
      { event: 'e', data: 'one\ntwo' },
      { event: undefined, data: 'next' },
      { event: undefined, data: 'tail' },
    ]);
  });

  it('reads a \\r\\n split between chunks as one line end, not two', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode('data: a\r'))).toEqual([]);
    // Were the \r and the \n two line ends, `data: a` would end as an event of its own here.
    expect(splitter.push(utf8.encode('\ndata: b\r'))).toEqual([]);
    // The last CR is a blank line at once; the LF after it completes that CRLF and adds nothing.
    expect(splitter.push(utf8.encode('\n\r'))).toEqual([{ event: undefined, data: 'a\nb' }]);
    expect(splitter.push(utf8.encode('\n'))).toEqual([]);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('reads \\r followed by another \\r across chunks as a blank line', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode('data: a\r'))).toEqual([]);
    expect(splitter.push(utf8.encode('\rdata: b\n\n'))).toEqual([
      { event: undefined, data: 'a' },
      { event: undefined, data: 'b' },
    ]);
  });

  // WHATWG: a lone CR is a line end, so `\r\r` completes the event. The splitter holds a trailing \r back in
  // case a \n follows, so an event whose blank line is the last byte of a chunk waits for the next chunk,
  // and the last event of a stream with CR line ends is never delivered (and looks partial).
  it('emits an event whose blank line is a trailing lone \\r without waiting for more bytes', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode('data: done\r\r'))).toEqual([{ event: undefined, data: 'done' }]);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('joins multi-line data with \\n and keeps empty data lines', () => {
    expect(feed([utf8.encode('data: a\ndata:\ndata: c\ndata\n\n')])).toEqual([
      { event: undefined, data: 'a\n\nc\n' },
    ]);
  });

  it('strips exactly one space after the colon', () => {
    expect(feed([utf8.encode('data:x\n\ndata: x\n\ndata:   x\n\n')])).toEqual([
      { event: undefined, data: 'x' },
      { event: undefined, data: 'x' },
      { event: undefined, data: '  x' },
    ]);
  });

  it('takes the event name, the last one when repeated', () => {
    expect(feed([utf8.encode('event: first\nevent: response.created\ndata: {}\n\n')])).toEqual([
      { event: 'response.created', data: '{}' },
    ]);
  });

  it('gives a comment-only block as an event without data', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode(': ping\n\n:\n: more\n\n'))).toEqual([
      { event: undefined, data: undefined },
      { event: undefined, data: undefined },
    ]);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('gives no event for blank lines alone', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode('\n\n\r\n\r\n\n'))).toEqual([]);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('decodes a multi-byte character split across chunks', () => {
    const bytes = utf8.encode('data: 😀é\n\n');
    // 'data: ' is 6 bytes; the emoji is bytes 6..9, é is 10..11.
    for (const cuts of [[7], [8], [9], [6, 8, 11], [7, 11]]) {
      expect(feed(cut(bytes, cuts)), `cuts ${cuts.join(',')}`).toEqual([{ event: undefined, data: '😀é' }]);
    }
  });

  it('reports a partial event when the stream stops mid-event', () => {
    const splitter = new SseSplitter();
    expect(splitter.hasPartialEvent).toBe(false);
    expect(splitter.push(utf8.encode('data: {"a":1}\n\ndata: {"b"'))).toEqual([
      { event: undefined, data: '{"a":1}' },
    ]);
    expect(splitter.hasPartialEvent).toBe(true);
    expect(splitter.push(utf8.encode(':2}\n'))).toEqual([]);
    expect(splitter.hasPartialEvent).toBe(true);
    expect(splitter.push(utf8.encode('\n'))).toEqual([{ event: undefined, data: '{"b":2}' }]);
    expect(splitter.hasPartialEvent).toBe(false);
  });

  it('throws RangeError once the unfinished event outgrows maxEventChars', () => {
    const splitter = new SseSplitter(16);
    expect(splitter.push(utf8.encode('data: 0123456789'))).toEqual([]); // exactly 16: allowed
    expect(() => splitter.push(utf8.encode('a'))).toThrow(RangeError);
  });

  it('bounds each event, not the whole stream', () => {
    const splitter = new SseSplitter(16);
    for (let i = 0; i < 20; i += 1) {
      expect(splitter.push(utf8.encode('data: 01234567\n\n'))).toEqual([
        { event: undefined, data: '01234567' },
      ]);
    }
  });
});

describe('encodeSseEvent', () => {
  it('writes data, and the event name before it', () => {
    expect(encodeSseEvent('{"x":1}')).toBe('data: {"x":1}\n\n');
    expect(encodeSseEvent('{"x":1}', 'response.created')).toBe('event: response.created\ndata: {"x":1}\n\n');
  });

  it('writes one data line per line of multi-line data', () => {
    expect(encodeSseEvent('a\nb\n\nc', 'x')).toBe('event: x\ndata: a\ndata: b\ndata: \ndata: c\n\n');
  });

  it.each([
    ['a\nb\n\nc', 'x'],
    ['', undefined],
    [' leading space', undefined],
    ['trailing newline\n', 'e'],
    ['{"text":"line\\nbreak"}', 'response.output_text.delta'],
    ['héllo 😀', undefined],
  ])('round-trips %j (event %s) through SseSplitter', (data, event) => {
    const splitter = new SseSplitter();
    expect(splitter.push(utf8.encode(encodeSseEvent(data, event)))).toEqual([{ event, data }]);
    expect(splitter.hasPartialEvent).toBe(false);
  });
});
