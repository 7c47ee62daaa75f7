import { describe, expect, it } from 'vitest';

import { ApiError } from '../api/api-error.js';
import { createQueryClient } from './query-client.js';

function failing(errors: ApiError[], value: string) {
  let calls = 0;
  return {
    calls: () => calls,
    queryFn: () => {
      const error = errors[calls];
      calls += 1;
      return error === undefined ? Promise.resolve(value) : Promise.reject(error);
    },
  };
}

describe('the query client', () => {
  it('tries a rate-limited request again once the server says it may', async () => {
    const rateLimited = new ApiError(429, 'rate_limited', 'slow down', undefined, undefined, 0);
    const source = failing([rateLimited], 'answer');
    await expect(createQueryClient().query({ queryKey: ['x'], ...source })).resolves.toBe('answer');
    expect(source.calls()).toBe(2);
  });

  it('does not ask again for what was refused or is not there', async () => {
    for (const refused of [
      new ApiError(404, 'conversation_unknown', 'no such conversation'),
      new ApiError(403, 'forbidden', 'no'),
    ]) {
      const source = failing([refused], 'never');
      await expect(createQueryClient().query({ queryKey: ['y'], ...source })).rejects.toBe(refused);
      expect(source.calls()).toBe(1);
    }
  });

  it('reads Retry-After from a 429 answer', async () => {
    const error = await ApiError.fromResponse(
      new Response(JSON.stringify({ error: 'Too many requests', code: 'rate_limited' }), {
        status: 429,
        headers: { 'retry-after': '7', 'content-type': 'application/json' },
      }),
    );
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: 7000 });
  });
});
