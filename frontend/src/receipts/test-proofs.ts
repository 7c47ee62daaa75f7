import {
  createTestAuditor as createAuditor,
  type TenantLog,
  type TestAuditor,
  type TurnEventSpec,
} from '../../../packages/audit-proof/test/support/tenant-log.js';

export type { TestAuditor, TurnEventSpec };
export type TestLog = TenantLog;

/** A chat turn: the gateway starts it, and it is sealed with the 25 tokens the page shows for it. */
const chatTurn: readonly TurnEventSpec[] = [
  { type: 'turn_started', service: 'gateway' },
  { type: 'turn_sealed', attributes: { status: 'done', said: 'the answer', total_tokens: 25 } },
];

/**
 * The audit-proof package's test auditor, whose logs are of chat turns unless a test chooses their events:
 * receipt proofs built the way the audit service builds them, with `@aibox/audit-proof`'s own functions.
 */
export async function createTestAuditor(): Promise<TestAuditor> {
  const auditor = await createAuditor();
  return { ...auditor, log: (turns, options) => auditor.log(turns, { events: () => chatTurn, ...options }) };
}
