import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { DevRunnerError } from './dev-runner.error.js';

/** One service the dev runner can start, as described by `services/<name>/package.json`. */
export interface ServiceSpec {
  /** The folder name, which is also the `@aibox/<name>` package suffix. */
  readonly name: string;
  /** Absolute path of `services/<name>`. */
  readonly dir: string;
  /** Absolute path of the built entry point, `services/<name>/dist/main.js`. */
  readonly entry: string;
  /** The HTTP port (ARCHITECTURE §1). */
  readonly port: number;
  /** The gRPC port, when the package declares one (`"grpcPort"`, by convention `port + 1000`). */
  readonly grpcPort: number | undefined;
  /** Lower starts first; services with the same order start together. */
  readonly order: number;
}

/** Where services live, relative to the repository root. */
export const SERVICES_DIR = 'services';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535;
}

async function readPackageJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DevRunnerError('service_invalid', `${file} is not valid JSON`);
  }
}

/** Reads one package; `undefined` when it is not a runnable service (no `start` script or no `aibox` field). */
async function readService(rootDir: string, name: string): Promise<ServiceSpec | undefined> {
  const dir = join(rootDir, SERVICES_DIR, name);
  const where = `${SERVICES_DIR}/${name}/package.json`;
  const pkg = await readPackageJson(join(dir, 'package.json'));
  if (!isRecord(pkg)) {
    return undefined;
  }
  const scripts = pkg['scripts'];
  const aibox = pkg['aibox'];
  if (!isRecord(scripts) || typeof scripts['start'] !== 'string' || aibox === undefined) {
    return undefined;
  }
  if (!isRecord(aibox)) {
    throw new DevRunnerError(
      'service_invalid',
      `"aibox" in ${where} must be an object like {"port": 8008, "order": 50}`,
    );
  }
  const { port, grpcPort, order } = aibox;
  if (!isPort(port)) {
    throw new DevRunnerError(
      'service_invalid',
      `"aibox.port" in ${where} must be an integer from 1 to 65535`,
    );
  }
  if (grpcPort !== undefined && !isPort(grpcPort)) {
    throw new DevRunnerError(
      'service_invalid',
      `"aibox.grpcPort" in ${where} must be an integer from 1 to 65535`,
    );
  }
  if (typeof order !== 'number' || !Number.isFinite(order)) {
    throw new DevRunnerError('service_invalid', `"aibox.order" in ${where} must be a number`);
  }
  return { name, dir, entry: join(dir, 'dist', 'main.js'), port, grpcPort, order };
}

function checkDistinctPorts(services: readonly ServiceSpec[]): void {
  const owners = new Map<number, string>();
  for (const service of services) {
    for (const port of [service.port, service.grpcPort]) {
      if (port === undefined) {
        continue;
      }
      const owner = owners.get(port);
      if (owner !== undefined) {
        throw new DevRunnerError('service_invalid', `${owner} and ${service.name} both declare port ${port}`);
      }
      owners.set(port, service.name);
    }
  }
}

/**
 * The services under `<rootDir>/services`, in start order (by `aibox.order`, then by name). A folder without a
 * package, a `start` script or an `aibox` field is not a service and is skipped; a malformed `aibox` field is
 * an error naming the file.
 */
export async function discoverServices(rootDir: string): Promise<ServiceSpec[]> {
  let entries;
  try {
    entries = await readdir(join(rootDir, SERVICES_DIR), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  const found = await Promise.all(names.map((name) => readService(rootDir, name)));
  const services = found
    .filter((service) => service !== undefined)
    .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
  checkDistinctPorts(services);
  return services;
}

/** Groups services that share an order value, lowest first; each group starts together. */
export function startWaves(services: readonly ServiceSpec[]): ServiceSpec[][] {
  const waves: ServiceSpec[][] = [];
  for (const service of [...services].sort((a, b) => a.order - b.order)) {
    const last = waves.at(-1);
    if (last?.[0]?.order === service.order) {
      last.push(service);
    } else {
      waves.push([service]);
    }
  }
  return waves;
}
