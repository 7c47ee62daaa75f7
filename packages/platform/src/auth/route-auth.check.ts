import { RequestMethod, type INestApplication, type Type } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ApplicationConfig, MetadataScanner, ModulesContainer } from '@nestjs/core';

import { PUBLIC_ROUTE } from './auth.tokens.js';
import { PrincipalGuard } from './principal.guard.js';

/** How one HTTP route decides who may call it. */
export interface RouteAuthDecision {
  method: string;
  /** Controller path joined with the handler path, without the global prefix. */
  path: string;
  /** `Controller.method`, to find it in the code. */
  handler: string;
  decision: 'principal' | 'public' | 'none';
}

/** Routes every service serves without a principal (ARCHITECTURE §1). */
export const HEALTH_ROUTES: readonly string[] = ['/healthz', '/readyz', '/metrics'];

function joinPath(...parts: string[]): string {
  const joined = parts
    .flatMap((part) => part.split('/'))
    .filter((segment) => segment !== '')
    .join('/');
  return `/${joined}`;
}

function pathsOf(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [''];
}

function isPrincipalGuard(guard: unknown): boolean {
  return guard === PrincipalGuard || guard instanceof PrincipalGuard;
}

// NestApplication keeps its ApplicationConfig private; the global guards (useGlobalGuards and APP_GUARD
// providers alike) are only visible there.
function applicationConfig(app: INestApplication): ApplicationConfig {
  const config = (app as unknown as { config?: unknown }).config;
  if (!(config instanceof ApplicationConfig)) {
    throw new Error('cannot read the global guards of this Nest application (no ApplicationConfig found)');
  }
  return config;
}

function hasGlobalPrincipalGuard(config: ApplicationConfig): boolean {
  return (
    config.getGlobalGuards().some(isPrincipalGuard) ||
    config.getGlobalRequestGuards().some((wrapper) => isPrincipalGuard(wrapper.metatype))
  );
}

function guardsOf(target: object): unknown[] {
  const guards: unknown = Reflect.getMetadata(GUARDS_METADATA, target);
  return Array.isArray(guards) ? guards : [];
}

/**
 * Every HTTP route of the app with its auth decision: `principal` when {@link PrincipalGuard} is in effect
 * (globally or through `@UseGuards`), else `public` when it is marked `@Public()`, else `none`.
 * Call after `app.init()`.
 */
export function listRouteAuthDecisions(app: INestApplication): RouteAuthDecision[] {
  const globallyGuarded = hasGlobalPrincipalGuard(applicationConfig(app));
  const scanner = new MetadataScanner();
  const decisions: RouteAuthDecision[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (controller === null || typeof controller !== 'function') {
        continue;
      }
      const prototype = controller.prototype as Record<string, unknown>;
      const controllerPaths = pathsOf(Reflect.getMetadata(PATH_METADATA, controller));
      const controllerPublic = Reflect.getMetadata(PUBLIC_ROUTE, controller) === true;
      const controllerGuarded = guardsOf(controller).some(isPrincipalGuard);
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function') {
          continue;
        }
        const routePath: unknown = Reflect.getMetadata(PATH_METADATA, handler);
        const requestMethod: unknown = Reflect.getMetadata(METHOD_METADATA, handler);
        if (routePath === undefined || typeof requestMethod !== 'number') {
          continue;
        }
        const handlerPublic: unknown = Reflect.getMetadata(PUBLIC_ROUTE, handler);
        const isPublic = handlerPublic === undefined ? controllerPublic : handlerPublic === true;
        const guarded = globallyGuarded || controllerGuarded || guardsOf(handler).some(isPrincipalGuard);
        // A public route skips the guard even when it is in effect, so `public` wins over `principal`.
        const decision = isPublic ? 'public' : guarded ? 'principal' : 'none';
        const method = RequestMethod[requestMethod] ?? String(requestMethod);
        for (const base of controllerPaths) {
          for (const path of pathsOf(routePath)) {
            decisions.push({
              method,
              path: joinPath(base, path),
              handler: `${controller.name}.${name}`,
              decision,
            });
          }
        }
      }
    }
  }
  return decisions;
}

export interface RouteAuthCheckOptions {
  /**
   * Routes the service means to serve without a principal, besides {@link HEALTH_ROUTES}: a path
   * (`/v1/public/info`, any method) or a method and a path (`GET /v1/public/info`).
   */
  publicRoutes?: readonly string[];
}

/**
 * Throws, naming each offending route, when an HTTP route has no explicit auth decision: it is neither
 * behind {@link PrincipalGuard} nor `@Public()`, or it is `@Public()` without being a health route or one
 * of `publicRoutes` (STYLE: a test over the route table fails any route without an auth decision).
 * Call after `app.init()`, in boot and in each service's tests.
 */
export function assertEveryRouteHasAuthDecision(
  app: INestApplication,
  options: RouteAuthCheckOptions = {},
): void {
  const allowed = new Set([...HEALTH_ROUTES, ...(options.publicRoutes ?? [])]);
  const problems: string[] = [];
  for (const route of listRouteAuthDecisions(app)) {
    const name = `${route.method} ${route.path} (${route.handler})`;
    if (route.decision === 'none') {
      problems.push(`${name} is neither behind PrincipalGuard nor @Public()`);
    } else if (
      route.decision === 'public' &&
      !allowed.has(route.path) &&
      !allowed.has(`${route.method} ${route.path}`)
    ) {
      problems.push(`${name} is @Public() but not an allowed public route`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`HTTP routes without an auth decision:\n  ${problems.join('\n  ')}`);
  }
}
