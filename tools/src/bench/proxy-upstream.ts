import { serveUpstream } from './upstream-process.js';

/**
 * The rest of the mesh for the `gateway-proxy` benchmark, in its own process so that the load generator does
 * not share its event loop: an HTTP upstream answering every request with a small JSON body, and a gRPC
 * `TurnEventService` that accepts every turn event (so the gateway's audit publishing runs as in a healthy
 * mesh instead of spooling to disk). `node proxy-upstream.js` prints `ready <http url> <grpc target>` and
 * exits when its standard input closes.
 */

const BODY = JSON.stringify({ object: 'list', data: [{ id: 'default', object: 'model' }] });

await serveUpstream((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(BODY),
    });
    response.end(BODY);
  });
});
