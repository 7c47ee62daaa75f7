import { join, resolve } from 'node:path';

import {
  auditJwk,
  noteSignerFromSeed,
  noteVerifiersFromJwks,
  type AuditJwk,
  type NoteSigner,
  type NoteVerifier,
} from '@aibox/audit-proof';
import { ConfigError, type Closeables, type Logger, type PlatformConfig } from '@aibox/platform';
import { openObjectStore, openSqlStore, type SqlStore } from '@aibox/stores';

import type { AuditConfigSchema } from '../config/audit-config.schema.js';
import { AUDIT_MIGRATIONS, type AuditTables } from '../repositories/audit-schema.js';
import { EventRepository } from '../repositories/event.repository.js';
import { LogRepository } from '../repositories/log.repository.js';
import { ArtifactService } from './artifact.service.js';
import { IngestService } from './ingest.service.js';
import { LogVerifier } from './log-verifier.service.js';
import { ReceiptService } from './receipt.service.js';
import { Sealer } from './sealer.service.js';
import { TurnListing } from './turn-listing.service.js';

export type AuditConfig = PlatformConfig<AuditConfigSchema>;

/** Largest captured body accepted by `PutArtifact`. */
const MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
const ED25519_SEED_BYTES = 32;

/** Everything the audit service runs on, built once at boot. */
export interface AuditRuntime {
  readonly sql: SqlStore<AuditTables>;
  readonly ingest: IngestService;
  readonly artifacts: ArtifactService;
  readonly receipts: ReceiptService;
  readonly listing: TurnListing;
  readonly verifier: LogVerifier;
  readonly sealer: Sealer;
}

/** The note signers of `AUDIT_SIGNING_KEYS` (first one signs) and the JWKS publishing all of them. */
export async function loadSigningKeys(
  config: Pick<AuditConfig, 'AUDIT_SIGNING_KEYS' | 'AUDIT_LOG_ORIGIN'>,
): Promise<{ signer: NoteSigner; jwks: AuditJwk[]; verifiers: NoteVerifier[] }> {
  const keySet = config.AUDIT_SIGNING_KEYS;
  if (keySet === undefined) {
    throw new ConfigError(
      'AUDIT_SIGNING_KEYS',
      'is required: kid=base64 of a 32-byte Ed25519 seed',
      'invalid',
    );
  }
  const signers: NoteSigner[] = [];
  const ordered = [keySet.signingKid, ...[...keySet.keys.keys()].filter((kid) => kid !== keySet.signingKid)];
  for (const kid of ordered) {
    const seed = keySet.keys.get(kid);
    if (seed?.length !== ED25519_SEED_BYTES) {
      throw new ConfigError(
        'AUDIT_SIGNING_KEYS',
        `key ${kid} is not ${ED25519_SEED_BYTES} bytes (an Ed25519 seed)`,
        'invalid',
      );
    }
    signers.push(await noteSignerFromSeed(config.AUDIT_LOG_ORIGIN, new Uint8Array(seed)));
  }
  const [signer] = signers;
  if (signer === undefined) throw new ConfigError('AUDIT_SIGNING_KEYS', 'holds no key', 'invalid');
  const jwks = await Promise.all(signers.map((each) => auditJwk(each.name, each.publicKey)));
  return { signer, jwks, verifiers: await noteVerifiersFromJwks({ keys: jwks }) };
}

/** Opens the stores, applies migrations, builds the services and starts the sealer. */
export async function createAuditRuntime(
  config: AuditConfig,
  logger: Logger,
  closeables: Closeables,
): Promise<AuditRuntime> {
  if (config.AUDIT_LOG_ORIGIN.includes('\n') || config.AUDIT_LOG_ORIGIN.trim() !== config.AUDIT_LOG_ORIGIN) {
    throw new ConfigError('AUDIT_LOG_ORIGIN', 'must be one line without surrounding spaces', 'invalid');
  }
  const keys = await loadSigningKeys(config);
  const dataDir = resolve(config.AIBOX_DATA_DIR, 'audit');
  const sql = closeables.add(
    'sql',
    await openSqlStore<AuditTables>({
      service: 'audit',
      schema: config.AUDIT_SQL_SCHEMA,
      ...(config.DATABASE_URL === undefined
        ? { dataDir: join(dataDir, 'pglite') }
        : { databaseUrl: config.DATABASE_URL }),
    }),
  );
  await sql.migrate(AUDIT_MIGRATIONS);
  const objects = closeables.add(
    'objects',
    await openObjectStore({
      service: 'audit',
      ...(config.S3_ENDPOINT === undefined
        ? { dataDir: join(dataDir, 'objects') }
        : {
            s3: {
              endpoint: config.S3_ENDPOINT,
              accessKey: config.S3_ACCESS_KEY ?? '',
              secretKey: config.S3_SECRET_KEY ?? '',
              bucket: config.S3_BUCKET,
            },
          }),
    }),
  );

  const log = new LogRepository(sql, () => keys.signer, config.AUDIT_LOG_ORIGIN);
  const sealer = new Sealer(sql, log, { checkpointMs: config.AUDIT_CHECKPOINT_MS }, logger);
  const ingest = new IngestService(
    new EventRepository(sql, config.AUDIT_SEAL_IDLE_S * 1000, config.AUDIT_MAX_TURN_EVENTS),
    {
      maxEventBytes: config.AUDIT_MAX_EVENT_BYTES,
      maxBatchEvents: config.AUDIT_MAX_BATCH_EVENTS,
      onSealRequested: (tenantId) => {
        sealer.nudge(tenantId);
      },
    },
  );
  // Closed before the stores (closeables close newest first): a pass in flight finishes.
  closeables.add('sealer', sealer);
  sealer.start();
  return {
    sql,
    ingest,
    artifacts: new ArtifactService(objects, sql, MAX_ARTIFACT_BYTES),
    receipts: new ReceiptService(sql, () => Promise.resolve(keys.jwks)),
    listing: new TurnListing(sql),
    verifier: new LogVerifier(sql, () => Promise.resolve(keys.verifiers), config.AUDIT_LOG_ORIGIN),
    sealer,
  };
}
