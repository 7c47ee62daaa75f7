import { Controller, Get, Post, UseGuards } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';

import { Public } from './auth.decorators.js';
import { PrincipalGuard } from './principal.guard.js';
import { assertEveryRouteHasAuthDecision, listRouteAuthDecisions } from './route-auth.check.js';
import { startTestApp, testKeys, type TestApp } from './testdata/fixtures.js';

@Public()
@Controller()
class ProbesController {
  @Get('healthz')
  healthz(): string {
    return 'ok';
  }
}

@Controller('v1/things')
class ThingsController {
  @Get()
  list(): string[] {
    return [];
  }

  @Post(':id/share')
  share(): string {
    return 'shared';
  }

  @Public()
  @Get('catalog')
  catalog(): string[] {
    return [];
  }
}

@UseGuards(PrincipalGuard)
@Controller('v1/guarded')
class LocallyGuardedController {
  @Get()
  read(): string {
    return 'read';
  }
}

describe('route auth check', () => {
  let server: TestApp | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('lists every route with its decision under the global guard', async () => {
    server = await startTestApp({ controllers: [ProbesController, ThingsController], keys: testKeys() });

    expect(listRouteAuthDecisions(server.app)).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/healthz', handler: 'ProbesController.healthz', decision: 'public' },
        { method: 'GET', path: '/v1/things', handler: 'ThingsController.list', decision: 'principal' },
        {
          method: 'POST',
          path: '/v1/things/:id/share',
          handler: 'ThingsController.share',
          decision: 'principal',
        },
        {
          method: 'GET',
          path: '/v1/things/catalog',
          handler: 'ThingsController.catalog',
          decision: 'public',
        },
      ]),
    );
  });

  it('reports a public route the service did not list, and accepts it once listed', async () => {
    server = await startTestApp({ controllers: [ProbesController, ThingsController], keys: testKeys() });
    const app = server.app;

    expect(() => {
      assertEveryRouteHasAuthDecision(app);
    }).toThrow(
      'GET /v1/things/catalog (ThingsController.catalog) is @Public() but not an allowed public route',
    );
    expect(() => {
      assertEveryRouteHasAuthDecision(app, { publicRoutes: ['GET /v1/things/catalog'] });
    }).not.toThrow();
    expect(() => {
      assertEveryRouteHasAuthDecision(app, { publicRoutes: ['/v1/things/catalog'] });
    }).not.toThrow();
  });

  it('reports every route that is neither guarded nor public when the global guard is missing', async () => {
    server = await startTestApp({
      controllers: [ProbesController, ThingsController, LocallyGuardedController],
      keys: testKeys(),
      globalGuard: false,
    });
    const app = server.app;

    let message = '';
    try {
      assertEveryRouteHasAuthDecision(app, { publicRoutes: ['GET /v1/things/catalog'] });
    } catch (error: unknown) {
      message = (error as Error).message;
    }

    expect(message).toContain(
      'GET /v1/things (ThingsController.list) is neither behind PrincipalGuard nor @Public()',
    );
    expect(message).toContain('POST /v1/things/:id/share (ThingsController.share)');
    // Guarded by its own @UseGuards(PrincipalGuard), and public health routes are always allowed.
    expect(message).not.toContain('/v1/guarded');
    expect(message).not.toContain('/healthz');
  });
});
