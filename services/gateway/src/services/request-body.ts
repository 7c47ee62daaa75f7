import type { IncomingMessage } from 'node:http';

import { PlatformError } from '@aibox/platform';

/** Raised inside the body stream when it grows past the limit. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Whether the request announces a body (a length above zero or chunked transfer). */
export function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** 413 `payload_too_large` at once when the announced length is over `limit`. */
export function checkDeclaredLength(request: IncomingMessage, limit: number): void {
  const length = Number(request.headers['content-length'] ?? '0');
  if (Number.isFinite(length) && length > limit) throw new PlatformError('payload_too_large');
}

/** Reads the whole body (for gRPC rows), refusing more than `limit` bytes. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(request, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PlatformError('payload_too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
