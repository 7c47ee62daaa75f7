import { PlatformError } from '@aibox/platform';
import { z } from 'zod';

/** `POST /v1/audit`: a `LogRequest` in proto JSON (`{"event": {…TurnEvent…}}`, camelCase or snake_case). */
export const auditLogBodySchema = z.object({ event: z.record(z.string(), z.unknown()) }).strict();

/** Parses and checks the body of `POST /v1/audit`; 400 `invalid_json` / `invalid_request` otherwise. */
export function logRequestBody(body: Buffer): z.output<typeof auditLogBodySchema> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new PlatformError('invalid_json');
  }
  const result = auditLogBodySchema.safeParse(json);
  if (!result.success) {
    throw new PlatformError('invalid_request', {
      detail: 'expected {"event": {…}}',
      details: {
        issues: result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      },
    });
  }
  return result.data;
}
