import { status as GrpcStatus } from '@grpc/grpc-js';
import { BadRequestException, ForbiddenException, HttpException, NotFoundException } from '@nestjs/common';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { describeError } from './error-reply.js';
import type { RequestLogger } from './request-logger.js';
import { PlatformError, ServiceError, type PlatformErrorCode } from './service.error.js';

const TRANSPORT: [PlatformErrorCode, number, GrpcStatus][] = [
  ['principal_invalid', 401, GrpcStatus.UNAUTHENTICATED],
  ['capability_missing', 403, GrpcStatus.PERMISSION_DENIED],
  ['forbidden', 403, GrpcStatus.PERMISSION_DENIED],
  ['invalid_request', 400, GrpcStatus.INVALID_ARGUMENT],
  ['invalid_json', 400, GrpcStatus.INVALID_ARGUMENT],
  ['payload_too_large', 413, GrpcStatus.RESOURCE_EXHAUSTED],
  ['route_unknown', 404, GrpcStatus.UNIMPLEMENTED],
  ['not_found', 404, GrpcStatus.NOT_FOUND],
  ['method_not_allowed', 405, GrpcStatus.UNIMPLEMENTED],
  ['conflict', 409, GrpcStatus.ABORTED],
  ['unsupported_media_type', 415, GrpcStatus.INVALID_ARGUMENT],
  ['rate_limited', 429, GrpcStatus.RESOURCE_EXHAUSTED],
  ['not_ready', 503, GrpcStatus.UNAVAILABLE],
  ['internal', 500, GrpcStatus.INTERNAL],
];

describe('PlatformError', () => {
  it.each(TRANSPORT)(
    'answers %s with HTTP %i and gRPC status %i and a sentence',
    (code, httpStatus, grpcStatus) => {
      const error = new PlatformError(code);

      expect(error).toBeInstanceOf(ServiceError);
      expect(error).toMatchObject({ name: 'PlatformError', code, httpStatus, grpcStatus });
      expect(error.message).toMatch(/^[A-Z].*\.$/);
    },
  );

  it('appends a detail to the message and keeps the cause out of it', () => {
    const cause = new Error('socket hang up');
    const error = new PlatformError('not_ready', { detail: 'the database is unreachable.', cause });

    expect(error.message).toBe('The service is not ready to serve requests: the database is unreachable.');
    expect(error.cause).toBe(cause);
  });
});

describe('describeError', () => {
  const options = { correlationId: '4f1c7a52-0000-4000-8000-000000000000' };

  it('keeps the message application code gave an HttpException, with a platform code for its status', () => {
    expect(describeError(new ForbiddenException('Only owners may share'), options)).toMatchObject({
      httpStatus: 403,
      code: 'forbidden',
      message: 'Only owners may share.',
      fault: false,
    });
    expect(describeError(new NotFoundException('No such agent.'), options)).toMatchObject({
      httpStatus: 404,
      code: 'not_found',
      grpcStatus: GrpcStatus.NOT_FOUND,
    });
    expect(describeError(new BadRequestException(), options).code).toBe('invalid_request');
  });

  it('hides a 5xx HttpException like any other fault', () => {
    const reply = describeError(new HttpException('pool exhausted: 10.0.0.7', 502), options);

    expect(reply).toMatchObject({ httpStatus: 500, code: 'internal', fault: true });
    expect(reply.message).not.toContain('10.0.0.7');
    expect(reply.message).toContain(options.correlationId);
  });

  it('treats thrown non-errors as faults', () => {
    expect(describeError('boom', options)).toMatchObject({ code: 'internal', fault: true });
    expect(describeError(undefined, options)).toMatchObject({ code: 'internal', fault: true });
  });
});

describe('RequestLogger', () => {
  it('is satisfied by a pino logger', () => {
    const lines: string[] = [];
    const logger: RequestLogger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });

    logger.debug({ reason: 'token_expired' }, 'principal rejected');

    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      reason: 'token_expired',
      msg: 'principal rejected',
    });
  });
});
