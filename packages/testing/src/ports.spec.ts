import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePortPair } from './ports.js';

function listen(port: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve(
        () =>
          new Promise((done) =>
            server.close(() => {
              done();
            }),
          ),
      );
    });
  });
}

describe('freePortPair', () => {
  it('returns a port whose +1000 partner can be bound too', async () => {
    const port = await freePortPair();
    const closeHttp = await listen(port);
    const closeGrpc = await listen(port + 1000);
    await closeHttp();
    await closeGrpc();
    expect(port).toBeGreaterThan(0);
  });
});
