import { createServer } from 'node:net';

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(undefined);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => {
        resolve(bound);
      });
    });
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const port = await listenOnce(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/**
 * A port p such that p and p + offset are both free on 127.0.0.1 (a service's HTTP port and its gRPC
 * port, which is HTTP + 1000). Ports come from a range well below the ephemeral range so p + offset
 * stays valid.
 */
export async function freePortPair(offset = 1000): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await listenOnce(port)) !== undefined && (await listenOnce(port + offset)) !== undefined) {
      return port;
    }
  }
  throw new Error(`no free port pair (p, p+${offset}) on 127.0.0.1`);
}
