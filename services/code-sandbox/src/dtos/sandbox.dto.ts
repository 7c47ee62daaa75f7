import { z } from 'zod';

const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const labels = z
  .record(z.string().regex(LABEL_KEY), z.string().max(200))
  .refine((value) => Object.keys(value).length <= 32, 'at most 32 labels');

export const sandboxSpec = z.strictObject({
  name: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$/)
    .optional(),
  labels: labels.optional(),
  runtime: z.enum(['process', 'docker', 'gvisor']).optional(),
  image: z.string().min(1).max(255).optional(),
  resources: z
    .strictObject({
      cpus: z.number().positive().max(64).optional(),
      memory_mb: z.number().int().min(16).max(1_048_576).optional(),
      pids: z.number().int().min(8).max(65_536).optional(),
      disk_mb: z.number().int().min(1).max(1_048_576).optional(),
    })
    .optional(),
  ttl_s: z.number().int().min(1).max(2_592_000).optional(),
  idle_ttl_s: z.number().int().min(1).max(2_592_000).optional(),
  network: z
    .strictObject({
      mode: z.enum(['none', 'egress']),
      allow: z.array(z.string().max(253)).max(64).optional(),
    })
    .optional(),
  env: z
    .record(z.string().regex(ENV_NAME), z.string().max(32_768))
    .refine((value) => Object.keys(value).length <= 256, 'at most 256 variables')
    .optional(),
  credentials: z
    .array(
      z
        .strictObject({
          id: z.uuid(),
          as_env: z.string().regex(ENV_NAME).optional(),
          as_file: z.string().min(1).max(4_096).optional(),
        })
        .refine((value) => (value.as_env === undefined) !== (value.as_file === undefined), {
          message: 'give either as_env or as_file',
        }),
    )
    .max(64)
    .optional(),
  git_repos: z.array(z.unknown()).max(32).optional(),
  mounts: z.array(z.unknown()).max(32).optional(),
  copies: z.array(z.unknown()).max(32).optional(),
  provisioning_scripts: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(100),
        run: z.string().min(1).max(65_536),
        timeout_s: z.number().int().min(1).max(3_600).optional(),
      }),
    )
    .max(32)
    .optional(),
  agent: z.strictObject({ provider: z.enum(['none']) }).optional(),
});

export type SandboxSpecBody = z.infer<typeof sandboxSpec>;

export const listQuery = z.strictObject({
  /** `key=value,key2=value2`: sandboxes carrying all of these labels. */
  selector: z.string().max(2_000).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export type ListQuery = z.infer<typeof listQuery>;

export const bulkDeleteQuery = z.strictObject({ selector: z.string().min(1).max(2_000) });

export const execBody = z.strictObject({
  argv: z.array(z.string().max(131_072)).min(1).max(4_096),
  cwd: z.string().max(4_096).optional(),
  env: z
    .record(z.string().regex(ENV_NAME), z.string().max(32_768))
    .refine((value) => Object.keys(value).length <= 256, 'at most 256 variables')
    .optional(),
  timeout_s: z.number().int().min(1).max(86_400).optional(),
  stdin: z.string().max(16_777_216).optional(),
});

export type ExecBody = z.infer<typeof execBody>;

export const execQuery = z.strictObject({ wait: z.enum(['true', 'false']).optional() });

export const outputQuery = z.strictObject({
  stream: z.enum(['stdout', 'stderr']).default('stdout'),
  offset: z.coerce.number().int().min(0).default(0),
  length: z.coerce.number().int().min(1).max(67_108_864).optional(),
});

export type OutputQuery = z.infer<typeof outputQuery>;

/** `key=value,…` → labels; a malformed selector is a 400. */
export function parseSelector(selector: string | undefined): Record<string, string> | undefined {
  if (selector === undefined || selector.trim() === '') return {};
  const out: Record<string, string> = {};
  for (const part of selector.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim();
    if (!LABEL_KEY.test(key)) return undefined;
    out[key] = part.slice(eq + 1).trim();
  }
  return out;
}

/** `?after=N` resumes an event stream like `Last-Event-ID: N`. */
export const eventsQuery = z.strictObject({ after: z.string().optional() });

/** Where a follower of an exec's output starts (the bytes it already has). */
export const followQuery = z.strictObject({
  stdout_offset: z.coerce.number().int().min(0).default(0),
  stderr_offset: z.coerce.number().int().min(0).default(0),
});

export type FollowQuery = z.infer<typeof followQuery>;
