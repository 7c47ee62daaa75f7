import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import type { ExecRepository } from '../repositories/exec.repository.js';
import type { EventHub } from './event-hub.js';
import { openExecFile } from '../runtimes/exec-files.js';

export type OutputStream = 'stdout' | 'stderr';

/** What a follower is sent: output as it is written, then how the exec ended. */
export type FollowEvent =
  | { readonly event: 'output'; readonly data: { stream: OutputStream; offset: number; text: string } }
  | { readonly event: 'exit'; readonly data: { status: string; exit_code: number | null } };

const CHUNK_BYTES = 65_536;

/**
 * Follows an exec's output live: a watch on its directory pushes each write as it lands (no polling), from
 * the offsets the follower already has; the exec's `exec_ended` event ends the stream once both files are
 * read to their end.
 */
export class ExecFollower {
  constructor(
    private readonly execs: ExecRepository,
    private readonly hub: EventHub,
  ) {}

  async follow(
    target: { tenantId: string; sandboxId: string; execId: string; dir: string },
    offsets: Record<OutputStream, number>,
    send: (event: FollowEvent) => void,
    close: () => void,
  ): Promise<() => void> {
    const position = { ...offsets };
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    let chain: Promise<void> = Promise.resolve();
    // Read through an object: the compiler's narrowing does not see the callbacks that set it.
    const state = { stopped: false as boolean };
    const isStopped = (): boolean => state.stopped;
    const watchers: FSWatcher[] = [];
    let unsubscribe: () => void = () => undefined;

    const drain = (stream: OutputStream): Promise<void> => {
      chain = chain.then(async () => {
        if (state.stopped) return;
        const file = await openExecFile(join(target.dir, stream)).catch(() => undefined);
        if (file === undefined) return;
        try {
          for (;;) {
            const buffer = Buffer.alloc(CHUNK_BYTES);
            const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, position[stream]);
            if (bytesRead === 0 || isStopped()) break;
            const offset = position[stream];
            position[stream] += bytesRead;
            send({
              event: 'output',
              data: { stream, offset, text: decoders[stream].write(buffer.subarray(0, bytesRead)) },
            });
          }
        } finally {
          await file.close();
        }
      });
      return chain;
    };
    const stop = (): void => {
      state.stopped = true;
      for (const watcher of watchers) watcher.close();
      unsubscribe();
    };
    const finish = async (): Promise<void> => {
      await drain('stdout');
      await drain('stderr');
      if (state.stopped) return;
      const exec = await this.execs.get(target.tenantId, target.sandboxId, target.execId);
      send({ event: 'exit', data: { status: exec?.status ?? 'lost', exit_code: exec?.exit_code ?? null } });
      stop();
      close();
    };

    unsubscribe = this.hub.subscribe(target.sandboxId, (event) => {
      if (event.type === 'exec_ended' && event.data['exec_id'] === target.execId) void finish();
    });
    const watcher = watch(target.dir, (_change, name) => {
      if (name === 'stdout' || name === 'stderr') void drain(name);
    });
    watcher.on('error', () => undefined);
    watchers.push(watcher);
    await drain('stdout');
    await drain('stderr');
    const exec = await this.execs.get(target.tenantId, target.sandboxId, target.execId);
    if (exec !== undefined && exec.status !== 'running') await finish();
    return stop;
  }
}
