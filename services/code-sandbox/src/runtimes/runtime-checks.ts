import { isAbsolute } from 'node:path';

import type { ExecStart, SandboxResources } from './sandbox-runtime.js';

/**
 * What every runtime checks of what it is handed before any of it reaches a path, a cgroup, a container or a
 * program's environment: the service validated it already, so a failure here is a bug, thrown as such.
 */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A name the runtime puts in a path or a container name: one segment, no dots leading. */
export function checkName(what: string, value: string): void {
  if (!SAFE_NAME.test(value)) throw new Error(`${what} is not a safe name: ${JSON.stringify(value)}`);
}

export function checkResources(resources: SandboxResources): void {
  const { cpus, memoryMb, pids, diskMb } = resources;
  if (!(Number.isFinite(cpus) && cpus > 0)) throw new Error(`cpus must be positive: ${cpus}`);
  for (const [name, value] of Object.entries({ memoryMb, pids, diskMb })) {
    if (!(Number.isSafeInteger(value) && value > 0))
      throw new Error(`${name} must be a positive integer: ${value}`);
  }
}

/** Environment variables a program may get; `reserved` names are the runtime's own (its exec marker). */
export function checkEnv(env: Readonly<Record<string, string>>, reserved: readonly string[] = []): void {
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || /[=\0]/.test(name) || value.includes('\0') || reserved.includes(name))
      throw new Error(`invalid env variable: ${name}`);
  }
}

export function checkExec(exec: ExecStart, reservedEnv: readonly string[] = []): void {
  checkName('exec id', exec.execId);
  if (exec.argv.length === 0) throw new Error('argv is empty');
  if (!isAbsolute(exec.dir)) throw new Error(`exec dir must be absolute: ${exec.dir}`);
  if (exec.cwd !== '' && !exec.cwd.startsWith('/')) throw new Error(`cwd must be absolute: ${exec.cwd}`);
  if (!(Number.isFinite(exec.timeoutS) && exec.timeoutS > 0))
    throw new Error(`timeoutS must be positive: ${exec.timeoutS}`);
  if ([...exec.argv, exec.cwd].some((text) => text.includes('\0')))
    throw new Error('argv and cwd may not contain NUL');
  checkEnv(exec.env, reservedEnv);
}
