import { Readable } from 'node:stream';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import { PlatformError } from '@aibox/platform';

export const TAR_CONTENT_TYPE = 'application/x-tar';

/**
 * Lets `application/x-tar` bodies through unread, for `PUT /sandboxes/:id/files/archive` to stream: Fastify
 * answers 415 before any handler for a content type it has no parser for, and a buffering parser would hold
 * the whole archive in memory. Fastify's body limit does not apply to a body handed on this way;
 * `WorkspaceFiles.extract` counts the bytes against `SANDBOX_ARCHIVE_MAX_BYTES` instead. App-wide, but only
 * for this content type. Call before the app listens (Fastify refuses new parsers once started).
 */
export function registerTarParser(fastify: FastifyInstance): void {
  fastify.addContentTypeParser(TAR_CONTENT_TYPE, (_request, payload, done) => {
    done(null, payload);
  });
}

/** The request's tar body as the parser above handed it on; any other body is a 415. */
export function tarBody(request: FastifyRequest): Readable {
  const body: unknown = request.body;
  if (body instanceof Readable) return body;
  throw new PlatformError('unsupported_media_type', { detail: `send the archive as ${TAR_CONTENT_TYPE}` });
}
