import { signNote, type ReceiptProof } from '@aibox/audit-proof';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { buildTenantLog, type TenantLog } from '../../../packages/audit-proof/test/support/tenant-log.js';
import { captureDownloads, renderWithProviders, type CapturedDownloads } from '../test-utils.js';
import { ReceiptBadge } from './ReceiptBadge.js';

type Json = Record<string, unknown>;
/** An answer of the stubbed gateway, given the request's query. */
type Answer = (query: URLSearchParams) => Response;

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** The proof as the audit service would send it: pretty-printed, so only the received bytes match it. */
function proofText(proof: unknown): string {
  return `${JSON.stringify(proof, null, 2)}\n`;
}

/**
 * The proof, sent as is; asked `?from_size=` (this browser remembers the log's checkpoint from an earlier
 * answer), with the consistency proof the audit service adds: empty, since these logs do not grow.
 */
function proofAnswer(text: string): Answer {
  return (query) => {
    const fromSize = query.get('from_size');
    let body = text;
    if (fromSize !== null) {
      const parsed = JSON.parse(text) as { log: { tree_size: number } };
      if (Number(fromSize) !== parsed.log.tree_size) throw new Error(`from_size ${fromSize} in a static log`);
      body = proofText({
        ...parsed,
        consistency: { from_size: Number(fromSize), to_size: parsed.log.tree_size, proof: [] },
      });
    }
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

const notSealed: Answer = () =>
  json({ error: 'the turn is not sealed yet', code: 'receipt_pending', turn_id: 'x' }, 404);

/**
 * Stubs the gateway: each path answers with its queue of answers in turn, the last one repeating. Returns the
 * paths requested, and the body of each answer (by path and query).
 */
function stubApi(routes: Record<string, Answer[]>): string[] & { bodies: Map<string, string> } {
  const requested = Object.assign([] as string[], { bodies: new Map<string, string>() });
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL) => {
      const url = new URL(input instanceof Request ? input.url : String(input), 'http://aibox.test');
      requested.push(url.pathname);
      const answers = routes[url.pathname];
      const answer = answers?.length === 1 ? answers[0] : answers?.shift();
      const response =
        answer === undefined
          ? json({ error: 'no such route', code: 'route_unknown' }, 404)
          : answer(url.searchParams);
      requested.bodies.set(`${url.pathname}${url.search}`, await response.clone().text());
      return response;
    }),
  );
  return requested;
}

/** jsdom's Blob has no arrayBuffer(); its FileReader reads it. */
function blobBytes(blob: Blob): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      resolve(Array.from(new Uint8Array(reader.result as ArrayBuffer)));
    };
    reader.onerror = () => {
      reject(reader.error ?? new Error('unreadable blob'));
    };
    reader.readAsArrayBuffer(blob);
  });
}

function entry<T>(list: readonly T[], index: number): T {
  const item = list[index];
  if (item === undefined) throw new Error(`no item ${index}`);
  return item;
}

/** A deep copy of a genuine proof with one thing changed. */
function tampered(proof: ReceiptProof, change: (copy: Json) => void): Json {
  const copy = JSON.parse(JSON.stringify(proof)) as Json;
  change(copy);
  return copy;
}

let log: TenantLog;
let otherSigner: TenantLog;
let proof: ReceiptProof;
let turnId: string;

beforeAll(async () => {
  log = await buildTenantLog(3);
  otherSigner = await buildTenantLog(1);
  proof = entry(log.proofs, 1);
  turnId = proof.turn_id;
});

const admin = { tid: 'acme', uid: 'ada', email: 'ada@example.com', roles: ['admin'] };
const member = { tid: 'acme', uid: 'bob', email: 'bob@example.com', roles: [] };

let downloads: CapturedDownloads;

beforeEach(() => {
  // Each test starts as a browser that has verified no receipt yet.
  localStorage.clear();
  downloads = captureDownloads();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  downloads.restore();
});

async function openPanel(badgeName: string | RegExp): Promise<HTMLElement> {
  const badge = await screen.findByRole('button', { name: badgeName });
  await userEvent.click(badge);
  return screen.findByRole('dialog', { name: 'Receipt' });
}

// Rendering the drawer in jsdom is slow on a loaded machine; the default 5 s is not about the UI.
describe('ReceiptBadge', { timeout: 20_000 }, () => {
  it('verifies a genuine proof in the browser, shows its events and downloads the exact bytes received', async () => {
    const text = proofText(proof);
    const requested = stubApi({
      [`/v1/receipts/${turnId}/proof`]: [proofAnswer(text)],
      [`/v1/receipts/${entry(log.proofs, 0).turn_id}/proof`]: [proofAnswer(proofText(entry(log.proofs, 0)))],
      '/v1/audit/keys': [() => json(log.keys)],
      '/v1/me': [() => json(admin)],
    });
    renderWithProviders(
      <>
        <ReceiptBadge turnId={turnId} />
        <ReceiptBadge turnId={entry(log.proofs, 0).turn_id} />
      </>,
    );

    await waitFor(() => {
      expect(screen.getAllByRole('button', { name: 'Receipt: verified' })).toHaveLength(2);
    });
    const badges = screen.getAllByRole('button', { name: 'Receipt: verified' });
    expect(requested.filter((url) => url === '/v1/audit/keys')).toHaveLength(1);

    await userEvent.click(entry(badges, 0));
    const panel = await screen.findByRole('dialog', { name: 'Receipt' });
    expect(
      within(panel).getByText(/^Verified in your browser: 3 events of this answer are sealed/u),
    ).toHaveTextContent('signed by aibox.local/audit');
    expect(within(panel).getByText(/Each of the 3 events is included in the turn/u)).toHaveTextContent(
      'passed',
    );
    expect(within(panel).getByText(/Checkpoint signature/u)).toHaveTextContent('passed');
    expect(
      within(panel).getByText(
        new RegExp(`signed by aibox\\.local/audit \\(key ${entry(log.keys.keys, 0).kid}\\)`, 'u'),
      ),
    ).toBeInTheDocument();
    for (const label of ['Turn started', 'Model called', 'Turn sealed'])
      expect(within(panel).getByText(label)).toBeInTheDocument();
    expect(within(panel).getByText(proof.envelope.merkle_root)).toBeInTheDocument();
    expect(within(panel).getByText('aibox.local/audit/acme')).toBeInTheDocument();
    expect(within(panel).getByText('index 1 in a log of 3')).toBeInTheDocument();
    expect(within(panel).getByRole('link', { name: 'Open in audit' })).toHaveAttribute(
      'href',
      `/admin/audit/turns/${turnId}`,
    );

    await userEvent.click(within(panel).getByRole('button', { name: 'Download proof JSON' }));
    expect(downloads.names).toEqual([`receipt-${turnId}.json`]);
    const saved = entry(downloads.blobs, 0);
    expect(saved.type).toBe('application/json');
    // The bytes as sent: the pretty-printed proof, with the consistency proof the audit service adds when the
    // other answer verified first and this browser asked for one.
    const asked = [...requested.bodies.keys()].find((url) => url.startsWith(`/v1/receipts/${turnId}/proof`));
    const sent =
      asked === `/v1/receipts/${turnId}/proof?from_size=3`
        ? proofText({ ...proof, consistency: { from_size: 3, to_size: 3, proof: [] } })
        : text;
    expect(requested.bodies.get(asked ?? '')).toBe(sent);
    expect(await blobBytes(saved)).toEqual(Array.from(new TextEncoder().encode(sent)));
  });

  it.each([
    {
      tampering: 'one event attribute changed',
      change: (copy: Json) => {
        const events = copy['events'] as { event: { attributes: Json } }[];
        entry(events, 1).event.attributes['note'] = 'rewritten after the fact';
      },
      keys: () => log.keys,
      check: 'an event does not match its recorded hash',
      step: 'Each of the 3 events is included in the turn',
    },
    {
      tampering: 'a changed Merkle root',
      change: (copy: Json) => {
        (copy['envelope'] as Json)['merkle_root'] = 'ab'.repeat(32);
      },
      keys: () => log.keys,
      check: "an event is not included in the turn's Merkle root",
      step: 'Each of the 3 events is included in the turn',
    },
    {
      tampering: 'a bad checkpoint signature',
      change: () => undefined,
      keys: () => log.keys,
      check: 'the checkpoint signature is invalid',
      step: 'Checkpoint signature',
      forgeSignature: true,
    },
    {
      tampering: 'keys from another signer',
      change: () => undefined,
      keys: () => otherSigner.keys,
      check: 'the checkpoint is not signed by a known audit key',
      step: 'Checkpoint signature',
    },
  ])(
    'names the failing check of a proof with $tampering',
    async ({ change, keys, check, step, forgeSignature }) => {
      const copy = tampered(proof, change);
      if (forgeSignature === true) {
        // A signature by the genuine key, over other text: known key, signature that does not verify.
        const note = proof.log.checkpoint;
        const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
        const other = await signNote(`${body}forged\n`, [log.signer]);
        (copy['log'] as Json)['checkpoint'] = `${body}\n${other.slice(other.lastIndexOf('\n\n') + 2)}`;
      }
      stubApi({
        [`/v1/receipts/${turnId}/proof`]: [proofAnswer(proofText(copy))],
        '/v1/audit/keys': [() => json(keys())],
        '/v1/me': [() => json(member)],
      });
      renderWithProviders(<ReceiptBadge turnId={turnId} />);

      const panel = await openPanel(`Receipt: failed, ${check}`);
      expect(within(panel).getByText(`Verification failed: ${check}.`)).toBeInTheDocument();
      expect(within(panel).getByText(step)).toHaveTextContent(`${step}: failed`);
      expect(within(panel).getByText(/they could not be verified/u)).toBeInTheDocument();
      expect(within(panel).queryByRole('link', { name: 'Open in audit' })).not.toBeInTheDocument();
      expect(within(panel).getByRole('button', { name: 'Download proof JSON' })).toBeInTheDocument();
    },
  );

  it('fetches the keys again when a later checkpoint is signed by a key published after they were cached', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const rotated = entry(log.proofs, 2);
    const note = rotated.log.checkpoint;
    const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
    const resigned = await signNote(body, [otherSigner.signer]);
    const requested = stubApi({
      [`/v1/receipts/${entry(log.proofs, 0).turn_id}/proof`]: [proofAnswer(proofText(entry(log.proofs, 0)))],
      [`/v1/receipts/${rotated.turn_id}/proof`]: [
        proofAnswer(proofText({ ...rotated, log: { ...rotated.log, checkpoint: resigned } })),
      ],
      '/v1/audit/keys': [
        () => json(log.keys),
        () => json({ keys: [...log.keys.keys, ...otherSigner.keys.keys] }),
      ],
      '/v1/me': [() => json(member)],
    });
    function LaterAnswer() {
      const [shown, setShown] = useState(false);
      return shown ? (
        <ReceiptBadge turnId={rotated.turn_id} />
      ) : (
        <button
          type="button"
          onClick={() => {
            setShown(true);
          }}
        >
          Next answer
        </button>
      );
    }
    renderWithProviders(
      <>
        <ReceiptBadge turnId={entry(log.proofs, 0).turn_id} />
        <LaterAnswer />
      </>,
    );
    expect(await screen.findByRole('button', { name: 'Receipt: verified' })).toBeInTheDocument();

    vi.setSystemTime(Date.now() + 60_000);
    await userEvent.click(screen.getByRole('button', { name: 'Next answer' }));

    await waitFor(() => {
      expect(screen.getAllByRole('button', { name: 'Receipt: verified' })).toHaveLength(2);
    });
    expect(requested.filter((url) => url === '/v1/audit/keys')).toHaveLength(2);
  });

  it('shows sealing while the turn is not sealed, then verifies the proof once it is', async () => {
    const requested = stubApi({
      [`/v1/receipts/${turnId}/proof`]: [notSealed, notSealed, proofAnswer(proofText(proof))],
      '/v1/audit/keys': [() => json(log.keys)],
      '/v1/me': [() => json(member)],
    });
    renderWithProviders(<ReceiptBadge turnId={turnId} />);

    expect(await screen.findByRole('button', { name: 'Receipt: sealing' })).toBeInTheDocument();
    expect(await screen.findByRole('button', { name: 'Receipt: verified' })).toBeInTheDocument();
    expect(requested.filter((url) => url.startsWith('/v1/receipts/'))).toHaveLength(3);
  });

  it('is unavailable with the error sentence when the keys cannot be fetched, and verifies on retry', async () => {
    stubApi({
      [`/v1/receipts/${turnId}/proof`]: [proofAnswer(proofText(proof))],
      '/v1/audit/keys': [
        () => json({ error: 'audit is unavailable', code: 'backend_unavailable' }, 503),
        () => json(log.keys),
      ],
      '/v1/me': [() => json(member)],
    });
    renderWithProviders(<ReceiptBadge turnId={turnId} />);

    const panel = await openPanel('Receipt: unavailable');
    expect(within(panel).getByRole('alert')).toHaveTextContent(
      'A part of aibox is not reachable right now. Try again in a moment.',
    );

    await userEvent.click(within(panel).getByRole('button', { name: 'Try again' }));
    expect(await within(panel).findByText(/^Verified in your browser/u)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Receipt: verified', hidden: true })).toBeInTheDocument();
  });
});
