import { createHash } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';

import {
  PublishStatus,
  TurnEventServiceService,
  type PutArtifactRequest,
  type TurnEventServiceServer,
} from '@aibox/contracts';
import { Server, ServerCredentials } from '@grpc/grpc-js';

/**
 * A gRPC `TurnEventService` that accepts every turn event and stores no artifact body but answers each
 * `PutArtifact` with the digest and size of what it received, as audit does — so a service's audit
 * publishing runs as in a healthy mesh instead of spooling to disk.
 */
const acceptingTurnEvents: TurnEventServiceServer = {
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
    const digest = createHash('sha256');
    let size = 0;
    call.on('data', (message: PutArtifactRequest) => {
      if (message.payload?.$case !== 'chunk') return;
      digest.update(message.payload.value);
      size += message.payload.value.length;
    });
    call.on('end', () => {
      callback(null, { sha256: digest.digest('hex'), size });
    });
  },
};

/**
 * Runs a benchmark's upstream process: `handler` on an HTTP port and the turn-event sink on a gRPC port, both
 * on 127.0.0.1; prints `ready <http url> <grpc target>` and exits when its standard input closes (also when
 * the benchmark process dies).
 */
export async function serveUpstream(handler: RequestListener): Promise<void> {
  const http = createServer(handler);
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no HTTP port was assigned');

  const grpc = new Server();
  grpc.addService(TurnEventServiceService, acceptingTurnEvents);
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
