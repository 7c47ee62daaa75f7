import { cleanup, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders } from '../test-utils.js';
import { ReceiptBadge } from './ReceiptBadge.js';
import { createTestAuditor, type TestAuditor, type TestLog } from './test-proofs.js';
import { useVerifiedTokenCount } from './use-receipt.js';

const REMEMBERED = 'aibox.audit-checkpoint:aibox.local/audit/acme';
const GREW = 'The log only grew since this browser last checked it';
const REWRITTEN = 'the audit log was rewritten since this browser last checked it';

/** The audit service as the browser sees it: the log at its current size, proofs against its latest checkpoint. */
interface AuditServer {
  log: TestLog;
  size: number;
  keys: unknown;
}

/** One proof request: the turn and the `from_size` it asked for (null: none). */
interface ProofRequest {
  readonly turnId: string;
  readonly fromSize: string | null;
}

/**
 * Stubs the gateway in front of `server`, answering `?from_size=` as the audit service does: a consistency
 * proof from that size to its latest checkpoint, `400 query_invalid` for a size beyond it.
 */
function serve(server: AuditServer): { proofs: ProofRequest[]; keys: number } {
  const seen = { proofs: [] as ProofRequest[], keys: 0 };
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const url = new URL(input instanceof Request ? input.url : String(input), 'http://aibox.test');
    if (url.pathname === '/v1/me')
      return jsonResponse({ tid: 'acme', uid: 'ada', email: 'ada@example.com', roles: [] });
    if (url.pathname === '/v1/audit/keys') {
      seen.keys += 1;
      return jsonResponse(server.keys);
    }
    const turnId = /^\/v1\/receipts\/([^/]+)\/proof$/u.exec(url.pathname)?.[1];
    const index = Array.from({ length: server.size }, (_, at) => server.log.turnId(at)).indexOf(turnId ?? '');
    if (turnId === undefined || index < 0)
      return jsonResponse({ error: 'No such turn in your audit log', code: 'turn_unknown' }, 404);
    const fromSize = url.searchParams.get('from_size');
    seen.proofs.push({ turnId, fromSize });
    if (fromSize !== null && Number(fromSize) > server.size) {
      return jsonResponse(
        {
          error: 'Invalid query',
          code: 'query_invalid',
          detail: `from_size must be from 1 to ${server.size}`,
        },
        400,
      );
    }
    const proof = await server.log.proof(
      index,
      server.size,
      fromSize === null ? undefined : Number(fromSize),
    );
    return jsonResponse(proof);
  });
  return seen;
}

/** The answer's token count, read from the badge's verification as the chat shows it. */
function TokenCount({ turnId }: { turnId: string }) {
  const count = useVerifiedTokenCount(turnId);
  return count === undefined ? null : <span>{count.total} tokens</span>;
}

/** An answer as a new page load shows it: a fresh query cache, the same browser storage. */
async function openAnswer(log: TestLog, index: number, status: string | RegExp): Promise<HTMLElement> {
  cleanup();
  renderWithProviders(<ReceiptBadge turnId={log.turnId(index)} />);
  const badge = await screen.findByRole('button', { name: status });
  await userEvent.click(badge);
  return screen.findByRole('dialog', { name: 'Receipt' });
}

let auditor: TestAuditor;
let genuine: TestLog;
let rewritten: TestLog;

beforeAll(async () => {
  auditor = await createTestAuditor();
  genuine = await auditor.log(59);
  // The same keys, the same first 20 turns; from turn 20 on the history says something else.
  rewritten = await auditor.log(59, { rewrittenFrom: 20 });
});

beforeEach(() => {
  localStorage.clear();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the browser as a witness of the audit log', { timeout: 30_000 }, () => {
  it('remembers the checkpoint of the first receipt it verifies', async () => {
    const server = { log: genuine, size: 37, keys: auditor.keys };
    const seen = serve(server);

    const panel = await openAnswer(genuine, 5, 'Receipt: verified');
    expect(within(panel).getByText('index 5 in a log of 37')).toBeInTheDocument();
    // Nothing was remembered before: there was nothing to compare with.
    expect(within(panel).queryByText(new RegExp(GREW, 'u'))).not.toBeInTheDocument();
    expect(seen.proofs).toEqual([{ turnId: genuine.turnId(5), fromSize: null }]);
    expect(localStorage.getItem(REMEMBERED)).toBe((await genuine.proof(5, 37)).log.checkpoint);
  });

  it('proves a later receipt extends the log this browser saw before, and remembers the larger one', async () => {
    const server = { log: genuine, size: 37, keys: auditor.keys };
    const seen = serve(server);
    await openAnswer(genuine, 5, 'Receipt: verified');

    server.size = 59;
    const panel = await openAnswer(genuine, 50, 'Receipt: verified');
    expect(within(panel).getByText(GREW)).toHaveTextContent(`${GREW}: passed`);
    expect(within(panel).getByText('size 37 → 59')).toBeInTheDocument();
    expect(seen.proofs.at(-1)).toEqual({ turnId: genuine.turnId(50), fromSize: '37' });
    expect(localStorage.getItem(REMEMBERED)).toBe((await genuine.proof(50, 59)).log.checkpoint);
  });

  it('fails a receipt from a rewritten log signed by the same keys, and keeps failing the next ones', async () => {
    const server = { log: genuine, size: 37, keys: auditor.keys };
    serve(server);
    await openAnswer(genuine, 5, 'Receipt: verified');
    const remembered = localStorage.getItem(REMEMBERED);

    server.log = rewritten;
    server.size = 59;
    const panel = await openAnswer(rewritten, 50, `Receipt: failed, ${REWRITTEN}`);
    expect(within(panel).getByText(`Verification failed: ${REWRITTEN}.`)).toBeInTheDocument();
    expect(within(panel).getByText(GREW)).toHaveTextContent(`${GREW}: failed`);
    // The events and the signature are fine on their own: only the history betrays the rewrite.
    expect(within(panel).getByText('Checkpoint signature')).toHaveTextContent('Checkpoint signature: passed');

    expect(localStorage.getItem(REMEMBERED)).toBe(remembered);
    await openAnswer(rewritten, 3, `Receipt: failed, ${REWRITTEN}`);
  });

  it('fails a receipt from a log that shrank under the same keys', async () => {
    const server = { log: genuine, size: 37, keys: auditor.keys };
    const seen = serve(server);
    await openAnswer(genuine, 5, 'Receipt: verified');

    server.size = 12;
    const panel = await openAnswer(genuine, 5, `Receipt: failed, ${REWRITTEN}`);
    expect(within(panel).getByText('size 37 → 12')).toBeInTheDocument();
    // Refused ?from_size=37, the proof alone shows the log is smaller than the one this browser saw.
    expect(seen.proofs.slice(1)).toEqual([
      { turnId: genuine.turnId(5), fromSize: '37' },
      { turnId: genuine.turnId(5), fromSize: null },
    ]);
  });

  it('forgets a checkpoint signed by a key that is no longer published, and verifies without it', async () => {
    const server = { log: genuine, size: 37, keys: auditor.keys };
    const seen = serve(server);
    await openAnswer(genuine, 5, 'Receipt: verified');

    // The data dir was reset: new keys, a new log, smaller than the one this browser remembers.
    const reset = await createTestAuditor();
    const fresh = await reset.log(3);
    Object.assign(server, { log: fresh, size: 3, keys: reset.keys });
    const panel = await openAnswer(fresh, 1, 'Receipt: verified');
    expect(within(panel).queryByText(new RegExp(GREW, 'u'))).not.toBeInTheDocument();
    expect(seen.proofs.at(-1)).toEqual({ turnId: fresh.turnId(1), fromSize: null });
    expect(localStorage.getItem(REMEMBERED)).toBe((await fresh.proof(1, 3)).log.checkpoint);
  });

  it('still asks for one proof per answer when the badge and the token count share it', async () => {
    const server = { log: genuine, size: 37, keys: auditor.keys };
    const seen = serve(server);
    await openAnswer(genuine, 5, 'Receipt: verified');
    cleanup();

    server.size = 59;
    const answers = [40, 50].map((index) => genuine.turnId(index));
    renderWithProviders(
      <>
        {answers.map((turnId) => (
          <p key={turnId}>
            <ReceiptBadge turnId={turnId} />
            <TokenCount turnId={turnId} />
          </p>
        ))}
      </>,
    );
    await waitFor(() => {
      expect(screen.getAllByRole('button', { name: 'Receipt: verified' })).toHaveLength(2);
    });
    expect(screen.getAllByText('25 tokens')).toHaveLength(2);
    // One request each, with the remembered size (37, or 59 if the other answer was verified first).
    for (const turnId of answers) {
      const asked = seen.proofs.filter((request) => request.turnId === turnId);
      expect(asked).toHaveLength(1);
      expect(['37', '59']).toContain(asked[0]?.fromSize);
    }
    expect(seen.keys).toBe(2);
  });
});
