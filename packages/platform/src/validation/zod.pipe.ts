import type { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';

import { PlatformError } from '../errors/service.error.js';

/** One problem with the input, as sent to the client in `details.issues`. */
export interface ValidationIssue {
  /** Where in the input: object keys and array indexes from the root of the body, query or params. */
  path: (string | number)[];
  message: string;
}

const MAX_ISSUES = 20;

function renderPath(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text === '' ? key : `${text}.${key}`),
    '',
  );
}

function issuesOf(error: z.ZodError): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      // One issue per unknown field, so each is named by its own path.
      for (const key of issue.keys) {
        issues.push({ path: [...path, key], message: 'Unknown field' });
      }
    } else {
      issues.push({ path, message: issue.message });
    }
  }
  return issues.slice(0, MAX_ISSUES);
}

/**
 * Validates a body, query or params with a zod schema and hands the handler the parsed value:
 * `@Body(new ZodPipe(CreateAgentBody)) body: CreateAgentBody`. On failure: 400 `invalid_request` with a
 * sentence naming the first bad field and `details.issues` (path + message, at most 20).
 *
 * By convention object schemas are `z.strictObject(...)` (or `.strict()`), so unknown fields are rejected
 * with an `Unknown field` issue instead of being silently dropped (STYLE: reject unknown fields).
 */
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  private readonly schema: S;

  constructor(schema: S) {
    this.schema = schema;
  }

  transform(value: unknown, metadata?: ArgumentMetadata): z.output<S> {
    const result = this.schema.safeParse(value);
    if (result.success) {
      return result.data;
    }
    const issues = issuesOf(result.error);
    const location = metadata?.type === 'query' ? 'query' : metadata?.type === 'param' ? 'path' : 'body';
    const first = issues[0];
    let detail: string;
    if (first === undefined) {
      detail = `the ${location} does not match the expected shape`;
    } else if (first.path.length === 0) {
      detail = `the ${location}: ${first.message}`;
    } else {
      detail = `${location} field "${renderPath(first.path)}": ${first.message}`;
    }
    throw new PlatformError('invalid_request', { detail, details: { issues } });
  }
}
