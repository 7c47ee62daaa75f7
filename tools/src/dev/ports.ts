import { createServer } from 'node:net';

/** A port the mesh will bind, and who needs it. */
export interface PortClaim {
  readonly port: number;
  readonly service: string;
  readonly kind: 'HTTP' | 'gRPC';
}

/** Why a port cannot be bound: `in_use` (EADDRINUSE) or `denied` (EACCES, e.g. below 1024 without rights). */
export interface PortConflict extends PortClaim {
  readonly reason: 'in_use' | 'denied';
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Tries to bind the port on `host` for an instant; resolves with the failure reason, or undefined if free. */
function tryBind(port: number, host: string): Promise<PortConflict['reason'] | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        resolve('in_use');
      } else if (error.code === 'EACCES') {
        resolve('denied');
      } else {
        reject(error);
      }
    });
    server.listen({ port, host: unbracket(host), exclusive: true }, () => {
      server.close(() => {
        resolve(undefined);
      });
    });
  });
}

/** Every claimed port that cannot be bound on `host` right now, in claim order. */
export async function findPortConflicts(claims: readonly PortClaim[], host: string): Promise<PortConflict[]> {
  const reasons = await Promise.all(claims.map((claim) => tryBind(claim.port, host)));
  return claims.flatMap((claim, index) => {
    const reason = reasons[index];
    return reason === undefined ? [] : [{ ...claim, reason }];
  });
}

/** One line per conflict, saying which port, for which service, and how to find what holds it. */
export function describePortConflict(conflict: PortConflict): string {
  const what = `port ${conflict.port} (${conflict.service} ${conflict.kind})`;
  return conflict.reason === 'in_use'
    ? `${what} is already in use; another make dev may still be running (see: lsof -i :${conflict.port})`
    : `${what} cannot be bound: permission denied`;
}
