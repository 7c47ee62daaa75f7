import { base64KeySetting, enumSetting, intSetting, secret, textSetting } from '@aibox/platform';
import { z } from 'zod';

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
});

export type SandboxConfigSchema = typeof sandboxConfigSchema;
