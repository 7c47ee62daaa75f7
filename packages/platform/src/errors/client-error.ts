import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

import { describePlatformError, type PlatformErrorCode } from './service.error.js';

/** Node's HTTP parser verdicts that have their own answer; every other parse failure is `invalid_request`. */
const CLIENT_ERROR_CODES: Readonly<Record<string, PlatformErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

/**
 * Answers a request Node's HTTP parser refused before any route saw it (malformed request line or header,
 * headers over the size limit, a request that did not arrive in time) with the platform's error body,
 * `{"error","code"}`, instead of Fastify's default, and closes the connection: after a parse error the rest
 * of the stream cannot be trusted.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code = CLIENT_ERROR_CODES[error.code ?? ''] ?? 'invalid_request';
  const { httpStatus } = describePlatformError(code);
  const message =
    code === 'invalid_request'
      ? 'The request is not well-formed HTTP.'
      : `${describePlatformError(code).message}.`;
  const body = JSON.stringify({ error: message, code });
  socket.end(
    `HTTP/1.1 ${httpStatus} ${STATUS_CODES[httpStatus] ?? ''}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}
