import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { freePort } from '@aibox/testing';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

export type Handler = (request: IncomingMessage, response: ServerResponse, body: Buffer) => void;

/** A downstream service that records exactly what reaches it and answers with `handler` (JSON echo by default). */
export class Downstream {
  readonly received: Recorded[] = [];
  /** Requests whose client went away before the response finished. */
  aborted = 0;
  handler: Handler = (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ ok: true }));
  };
  private server: Server | undefined;
  url = '';

  static async start(): Promise<Downstream> {
    const downstream = new Downstream();
    const port = await freePort();
    downstream.url = `http://127.0.0.1:${port}`;
    downstream.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      response.once('close', () => {
        if (!response.writableFinished) downstream.aborted += 1;
      });
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        downstream.received.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          rawHeaders: request.rawHeaders,
          body: body.toString('utf8'),
        });
        downstream.handler(request, response, body);
      });
    });
    await new Promise<void>((resolve) => downstream.server?.listen(port, '127.0.0.1', resolve));
    return downstream;
  }

  reset(): void {
    this.received.length = 0;
    this.aborted = 0;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }
}
