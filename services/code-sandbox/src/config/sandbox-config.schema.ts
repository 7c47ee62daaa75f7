import { isAbsolute, normalize } from 'node:path';

import { base64KeySetting, enumSetting, intSetting, secret, textSetting, urlSetting } from '@aibox/platform';
import { z } from 'zod';

import { isEgressHostPattern } from '../dtos/sandbox.dto.js';
import { parseGitHosts, type GitHost } from '../services/git-remote.js';
import { parsePoolSettings, type PoolSetting } from '../services/warm-pool.js';

/** Comma-separated absolute paths, normalized; empty entries are ignored, and an empty value is no path. */
function pathListSetting(): z.ZodType<readonly string[], string> {
  return z.string().transform((raw, ctx) => {
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    for (const [index, entry] of entries.entries()) {
      if (!isAbsolute(entry) || entry.includes('\0')) {
        ctx.addIssue({ code: 'custom', message: `entry ${index + 1} is not an absolute path` });
        return z.NEVER;
      }
    }
    return entries.map((entry) => normalize(entry).replace(/(.)\/+$/, '$1'));
  });
}

/** code-sandbox's own settings, merged into the platform's base settings. */
export const sandboxConfigSchema = z.object({
  /** AES-256-GCM key (base64 of 32 bytes) sealing credential values at rest; `make dev` generates one. */
  AIBOX_CREDENTIALS_KEY: secret(
    base64KeySetting()
      .refine((key) => key.length === 32, 'expected the base64 of 32 bytes')
      .optional(),
  ),
  /** The PostgreSQL schema of the service's tables. */
  SANDBOX_SQL_SCHEMA: textSetting()
    .refine((value) => /^[a-z_][a-z0-9_]{0,62}$/.test(value), 'must be a lower-case SQL identifier')
    .default('code_sandbox'),
  /** The runtime of a sandbox whose spec names none. */
  SANDBOX_DEFAULT_RUNTIME: enumSetting(['process', 'docker', 'gvisor'] as const).default('process'),
  /**
   * The warm pool: sandboxes kept made ahead, per runtime and image, as `runtime=size` (the default image)
   * or `runtime:image=size`, comma-separated, e.g. `process=4,docker=2`. Empty: every sandbox starts cold.
   */
  SANDBOX_POOL: z
    .string()
    .transform((raw, ctx): readonly PoolSetting[] => {
      const pools = parsePoolSettings(raw);
      if (typeof pools !== 'string') return pools;
      ctx.addIssue({ code: 'custom', message: pools });
      return z.NEVER;
    })
    .default([]),
  /** The whole provisioning pipeline of one sandbox may take this long. */
  SANDBOX_PIPELINE_TIMEOUT_S: intSetting(1, 3_600).default(300),
  /** Resources of a sandbox whose spec names none. */
  SANDBOX_DEFAULT_CPUS: z.string().transform(Number).pipe(z.number().positive().max(64)).default(1),
  SANDBOX_DEFAULT_MEMORY_MB: intSetting(16, 1_048_576).default(512),
  SANDBOX_DEFAULT_PIDS: intSetting(8, 65_536).default(256),
  SANDBOX_DEFAULT_DISK_MB: intSetting(1, 1_048_576).default(1_024),
  /** Per tenant: most live sandboxes (not failed or deleted), and the CPUs and memory they may hold together. */
  SANDBOX_QUOTA_SANDBOXES: intSetting(1, 100_000).default(50),
  SANDBOX_QUOTA_CPUS: intSetting(1, 100_000).default(32),
  SANDBOX_QUOTA_MEMORY_MB: intSetting(16, 100_000_000).default(65_536),
  /** Longest `?wait=true` of an exec; longer execs answer their state and run on. */
  SANDBOX_EXEC_WAIT_MAX_S: intSetting(1, 600).default(60),
  /** stdout / stderr bytes a `?wait=true` answer carries (the rest is read by offset). */
  SANDBOX_EXEC_OUTPUT_MAX_BYTES: intSetting(1_024, 67_108_864).default(1_048_576),
  /** Files API limits. */
  SANDBOX_FILE_READ_MAX_BYTES: intSetting(1_024, 1_073_741_824).default(8_388_608),
  SANDBOX_FILE_WRITE_MAX_BYTES: intSetting(1_024, 1_073_741_824).default(33_554_432),
  SANDBOX_ARCHIVE_MAX_BYTES: intSetting(1_024, 17_179_869_184).default(268_435_456),
  /** The largest file copied out as an artifact (S3 caps one object at 5 GiB). */
  SANDBOX_ARTIFACT_MAX_BYTES: intSetting(1, 5_368_709_120).default(268_435_456),
  /** Artifacts go to MinIO / any S3 when `S3_ENDPOINT` is set, else to files under the data dir. */
  S3_ENDPOINT: urlSetting(['http:', 'https:']).optional(),
  S3_ACCESS_KEY: secret(textSetting().optional()),
  S3_SECRET_KEY: secret(textSetting().optional()),
  S3_BUCKET: textSetting().default('aibox'),
  /**
   * Host directories under which a spec's `mounts` and `copies` may name sources (comma-separated absolute
   * paths). Empty: every mount and copy is refused. A denylist applies whatever these allow (README).
   */
  SANDBOX_MOUNT_ROOTS: pathListSetting().default([]),
  /** The most bytes of file content one sandbox's `copies` bring into its workspace together. */
  SANDBOX_COPY_MAX_BYTES: intSetting(1, 1_099_511_627_776).default(1_073_741_824),
  /** The image of a `docker` / `gvisor` sandbox that names none (`make sandbox-image` builds it). */
  SANDBOX_DEFAULT_IMAGE: textSetting().default('aibox/sandbox:latest'),
  /** The Docker Engine's socket, for the `docker` and `gvisor` runtimes. */
  SANDBOX_DOCKER_SOCKET: textSetting().default('/var/run/docker.sock'),
  /** The label namespace of this deployment's containers (`<label>.id`): recovery removes unknown ones. */
  SANDBOX_CONTAINER_LABEL: textSetting()
    .refine((value) => /^[a-z0-9][a-z0-9._-]{0,62}$/.test(value), 'must be a label key prefix')
    .default('aibox.sandbox'),
  /** bubblewrap, for the `process` runtime. */
  SANDBOX_BWRAP_PATH: textSetting().default('/usr/bin/bwrap'),
  /** The `process` runtime's cgroups live under this name in each hierarchy (one per deployment). */
  SANDBOX_CGROUP_PREFIX: textSetting()
    .refine((value) => /^[a-z0-9][a-z0-9_-]{0,62}$/.test(value), 'must be a simple directory name')
    .default('aibox-sandbox'),
  /**
   * Hosts `git_repos` may clone from, `host` (on the scheme's default port) or `host:port`, comma-separated;
   * http is allowed to these only. Empty: any https host whose resolved addresses are all public.
   */
  SANDBOX_GIT_ALLOWED_HOSTS: z
    .string()
    .transform((raw, ctx): readonly GitHost[] => {
      const hosts = parseGitHosts(raw);
      if (typeof hosts !== 'string') return hosts;
      ctx.addIssue({ code: 'custom', message: hosts });
      return z.NEVER;
    })
    .default([]),
  /** Bytes one repository's clone may download, and bytes it may write (objects and checkout). */
  SANDBOX_GIT_MAX_BYTES: intSetting(1_048_576, 68_719_476_736).default(1_073_741_824),
  /** One repository's clone; the pipeline's own timeout bounds it too. */
  SANDBOX_GIT_CLONE_TIMEOUT_S: intSetting(1, 3_600).default(300),
  /**
   * Hosts (`name` or `*.name`, comma-separated) the egress proxy connects to even when they resolve to
   * loopback, private or other non-public addresses; a sandbox must still allow them. Empty: none.
   */
  SANDBOX_EGRESS_PRIVATE_HOSTS: z
    .string()
    .transform((raw, ctx): readonly string[] => {
      const hosts = raw
        .split(',')
        .map((entry) => entry.trim().toLowerCase())
        .filter((entry) => entry !== '');
      const bad = hosts.findIndex((entry) => !isEgressHostPattern(entry));
      if (bad === -1) return hosts;
      ctx.addIssue({ code: 'custom', message: `entry ${bad + 1} is not a host name or *.name` });
      return z.NEVER;
    })
    .default([]),
  /** The ports the egress proxy connects to (comma-separated), for http and CONNECT alike. */
  SANDBOX_EGRESS_PORTS: z
    .string()
    .transform((raw, ctx): readonly number[] => {
      const entries = raw
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
      const ports = entries.map((entry) => (/^\d{1,5}$/.test(entry) ? Number(entry) : 0));
      const bad = ports.findIndex((port) => port < 1 || port > 65_535);
      if (bad === -1 && ports.length > 0) return ports;
      ctx.addIssue({
        code: 'custom',
        message: bad === -1 ? 'at least one port' : `entry ${bad + 1} is not a port (1-65535)`,
      });
      return z.NEVER;
    })
    .default([80, 443]),
});

export type SandboxConfigSchema = typeof sandboxConfigSchema;
