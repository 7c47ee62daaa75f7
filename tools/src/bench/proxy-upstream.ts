import { createServer } from 'node:http';

import { PublishStatus, TurnEventServiceService, type TurnEventServiceServer } from '@aibox/contracts';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';

/**
 * The rest of the mesh for the `gateway-proxy` benchmark, in its own process so that the load generator does
 * not share its event loop: an HTTP upstream answering every request with a small JSON body, and a gRPC
 * `TurnEventService` that accepts every turn event (so the gateway's audit publishing runs as in a healthy
 * mesh instead of spooling to disk). `node proxy-upstream.js` prints `ready <http url> <grpc target>` and
 * exits when its standard input closes.
 */

const BODY = JSON.stringify({ object: 'list', data: [{ id: 'default', object: 'model' }] });

const turnEvents: TurnEventServiceServer = {
  publish: (call, callback) => {
    callback(null, {
      results: call.request.events.map((event) => ({
        eventId: event.eventId,
        status: PublishStatus.ACCEPTED,
        code: '',
      })),
    });
  },
  putArtifact: (call, callback) => {
    call.resume();
    callback({ code: status.UNIMPLEMENTED, details: 'the benchmark stores no artifacts' });
  },
};

async function main(): Promise<void> {
  const http = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(BODY),
      });
      response.end(BODY);
    });
  });
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no HTTP port was assigned');

  const grpc = new Server();
  grpc.addService(TurnEventServiceService, turnEvents);
  const grpcPort = await new Promise<number>((resolve, reject) => {
    grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
      if (error === null) resolve(port);
      else reject(error);
    });
  });

  process.stdin.on('close', () => {
    grpc.forceShutdown();
    http.closeAllConnections();
    http.close(() => process.exit(0));
  });
  process.stdin.resume();
  process.stdout.write(`ready http://127.0.0.1:${address.port} 127.0.0.1:${grpcPort}\n`);
}

await main();
