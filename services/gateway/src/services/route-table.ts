/**
 * The gateway's route table (ARCHITECTURE §4): one declarative list, first match wins, so specific rows
 * come before the broad ones they overlap. Paths are matched on the raw (still percent-encoded) path;
 * `{name}` is one segment, a trailing `/**` is the path itself and anything below it.
 */

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What a route costs and may do: picks its rate limit, its timeout and the caps of its turn. */
export const ROUTE_CLASSES = [
  'chat',
  'workspace',
  'memory',
  'guardrail',
  'knowledge',
  'audit',
  'inference',
  'sandbox',
  'admin',
  'gateway',
] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** Services the gateway forwards to over HTTP; each has a `<SERVICE>_URL` setting. */
export type HttpTarget =
  'agent-runtime' | 'memory' | 'guardrail' | 'knowledge' | 'audit' | 'inference-router' | 'code-sandbox';

/** gRPC methods behind the table, as `Service.Method` of package `aibox.v1`. */
export type GrpcRpc =
  | 'AuditService.Log'
  | 'MemoryService.Store'
  | 'GuardrailService.CheckInput'
  | 'GuardrailService.CheckOutput'
  | 'KnowledgeService.WikiWrite'
  | 'KnowledgeService.WikiRead';

interface RouteBase {
  /** The methods the row accepts; `'*'` for every method. */
  readonly methods: readonly HttpMethod[] | '*';
  readonly path: string;
  readonly routeClass: RouteClass;
  /** Requires the role `admin` (403 `forbidden` otherwise). */
  readonly adminOnly: boolean;
}

/**
 * Every row states who may call it (`auth`): `token` needs a valid bearer JWT (`GatewayAuthGuard`), `public`
 * nothing. Only rows the gateway answers itself can be public: a downstream always gets a stamped principal.
 */
interface TokenRoute extends RouteBase {
  readonly auth: 'token';
}

export interface HttpRoute extends TokenRoute {
  readonly transport: 'http';
  readonly target: HttpTarget;
  /** Replaces the leading `strip` of the path with `prepend` before forwarding. */
  readonly rewrite?: { readonly strip: string; readonly prepend: string };
}

export interface GrpcRoute extends TokenRoute {
  readonly transport: 'grpc';
  readonly target: 'memory' | 'guardrail' | 'knowledge' | 'audit';
  readonly rpc: GrpcRpc;
}

/** Answered by the gateway itself for the caller: `GET /v1/me`. */
export interface LocalRoute extends TokenRoute {
  readonly transport: 'local';
  readonly target: 'gateway';
  readonly handler: 'me';
}

/** Answered by the gateway itself to anyone, without a token: the SPA's sign-in settings. */
export interface PublicRoute extends RouteBase {
  readonly auth: 'public';
  readonly transport: 'local';
  readonly target: 'gateway';
  readonly handler: 'auth-config';
  readonly adminOnly: false;
}

export type Route = HttpRoute | GrpcRoute | LocalRoute | PublicRoute;

const ANY = '*';

// prettier-ignore
export const ROUTES: readonly Route[] = [
  // Answered by the gateway. The SPA reads its sign-in settings before anyone is signed in.
  { auth: 'public', methods: ['GET'], path: '/v1/auth/config', transport: 'local', target: 'gateway', handler: 'auth-config', routeClass: 'gateway', adminOnly: false },
  { auth: 'token', methods: ['GET'], path: '/v1/me', transport: 'local', target: 'gateway', handler: 'me', routeClass: 'gateway', adminOnly: false },

  // Chat and agents → agent-runtime (SSE passed through unbuffered).
  { auth: 'token', methods: ['POST'], path: '/v1/audit/turns/{turn_id}/replay/live', transport: 'http', target: 'agent-runtime', routeClass: 'chat', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/chat/**', transport: 'http', target: 'agent-runtime', routeClass: 'chat', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/conversations/**', transport: 'http', target: 'agent-runtime', routeClass: 'workspace', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/agents/**', transport: 'http', target: 'agent-runtime', routeClass: 'workspace', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/skills/**', transport: 'http', target: 'agent-runtime', routeClass: 'workspace', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/approvals/**', transport: 'http', target: 'agent-runtime', routeClass: 'workspace', adminOnly: false },

  // Memory.
  { auth: 'token', methods: ['POST'], path: '/v1/memory', transport: 'grpc', target: 'memory', rpc: 'MemoryService.Store', routeClass: 'memory', adminOnly: false },
  { auth: 'token', methods: ['POST'], path: '/v1/memory/search', transport: 'http', target: 'memory', routeClass: 'memory', adminOnly: false },
  { auth: 'token', methods: ['GET'], path: '/v1/memory', transport: 'http', target: 'memory', routeClass: 'memory', adminOnly: false },
  { auth: 'token', methods: ['PUT', 'DELETE'], path: '/v1/memory/{memory_id}', transport: 'http', target: 'memory', routeClass: 'memory', adminOnly: false },

  // Guardrail.
  { auth: 'token', methods: ['POST'], path: '/v1/guard/input', transport: 'grpc', target: 'guardrail', rpc: 'GuardrailService.CheckInput', routeClass: 'guardrail', adminOnly: false },
  { auth: 'token', methods: ['POST'], path: '/v1/guard/output', transport: 'grpc', target: 'guardrail', rpc: 'GuardrailService.CheckOutput', routeClass: 'guardrail', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/guard/deidentify/**', transport: 'http', target: 'guardrail', routeClass: 'guardrail', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/guard/policy/**', transport: 'http', target: 'guardrail', routeClass: 'guardrail', adminOnly: false },

  // Knowledge.
  { auth: 'token', methods: ['POST'], path: '/v1/knowledge/search', transport: 'http', target: 'knowledge', routeClass: 'knowledge', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/knowledge/documents/**', transport: 'http', target: 'knowledge', routeClass: 'knowledge', adminOnly: false },
  { auth: 'token', methods: ['POST'], path: '/v1/knowledge/wiki', transport: 'grpc', target: 'knowledge', rpc: 'KnowledgeService.WikiWrite', routeClass: 'knowledge', adminOnly: false },
  { auth: 'token', methods: ['GET'], path: '/v1/knowledge/wiki', transport: 'http', target: 'knowledge', routeClass: 'knowledge', adminOnly: false },
  { auth: 'token', methods: ['GET'], path: '/v1/knowledge/wiki/{topic}', transport: 'grpc', target: 'knowledge', rpc: 'KnowledgeService.WikiRead', routeClass: 'knowledge', adminOnly: false },
  { auth: 'token', methods: ['DELETE'], path: '/v1/knowledge/wiki/{topic}', transport: 'http', target: 'knowledge', routeClass: 'knowledge', adminOnly: false },

  // Audit.
  { auth: 'token', methods: ['POST'], path: '/v1/audit', transport: 'grpc', target: 'audit', rpc: 'AuditService.Log', routeClass: 'audit', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/receipts/**', transport: 'http', target: 'audit', routeClass: 'audit', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/audit/**', transport: 'http', target: 'audit', routeClass: 'audit', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/admin/audit/**', transport: 'http', target: 'audit', routeClass: 'admin', adminOnly: true },

  // Inference router.
  { auth: 'token', methods: ANY, path: '/v1/models/**', transport: 'http', target: 'inference-router', routeClass: 'inference', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/routes/**', transport: 'http', target: 'inference-router', routeClass: 'inference', adminOnly: false },
  { auth: 'token', methods: ANY, path: '/v1/admin/inference/**', transport: 'http', target: 'inference-router', rewrite: { strip: '/v1/admin/inference', prepend: '/v1/internal' }, routeClass: 'admin', adminOnly: true },

  // Code sandbox.
  { auth: 'token', methods: ANY, path: '/v1/sandbox/**', transport: 'http', target: 'code-sandbox', rewrite: { strip: '/v1/sandbox', prepend: '' }, routeClass: 'sandbox', adminOnly: false },
];

/** Every path under this prefix requires the role `admin`, matched or not (unknown admin paths stay hidden). */
export const ADMIN_PREFIX = '/v1/admin';

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
  readonly subtree: boolean;
}

function compile(route: Route): CompiledRoute {
  const subtree = route.path.endsWith('/**');
  const base = subtree ? route.path.slice(0, -3) : route.path;
  return { route, segments: base.split('/').slice(1), subtree };
}

const COMPILED: readonly CompiledRoute[] = ROUTES.map(compile);

function segmentsMatch(compiled: CompiledRoute, segments: readonly string[]): boolean {
  const pattern = compiled.segments;
  if (compiled.subtree ? segments.length < pattern.length : segments.length !== pattern.length) {
    return false;
  }
  // A trailing slash on an exact path is the same resource (`/v1/memory/` = `/v1/memory`).
  for (const [index, expected] of pattern.entries()) {
    const actual = segments[index];
    if (actual === undefined) return false;
    if (expected.startsWith('{')) {
      if (actual === '') return false;
    } else if (actual !== expected) {
      return false;
    }
  }
  return true;
}

export type RouteMatch =
  | { readonly kind: 'matched'; readonly route: Route }
  | { readonly kind: 'method_not_allowed'; readonly allowed: readonly string[] }
  | { readonly kind: 'unknown' };

function accepts(route: Route, method: string): boolean {
  if (route.methods === ANY) return true;
  const methods: readonly string[] = route.methods;
  // HEAD is a GET without a body.
  return methods.includes(method) || (method === 'HEAD' && methods.includes('GET'));
}

/** The first row whose path and method match `path` (raw, without the query string). */
export function matchRoute(method: string, path: string): RouteMatch {
  const segments = path.split('/').slice(1);
  if (segments.length > 1 && segments.at(-1) === '') segments.pop();
  const allowed = new Set<string>();
  for (const compiled of COMPILED) {
    if (!segmentsMatch(compiled, segments)) continue;
    if (accepts(compiled.route, method)) return { kind: 'matched', route: compiled.route };
    const methods = compiled.route.methods;
    if (methods !== ANY) for (const name of methods) allowed.add(name);
  }
  return allowed.size === 0 ? { kind: 'unknown' } : { kind: 'method_not_allowed', allowed: [...allowed] };
}

/** Whether `path` (raw, without the query string) is a row anyone may call without a token. */
export function isPublicRoute(method: string, path: string): boolean {
  const match = matchRoute(method, path);
  return match.kind === 'matched' && match.route.auth === 'public';
}

/** The downstream path of an HTTP row: the raw path with the row's prefix rewrite applied. */
export function downstreamPath(route: HttpRoute, path: string): string {
  if (route.rewrite === undefined || !path.startsWith(route.rewrite.strip)) return path;
  const rest = path.slice(route.rewrite.strip.length);
  const joined = `${route.rewrite.prepend}${rest}`;
  return joined.startsWith('/') ? joined : `/${joined}`;
}

/**
 * Capabilities granted to the turn of a request, by route class (README: Capabilities). A cap token names
 * what the turn may do downstream; services check it where an action needs one.
 */
export const ROUTE_CLASS_CAPS: Readonly<Record<RouteClass, readonly string[]>> = {
  chat: [
    'inference:invoke',
    'guardrail:check',
    'memory:read',
    'memory:write',
    'knowledge:read',
    'sandbox:exec',
    // A chat turn's sandbox tool opens the conversation's sandbox when it has none.
    'sandbox:manage',
    'tools:call',
    'audit:write',
  ],
  // Reading and arranging one's conversations, agents, skills and approvals runs no turn of its own.
  workspace: [],
  memory: ['memory:read', 'memory:write'],
  guardrail: ['guardrail:check'],
  knowledge: ['knowledge:read', 'knowledge:write'],
  audit: ['audit:read', 'audit:write'],
  inference: ['inference:invoke'],
  sandbox: ['sandbox:exec', 'sandbox:manage'],
  admin: ['inference:admin', 'audit:admin'],
  gateway: [],
};
