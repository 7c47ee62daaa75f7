import { intSetting, keySetSetting, secret, textSetting, urlSetting } from '@aibox/platform';
import { z } from 'zod';

/** The audit service's own settings, merged into the platform's base settings. */
export const auditConfigSchema = z.object({
  /**
   * Ed25519 note-signing keys as a key set, `kid=base64(32-byte seed),…`: the first signs checkpoints,
   * every one stays published in `GET /v1/audit/keys` so older checkpoints keep verifying after a rotation.
   */
  AUDIT_SIGNING_KEYS: secret(keySetSetting().optional()),
  /** The log's name: checkpoints of tenant `t` carry the origin `<AUDIT_LOG_ORIGIN>/t`; also the note key name. */
  AUDIT_LOG_ORIGIN: textSetting().default('aibox.local/audit'),
  /** A turn with no event for this long is sealed as it is. */
  AUDIT_SEAL_IDLE_S: intSetting(1, 86_400).default(30),
  /** At most one checkpoint per tenant per this many milliseconds; sealed turns wait for the next one. */
  AUDIT_CHECKPOINT_MS: intSetting(10, 60_000).default(250),
  /** The largest event accepted, as canonical JSON. */
  AUDIT_MAX_EVENT_BYTES: intSetting(1_024, 4 * 1024 * 1024).default(262_144),
  /** The most events one turn may hold (besides its closing event): proofs and replays stay bounded. */
  AUDIT_MAX_TURN_EVENTS: intSetting(2, 1_000_000).default(10_000),
  /** The most events one `Publish` may carry. */
  AUDIT_MAX_BATCH_EVENTS: intSetting(1, 10_000).default(1_000),
  /** The PostgreSQL schema of the audit tables: several audit deployments can share one database. */
  AUDIT_SQL_SCHEMA: textSetting()
    .refine((value) => /^[a-z_][a-z0-9_]{0,62}$/.test(value), 'must be a lower-case SQL identifier')
    .default('audit'),
  S3_ENDPOINT: urlSetting(['http:', 'https:']).optional(),
  S3_ACCESS_KEY: secret(textSetting().optional()),
  S3_SECRET_KEY: secret(textSetting().optional()),
  S3_BUCKET: textSetting().default('aibox'),
});

export type AuditConfigSchema = typeof auditConfigSchema;
