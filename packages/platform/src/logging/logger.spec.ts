import { describe, expect, it } from 'vitest';

import { runWithContext } from '../context/request-context.js';
import { createLogger } from './logger.js';
import { PinoNestLogger } from './nest-logger.js';

function capture(): { write(line: string): void; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('createLogger', () => {
  it('writes JSON lines with the service, a level label and an ISO time', () => {
    const out = capture();
    createLogger({ service: 'memory', level: 'info', destination: out }).info({ op: 'store' }, 'stored');
    expect(out.lines[0]).toMatchObject({ service: 'memory', level: 'info', op: 'store', msg: 'stored' });
    expect(new Date(String(out.lines[0]?.['time'])).toISOString()).toBe(out.lines[0]?.['time']);
  });

  it('adds the request context to lines written inside a request', () => {
    const out = capture();
    const logger = createLogger({ service: 'memory', level: 'info', destination: out });
    logger.info('outside');
    runWithContext(
      {
        correlationId: 'c-1',
        turnId: 't-1',
        principal: { tid: 'tenant', uid: 'user', email: '', roles: [], iss: 'i', sub: 's', iat: 1, exp: 2 },
      },
      () => {
        logger.info('inside');
      },
    );
    expect(out.lines[0]).not.toHaveProperty('correlation_id');
    expect(out.lines[1]).toMatchObject({
      correlation_id: 'c-1',
      turn_id: 't-1',
      tenant_id: 'tenant',
      user_id: 'user',
    });
  });

  it('censors credentials in headers, in secret-named fields and in the configured secret settings', () => {
    const out = capture();
    const logger = createLogger({
      service: 'memory',
      level: 'info',
      destination: out,
      redact: ['DATABASE_URL'],
    });
    logger.info(
      {
        req: {
          method: 'GET',
          url: '/v1/memory?token=abc',
          headers: { authorization: 'Bearer x', 'x-trace': 't' },
        },
        upstream: { headers: { cookie: 'c=1', 'x-aibox-cap-token': 'cap' } },
        password: 'hunter2',
        provider: { apiKey: 'sk-123', name: 'openai' },
        config: { DATABASE_URL: 'postgres://u:p@db/x', PORT: 8003 },
      },
      'call',
    );
    expect(out.lines[0]).toMatchObject({
      req: { method: 'GET', path: '/v1/memory', headers: { authorization: '[Redacted]', 'x-trace': 't' } },
      upstream: { headers: { cookie: '[Redacted]', 'x-aibox-cap-token': '[Redacted]' } },
      password: '[Redacted]',
      provider: { apiKey: '[Redacted]', name: 'openai' },
      config: { DATABASE_URL: '[Redacted]', PORT: 8003 },
    });
  });
  it('censors child bindings and serialized requests without touching the logged objects', () => {
    const out = capture();
    const logger = createLogger({ service: 'memory', level: 'info', destination: out });
    const headers = { authorization: 'Bearer x', 'x-trace': 't' };
    const provider = { apiKey: 'sk-123', name: 'openai' };
    logger
      .child({ token: 'child-secret', component: 'c' })
      .info({ req: { url: '/x', headers }, provider }, 'call');
    expect(out.lines[0]).toMatchObject({
      token: '[Redacted]',
      component: 'c',
      req: { headers: { authorization: '[Redacted]', 'x-trace': 't' } },
      provider: { apiKey: '[Redacted]', name: 'openai' },
    });
    expect(headers.authorization).toBe('Bearer x');
    expect(provider.apiKey).toBe('sk-123');
  });
});

describe('PinoNestLogger', () => {
  it('writes Nest logs through pino with their context, level and stack', () => {
    const out = capture();
    const nest = new PinoNestLogger(createLogger({ service: 'audit', level: 'debug', destination: out }));
    nest.log('Mapped {/healthz, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at somewhere (file.js:1:1)', 'ExceptionsHandler');
    nest.warn({ detail: 'x' }, 'Scanner');
    nest.verbose('too chatty', 'Injector');
    expect(out.lines).toEqual([
      expect.objectContaining({
        level: 'info',
        context: 'RouterExplorer',
        msg: 'Mapped {/healthz, GET} route',
      }),
      expect.objectContaining({
        level: 'error',
        context: 'ExceptionsHandler',
        msg: 'boom',
        stack: 'Error: boom\n    at somewhere (file.js:1:1)',
      }),
      expect.objectContaining({ level: 'warn', context: 'Scanner', details: { detail: 'x' } }),
    ]);
  });
});
