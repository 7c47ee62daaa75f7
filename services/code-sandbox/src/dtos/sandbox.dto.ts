import { z } from 'zod';

const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** One name of a path inside the sandbox: no `.` or `..`, nothing hidden, nothing a shell would mangle. */
const INSIDE_NAME = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}';
/** Where a mount appears: `/mnt/<name>[/<name>…]`, never over the system, `/workspace` or `/.aibox`. */
export const MOUNT_TARGET = new RegExp(`^/mnt(/${INSIDE_NAME}){1,16}$`);
/** Where a credential file appears: a bare name, or the same under `/run/secrets/`. */
export const CREDENTIAL_FILE = new RegExp(`^(/run/secrets/)?(${INSIDE_NAME})$`);
/** Where credential files live inside the sandbox (a read-only directory). */
export const CREDENTIAL_FILES_DIR = '/run/secrets';

const hostPath = z.string().min(1).max(4_096);

/** The file a credential's `as_file` names, as `/run/secrets/<name>`. */
export function credentialFilePath(asFile: string): string {
  return `${CREDENTIAL_FILES_DIR}/${asFile.slice(asFile.lastIndexOf('/') + 1)}`;
}

/** Whether `inner` is `outer` or lies below it (both absolute, normalized). */
function within(outer: string, inner: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`);
}

export const labels = z
  .record(z.string().regex(LABEL_KEY), z.string().max(200))
  .refine((value) => Object.keys(value).length <= 32, 'at most 32 labels');

/** Control characters and the characters git refuses in a ref name. */
const REF_FORBIDDEN = /[\p{Cc}\s~^:?*[\\]/u;

/**
 * A branch name git would take (`git check-ref-format --branch`, in short): no control characters, spaces or
 * `~^:?*[\`; no `..`, `@{` or `//`; not `@`; no part starting with `.` or ending with `.lock`; not starting
 * with `-` or `/`, nor ending with `/` or `.`.
 */
export function isBranchName(name: string): boolean {
  if (name === '' || name === '@' || name.length > 255 || REF_FORBIDDEN.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  if (name.startsWith('-') || name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  return name.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * A path in the workspace, relative to it (`/workspace/…` is taken too): at least one name, no `..`, no
 * control characters, each name at most 255 bytes.
 */
export function isWorkspacePath(path: string): boolean {
  if (path.length > 1_024 || /\p{Cc}/u.test(path)) return false;
  const relative = path.startsWith('/workspace/') ? path.slice('/workspace/'.length) : path;
  if (relative.startsWith('/')) return false;
  const segments = relative.split('/').filter((segment) => segment !== '' && segment !== '.');
  return (
    segments.length > 0 &&
    !segments.includes('..') &&
    segments.every((segment) => Buffer.byteLength(segment) <= 255)
  );
}

/** A git remote as a spec names it: https (or http to an allowlisted host), no credentials, query or fragment. */
const gitUrl = z
  .string()
  .max(2_048)
  .superRefine((raw, ctx) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not an absolute URL' });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: 'only https (or http to an allowed host) git URLs are taken' });
    } else if (url.username !== '' || url.password !== '') {
      ctx.addIssue({
        code: 'custom',
        message: 'no credentials in the URL; name a stored credential instead',
      });
    } else if (url.search !== '' || url.hash !== '' || raw.includes('#') || raw.includes('?')) {
      ctx.addIssue({ code: 'custom', message: 'a git URL has no query or fragment' });
    }
  });

export const gitRepo = z.strictObject({
  url: gitUrl,
  /** Default: the remote's HEAD. */
  branch: z.string().refine(isBranchName, 'not a valid branch name').optional(),
  /** A shallow clone of this many commits. */
  depth: z.number().int().min(1).max(1_000_000).optional(),
  /** Where in the workspace; default the repository's name. */
  dest: z.string().refine(isWorkspacePath, 'a relative workspace path without ".."').optional(),
  /** One of the owner's stored credentials: its value is the HTTP password (a token). */
  credential: z.uuid().optional(),
  /** The HTTP user name sent with the credential; default `x-access-token`. */
  username: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[^:\p{Cc}]+$/u, 'no colon or control characters')
    .optional(),
});

export type GitRepoBody = z.infer<typeof gitRepo>;

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * An egress allowlist entry: a DNS name (letters, digits and `-` in labels of at most 63, 253 in all; an
 * internationalized name in its `xn--` form), or `*.` and one, meaning any name below it. No scheme, port,
 * path or IP address; a name ending in a numeric label is an IPv4 address to URL parsers, so it is refused.
 */
export function isEgressHostPattern(entry: string): boolean {
  const name = entry.startsWith('*.') ? entry.slice(2) : entry;
  if (name === '' || name.length > 253) return false;
  const names = name.split('.');
  const last = names.at(-1) ?? '';
  return names.every((label) => DNS_LABEL.test(label)) && !/^(\d+|0x[0-9a-f]*)$/.test(last);
}

/** Where a sandbox's programs may reach over HTTP(S), lower-cased; at most 64 entries. */
const egressAllow = z
  .array(
    z
      .string()
      .max(255)
      .toLowerCase()
      .refine(
        isEgressHostPattern,
        'a host name like api.example.com, or *.example.com; no port or IP address',
      ),
  )
  .min(1)
  .max(64);

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
      allow: egressAllow.optional(),
    })
    .superRefine((value, ctx) => {
      if (value.mode === 'egress' && value.allow === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['allow'],
          message: 'egress needs allow: the hosts programs may reach',
        });
      }
      if (value.mode === 'none' && value.allow !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['allow'], message: 'allow is for mode egress only' });
      }
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
          as_file: z.string().regex(CREDENTIAL_FILE, 'a file name, or /run/secrets/<name>').optional(),
        })
        .refine((value) => (value.as_env === undefined) !== (value.as_file === undefined), {
          message: 'give either as_env or as_file',
        }),
    )
    .max(64)
    .refine(
      (value) => {
        const files = value.flatMap((credential) =>
          credential.as_file === undefined ? [] : [credentialFilePath(credential.as_file)],
        );
        return new Set(files).size === files.length;
      },
      { message: 'two credentials name the same file' },
    )
    .optional(),
  git_repos: z.array(gitRepo).max(32).optional(),
  mounts: z
    .array(
      z.strictObject({
        /** A host directory under SANDBOX_MOUNT_ROOTS. */
        source: hostPath,
        target: z.string().regex(MOUNT_TARGET, 'a path under /mnt/, like /mnt/data'),
        writable: z.boolean().optional(),
      }),
    )
    .max(32)
    .refine(
      (value) =>
        value.every((mount, index) =>
          value.every(
            (other, at) =>
              at === index || !(within(mount.target, other.target) || within(other.target, mount.target)),
          ),
        ),
      { message: 'two mounts have the same target, or one lies inside the other' },
    )
    .optional(),
  copies: z
    .array(
      z.strictObject({
        /** A host file or directory under SANDBOX_MOUNT_ROOTS. */
        source: hostPath,
        /** A workspace path: the directory the source's contents go into, or the file a file becomes. */
        target: z.string().min(1).max(4_096),
        /** Glob patterns matched against paths relative to `source`; what matches is not copied. */
        exclude: z.array(z.string().min(1).max(1_024)).max(256).optional(),
      }),
    )
    .max(32)
    .optional(),
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
