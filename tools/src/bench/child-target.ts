import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** A process a benchmark loads, started by `startChild`. */
export interface ChildTarget {
  /** The first line the process printed, matched by `ready`. */
  readonly match: RegExpExecArray;
  stop(): Promise<void>;
}

export interface ChildTargetOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The line the process prints once it serves; anything else printed first is ignored. */
  readonly ready: RegExp;
  /**
   * How to ask it to stop: `stdin` closes its standard input (the bench targets exit on that, also when the
   * benchmark process dies); `sigterm` sends SIGTERM (a service's graceful shutdown).
   */
  readonly stopWith: 'stdin' | 'sigterm';
}

/** Starts a process and resolves once it printed its `ready` line; a process that dies first is reported. */
export function startChild(options: ChildTargetOptions): Promise<ChildTarget> {
  const child = spawn(options.command, [...options.args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let output = '';
  const keep = (chunk: string): void => {
    output = (output + chunk).slice(-4_000);
  };
  child.stderr.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (options.stopWith === 'stdin') child.stdin.end();
    else child.kill('SIGTERM');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${options.name} ${why}${output === '' ? '' : `:\n${output.trimEnd()}`}`));
    };
    const timer = setTimeout(() => {
      fail(`did not start within ${START_TIMEOUT_MS / 1000} s`);
    }, START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      fail(`exited (${code ?? signal ?? 'unknown'}) before it was ready`);
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (settled) return;
      keep(`${line}\n`);
      const match = options.ready.exec(line);
      if (match === null) return;
      settled = true;
      clearTimeout(timer);
      // Keep reading so a chatty process never blocks on a full pipe.
      child.stdout.resume();
      resolve({ match, stop });
    });
  });
}

/** A port nothing listens on right now on 127.0.0.1 (the OS picks it). */
export function freePort(at = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(at, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port was assigned'));
        else resolve(address.port);
      });
    });
  });
}

/** A free HTTP port whose gRPC port (HTTP + 1000, ARCHITECTURE §1) is free too. */
export async function freeServicePorts(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const http = await freePort();
    if (http + 1000 > 65_535) continue;
    try {
      await freePort(http + 1000);
      return http;
    } catch {
      // Taken: try another.
    }
  }
  throw new Error('found no free HTTP port with a free gRPC port beside it');
}

/** Polls `url` (a service's `/readyz`) until it answers 2xx; fails after about ten seconds. */
export async function waitReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${url} did not become ready`);
}
