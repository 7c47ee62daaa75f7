import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HEADER, newTurnId } from '@aibox/identity';
import { needs } from '@aibox/testing';

import {
  Caller as AuditCaller,
  eventually,
  newAuditIdentity,
  removeIdentity,
  startAudit,
  turnEvent,
  type TestAudit,
} from '../../audit/test/support/audit.js';
import { startUpstream, USAGE, type Upstream } from './support/openai-upstream.js';
import { addProvider, MESH, setRole, startRouter, type TestRouter } from './support/router.js';

const HELLO = [{ role: 'user' as const, content: 'how much?' }];
/** USD per million tokens, and what one upstream answer (11 prompt of which 3 cached, 7 completion) costs. */
const PRICE = { input_per_mtok: 1, cached_input_per_mtok: 0.5, output_per_mtok: 2 };
const CALL_USD =
  ((USAGE.prompt_tokens - USAGE.cached_tokens) * 1 +
    USAGE.cached_tokens * 0.5 +
    USAGE.completion_tokens * 2) /
  1e6;

interface UsageRow {
  key: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
  ttft_ms_avg: number | null;
}

/**
 * Usage, prices and budgets — on embedded PGlite and on the machine's PostgreSQL, where usage rows sit behind
 * row-level security — and the turn events with captured bodies that a real audit service takes from the router.
 */
const ADAPTERS = ['pglite', ...((await needs('postgres')) ? ['postgres' as const] : [])] as const;

describe.each(ADAPTERS)('inference-router metering and audit on %s', (adapter) => {
  let audit: TestAudit;
  let router: TestRouter;
  let upstream: Upstream;

  beforeAll(async () => {
    audit = await startAudit(await newAuditIdentity('pglite'));
    upstream = await startUpstream();
    router = await startRouter({
      adapter,
      principalKeys: audit.identity.principalKeys,
      capKeys: audit.identity.capTokenKeys,
      env: { AUDIT_GRPC_URL: audit.grpcTarget },
    });
    await addProvider(router, { name: 'metered', base_url: upstream.url });
    await addProvider(router, { name: 'free', base_url: upstream.url });
    await setRole(router, 'default', ['metered/gpt-test']);
    await setRole(router, 'title', ['free/gpt-test']);
    const prices = await router.call('PUT', '/v1/internal/prices', {
      prices: [{ model: 'metered/gpt-test', ...PRICE }],
    });
    expect(prices.status).toBe(200);
  });
  afterAll(async () => {
    await router.close();
    await upstream.close();
    await audit.close();
    await removeIdentity(audit.identity);
  });

  it('records tokens, cost and time to first token per user and model, streamed or not', async () => {
    const carol = router.sdk({ ...MESH, uid: 'carol' });
    await carol.chat.completions.create({ model: 'default', messages: HELLO });
    const stream = await carol.chat.completions.create({ model: 'default', messages: HELLO, stream: true });
    for await (const _chunk of stream) {
      // drained
    }
    await carol.chat.completions.create({ model: 'title', messages: HELLO });

    const byModel = await router.call('GET', '/v1/internal/usage?group_by=model&user_id=carol');
    expect(byModel.status).toBe(200);
    const rows = byModel.json['rows'] as UsageRow[];
    const metered = rows.find((row) => row.key === 'metered/gpt-test');
    expect(metered).toMatchObject({
      requests: 2,
      errors: 0,
      prompt_tokens: 2 * USAGE.prompt_tokens,
      completion_tokens: 2 * USAGE.completion_tokens,
      cached_tokens: 2 * USAGE.cached_tokens,
      unpriced_requests: 0,
    });
    expect(metered?.cost_usd).toBeCloseTo(2 * CALL_USD, 12);
    expect(metered?.ttft_ms_avg).not.toBeNull();
    expect(rows.find((row) => row.key === 'free/gpt-test')).toMatchObject({
      requests: 1,
      cost_usd: 0,
      unpriced_requests: 1,
    });

    const byUser = await router.call('GET', '/v1/internal/usage?group_by=user');
    expect((byUser.json['rows'] as UsageRow[]).map((row) => row.key)).toContain('carol');
    expect(await router.call('GET', '/v1/internal/usage?group_by=nothing')).toMatchObject({ status: 400 });
  });

  it('refuses a model named with control characters, and later usage is still written', async () => {
    const gina = router.sdk({ ...MESH, uid: 'gina' });
    await expect(
      gina.chat.completions.create({ model: 'de\u0000fault', messages: HELLO }),
    ).rejects.toMatchObject({ code: 'model_unknown' });
    await gina.chat.completions.create({ model: 'default', messages: HELLO });
    const rows = (await router.call('GET', '/v1/internal/usage?group_by=user&user_id=gina')).json[
      'rows'
    ] as UsageRow[];
    expect(rows).toMatchObject([{ key: 'gina', requests: 1 }]);
  });

  it('counts a failed call as an error with no tokens', async () => {
    upstream.queue({ status: 500 }, { status: 500 }, { status: 500 });
    const dave = router.sdk({ ...MESH, uid: 'dave' });
    await expect(dave.chat.completions.create({ model: 'default', messages: HELLO })).rejects.toMatchObject({
      code: 'upstream_error',
    });
    const rows = (await router.call('GET', '/v1/internal/usage?group_by=user&user_id=dave')).json[
      'rows'
    ] as UsageRow[];
    expect(rows).toMatchObject([{ key: 'dave', requests: 1, errors: 1, prompt_tokens: 0, cost_usd: 0 }]);
  });

  it('refuses a user whose spend reached the budget, before the provider is called, until the budget rises', async () => {
    const erin = router.sdk({ ...MESH, uid: 'erin' });
    // Two calls fit under 2.5 calls' worth; the third starts below the limit and goes over; the fourth is refused.
    const limit = 2.5 * CALL_USD;
    expect(
      (await router.call('PUT', '/v1/internal/budgets/users/erin', { period: 'month', limit_usd: limit }))
        .status,
    ).toBe(200);
    for (let index = 0; index < 3; index += 1) {
      await erin.chat.completions.create({ model: 'default', messages: HELLO });
    }
    const before = upstream.calls.length;
    await expect(erin.chat.completions.create({ model: 'default', messages: HELLO })).rejects.toMatchObject({
      status: 402,
      code: 'budget_exceeded',
    });
    expect(upstream.calls.length).toBe(before);

    const budgets = (await router.call('GET', '/v1/internal/budgets')).json['budgets'] as {
      user_id: string | null;
      spent_usd: number;
      limit_usd: number;
    }[];
    const erinBudget = budgets.find((budget) => budget.user_id === 'erin');
    expect(erinBudget?.spent_usd).toBeCloseTo(3 * CALL_USD, 12);

    await router.call('PUT', '/v1/internal/budgets/users/erin', {
      period: 'month',
      limit_usd: 10 * CALL_USD,
    });
    await expect(erin.chat.completions.create({ model: 'default', messages: HELLO })).resolves.toBeDefined();
  });

  it('holds every user of a tenant to the tenant budget', async () => {
    await router.call('PUT', '/v1/internal/budgets/tenant', { period: 'day', limit_usd: 0 });
    await expect(
      router.sdk({ ...MESH, uid: 'frank' }).chat.completions.create({ model: 'default', messages: HELLO }),
    ).rejects.toMatchObject({ code: 'budget_exceeded' });
    expect((await router.call('DELETE', '/v1/internal/budgets/tenant')).status).toBe(204);
    expect(await router.call('DELETE', '/v1/internal/budgets/tenant')).toMatchObject({
      status: 404,
      json: { code: 'budget_not_found' },
    });
    await expect(
      router.sdk({ ...MESH, uid: 'frank' }).chat.completions.create({ model: 'default', messages: HELLO }),
    ).resolves.toBeDefined();
  });

  it('refuses malformed prices and budgets without changing them', async () => {
    for (const body of [
      { prices: [{ model: 'no-slash', input_per_mtok: 1, output_per_mtok: 1 }] },
      { prices: [{ model: 'metered/gpt-test', input_per_mtok: -1, output_per_mtok: 1 }] },
      { prices: [{ model: 'metered/gpt-test', input_per_mtok: 1, output_per_mtok: 1, extra: true }] },
      {
        prices: [
          { model: 'metered/gpt-test', input_per_mtok: 1, output_per_mtok: 1 },
          { model: 'metered/gpt-test', input_per_mtok: 2, output_per_mtok: 2 },
        ],
      },
    ]) {
      expect((await router.call('PUT', '/v1/internal/prices', body)).status, JSON.stringify(body)).toBe(400);
    }
    const prices = (await router.call('GET', '/v1/internal/prices')).json['prices'];
    expect(prices).toMatchObject([{ model: 'metered/gpt-test', ...PRICE }]);
    expect(
      (await router.call('PUT', '/v1/internal/budgets/users/x', { period: 'week', limit_usd: 1 })).status,
    ).toBe(400);
    expect(
      (await router.call('PUT', '/v1/internal/budgets/tenant', { period: 'day', limit_usd: -5 })).status,
    ).toBe(400);
    expect((await router.call('GET', '/v1/internal/prices', undefined, MESH)).status).toBe(403);
    // Control characters (PostgreSQL text holds no NUL) and dates that do not parse are the caller's fault.
    expect(
      (await router.call('PUT', '/v1/internal/budgets/users/%00', { period: 'day', limit_usd: 1 })).status,
    ).toBe(400);
    expect((await router.call('PUT', '/v1/internal/roles/title', { models: ['free/a\u0000b'] })).status).toBe(
      400,
    );
    expect((await router.call('GET', '/v1/internal/usage?from=yesterday')).status).toBe(400);
    expect(
      (await router.call('GET', '/v1/internal/usage?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'))
        .status,
    ).toBe(400);
  });

  it('sends model_invoked and model_response with the bodies to audit, sealed into the turn’s receipt', async () => {
    const turn = newTurnId();
    const who = { tid: MESH.tid, uid: MESH.uid };
    const client = router.sdk(MESH, { turn });
    const answer = await client.chat.completions.create({ model: 'default', messages: HELLO });
    expect(answer.choices[0]?.message.content).toBe('echo: how much?');

    const reader = new AuditCaller(audit, { ...who, roles: ['user'] });
    const replay = await eventually(async () => {
      const got = await reader.get(`/v1/audit/turns/${turn}/replay`);
      if (got.status !== 200) return undefined;
      const body = got.json<{
        events: {
          event: { type: string; service: string; attributes: Record<string, unknown> };
          artifacts: { kind: string; stored: boolean; url: string }[];
        }[];
      }>();
      const types = body.events.map((entry) => entry.event.type);
      const stored = body.events.every((entry) => entry.artifacts.every((artifact) => artifact.stored));
      return types.includes('model_response') && stored ? body : undefined;
    });
    const invoked = replay.events.find((entry) => entry.event.type === 'model_invoked');
    const responded = replay.events.find((entry) => entry.event.type === 'model_response');
    expect(invoked?.event.service).toBe('inference-router');
    expect(invoked?.event.attributes).toMatchObject({
      endpoint: 'chat.completions',
      requested_model: 'default',
      role: 'default',
    });
    expect(responded?.event.attributes).toMatchObject({
      outcome: 'ok',
      provider: 'metered',
      model: 'metered/gpt-test',
      usage: {
        prompt_tokens: USAGE.prompt_tokens,
        completion_tokens: USAGE.completion_tokens,
        cached_tokens: USAGE.cached_tokens,
      },
    });
    expect(responded?.event.attributes['cost_usd']).toBeCloseTo(CALL_USD, 12);

    const request = await reader.get(
      invoked?.artifacts.find((artifact) => artifact.kind === 'request')?.url ?? '',
    );
    expect(JSON.parse(request.text)).toMatchObject({ model: 'default', messages: HELLO });
    const response = await reader.get(
      responded?.artifacts.find((artifact) => artifact.kind === 'response')?.url ?? '',
    );
    expect(JSON.parse(response.text)).toMatchObject({
      choices: [{ message: { content: 'echo: how much?' } }],
    });

    // The turn's owner seals it; its receipt then covers the router's events.
    const sealer = new AuditCaller(audit, { ...who, service: true });
    await sealer.publish([turnEvent(who, turn, 'turn_sealed', { service: 'gateway' })]);
    const receipt = await eventually(async () => {
      const got = await reader.get(`/v1/receipts/${turn}`);
      return got.status === 200 ? got.json<{ envelope: { event_count: number } }>() : undefined;
    });
    expect(receipt.envelope.event_count).toBe(3);
  });

  it('publishes nothing for a call that names no turn', async () => {
    const turn = newTurnId();
    const headers = Object.fromEntries(
      Object.entries({ ...router.headers(MESH, turn), 'content-type': 'application/json' }).filter(
        ([name]) => name !== HEADER.turnId,
      ),
    );
    const response = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'default', messages: HELLO }),
    });
    expect(response.status).toBe(200);
    // Give the audit client more than its batch interval to send anything it would have.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reader = new AuditCaller(audit, { tid: MESH.tid, uid: MESH.uid, roles: ['user'] });
    expect((await reader.get(`/v1/audit/turns/${turn}/replay`)).status).toBe(404);
  });
});
