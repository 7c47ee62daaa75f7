import { mkdir, open, readFile, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import { TurnEvent } from '@aibox/contracts';

const SEGMENT_NAME = /^seg-(\d{16})\.jsonl$/;

function segmentName(seq: number): string {
  return `seg-${String(seq).padStart(16, '0')}.jsonl`;
}

interface Segment {
  readonly name: string;
  bytes: number;
  /** Open only for the newest segment while it still takes appends. */
  handle?: FileHandle;
}

/** A sealed segment's events, oldest first, as read back for replay. */
export interface SpoolSegment {
  readonly name: string;
  readonly events: TurnEvent[];
  /** Lines that did not parse back into an event (a write torn by a crash); they cannot be replayed. */
  readonly corruptLines: number;
}

export interface SpoolAppendResult {
  /** Per input event: whether it is now durably on disk. */
  readonly stored: boolean[];
  /** Set when the disk refused the write; every event of the call is then unstored. */
  readonly error?: unknown;
}

/**
 * Bounded on-disk queue of turn events: append-only JSON-lines segment files (`seg-<16 digits>.jsonl`, oldest
 * first by name), each append fsynced before it counts. A segment is deleted only after its events were
 * acknowledged, by the caller, through {@link remove}. One process per directory.
 */
export class EventSpool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentMaxBytes: number;
  private segments: Segment[] = [];
  private nextSeq = 1;
  private totalBytes = 0;
  private opened = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(dir: string, maxBytes: number, segmentMaxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.segmentMaxBytes = segmentMaxBytes;
  }

  /** Bytes currently on disk across all segments. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Creates the directory if needed and finds segments left by an earlier process. Idempotent. */
  open(): Promise<void> {
    return this.exclusive(() => this.ensureOpen());
  }

  /** Whether any segment, sealed or not, waits for replay. */
  async isEmpty(): Promise<boolean> {
    return this.exclusive(async () => {
      await this.ensureOpen();
      return this.segments.length === 0;
    });
  }

  /** Appends when the spool already holds events (so newer events queue behind older ones); else `undefined`. */
  appendIfNotEmpty(events: readonly TurnEvent[]): Promise<SpoolAppendResult | undefined> {
    return this.exclusive(async () => {
      try {
        await this.ensureOpen();
      } catch {
        return undefined;
      }
      return this.segments.length === 0 ? undefined : this.write(events);
    });
  }

  /** Appends what fits under the byte bound, in order; an event that does not fit is left unstored. */
  append(events: readonly TurnEvent[]): Promise<SpoolAppendResult> {
    return this.exclusive(async () => {
      try {
        await this.ensureOpen();
      } catch (error) {
        return { stored: events.map(() => false), error };
      }
      return this.write(events);
    });
  }

  /** Seals and reads the oldest segment; `undefined` when the spool is empty. */
  takeOldest(): Promise<SpoolSegment | undefined> {
    return this.exclusive(async () => {
      await this.ensureOpen();
      const oldest = this.segments[0];
      if (oldest === undefined) {
        return undefined;
      }
      await this.seal(oldest);
      const text = await readFile(join(this.dir, oldest.name), 'utf8');
      return { name: oldest.name, ...parseLines(text) };
    });
  }

  /** Deletes a segment whose events were all acknowledged. */
  remove(name: string): Promise<void> {
    return this.exclusive(async () => {
      const index = this.segments.findIndex((s) => s.name === name);
      const segment = this.segments[index];
      if (segment === undefined) {
        return;
      }
      await this.seal(segment);
      await unlink(join(this.dir, name));
      this.segments.splice(index, 1);
      this.totalBytes -= segment.bytes;
      await this.syncDir();
    });
  }

  /** Closes the open segment; the files stay for the next process. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      for (const segment of this.segments) {
        await this.seal(segment);
      }
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async ensureOpen(): Promise<void> {
    if (this.opened) {
      return;
    }
    await mkdir(this.dir, { recursive: true });
    const found: Segment[] = [];
    let maxSeq = 0;
    for (const name of await readdir(this.dir)) {
      const match = SEGMENT_NAME.exec(name);
      if (match?.[1] === undefined) {
        continue;
      }
      const { size } = await stat(join(this.dir, name));
      found.push({ name, bytes: size });
      maxSeq = Math.max(maxSeq, Number(match[1]));
    }
    found.sort((a, b) => (a.name < b.name ? -1 : 1));
    this.segments = found;
    this.totalBytes = found.reduce((sum, s) => sum + s.bytes, 0);
    this.nextSeq = maxSeq + 1;
    this.opened = true;
  }

  private async write(events: readonly TurnEvent[]): Promise<SpoolAppendResult> {
    const stored = events.map(() => false);
    const lines: string[] = [];
    let added = 0;
    events.forEach((event, index) => {
      const line = `${JSON.stringify(TurnEvent.toJSON(event))}\n`;
      const size = Buffer.byteLength(line);
      if (this.totalBytes + added + size <= this.maxBytes) {
        lines.push(line);
        stored[index] = true;
        added += size;
      }
    });
    if (lines.length === 0) {
      return { stored };
    }
    let segment: Segment | undefined;
    try {
      segment = await this.writableSegment();
      const handle = segment.handle;
      if (handle === undefined) {
        throw new Error('the segment is not open');
      }
      await handle.appendFile(lines.join(''));
      await handle.datasync();
      segment.bytes += added;
      this.totalBytes += added;
      return { stored };
    } catch (error) {
      if (segment !== undefined) {
        await this.recount(segment);
      }
      return { stored: events.map(() => false), error };
    }
  }

  private async writableSegment(): Promise<Segment> {
    const last = this.segments.at(-1);
    if (last?.handle !== undefined && last.bytes < this.segmentMaxBytes) {
      return last;
    }
    if (last !== undefined) {
      await this.seal(last);
    }
    const name = segmentName(this.nextSeq);
    this.nextSeq += 1;
    const handle = await open(join(this.dir, name), 'ax');
    const segment: Segment = { name, bytes: 0, handle };
    this.segments.push(segment);
    await this.syncDir();
    return segment;
  }

  /** After a failed write the file may hold part of it: seal it and take its size from the disk. */
  private async recount(segment: Segment): Promise<void> {
    try {
      await this.seal(segment);
      const { size } = await stat(join(this.dir, segment.name));
      this.totalBytes += size - segment.bytes;
      segment.bytes = size;
    } catch {
      // The size stays as last known; the next scan (a restart) corrects it.
    }
  }

  private async seal(segment: Segment): Promise<void> {
    const handle = segment.handle;
    if (handle !== undefined) {
      delete segment.handle;
      await handle.close();
    }
  }

  /** Makes a created or deleted segment name durable, not only its contents. */
  private async syncDir(): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.dir, 'r');
      await handle.sync();
    } catch {
      // Some filesystems refuse fsync on directories; the file data itself is already synced.
    } finally {
      await handle?.close();
    }
  }
}

function parseLines(text: string): { events: TurnEvent[]; corruptLines: number } {
  const events: TurnEvent[] = [];
  let corruptLines = 0;
  const lines = text.split('\n');
  // Every complete record ends with a newline, so the last piece is empty unless a write was torn.
  const last = lines.pop();
  if (last !== undefined && last !== '') {
    corruptLines += 1;
  }
  for (const line of lines) {
    if (line === '') {
      continue;
    }
    const event = parseEvent(line);
    if (event === undefined) {
      corruptLines += 1;
    } else {
      events.push(event);
    }
  }
  return { events, corruptLines };
}

function parseEvent(line: string): TurnEvent | undefined {
  try {
    const json: unknown = JSON.parse(line);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return undefined;
    }
    const event = TurnEvent.fromJSON(json);
    return event.eventId !== '' && event.tenantId !== '' && event.userId !== '' ? event : undefined;
  } catch {
    return undefined;
  }
}
