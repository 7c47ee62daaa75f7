import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  decodeErrorDetails,
  GRPC_STATUS_DETAILS_KEY,
  SandboxServiceClient,
  type CreateSandboxRequest,
  type CreateSandboxResponse,
  type DeleteSandboxResponse,
  type ExecRequest,
  type ExecResponse,
  type GetSandboxResponse,
  type Sandbox,
  type SandboxEvent,
  type SubscribeRequest,
  type SubscribeResponse,
} from '@aibox/contracts';
import { needs } from '@aibox/testing';

import { PROVISIONING_STEPS } from '../src/services/sandbox.service.js';
import { readSse, startSandboxService, type TestSandboxService, type Who } from './support/sandbox.js';

/**
 * `aibox.v1.SandboxService` through the generated grpc-js client, against the service with the `process`
 * runtime: the event stream in order and resumable, execs, the HTTP API's auth and error codes.
 */
const hasBubblewrap = await needs('bubblewrap');

const ADA: Who = { tid: 'default', uid: 'ada' };
const BOB: Who = { tid: 'default', uid: 'bob' };
const ADMIN: Who = { tid: 'default', uid: 'root', admin: true };

let sandboxes: TestSandboxService;
let client: SandboxServiceClient;

beforeAll(async () => {
  sandboxes = await startSandboxService();
  client = new SandboxServiceClient(sandboxes.grpcTarget, credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await sandboxes.close();
});

/** Who calls: a user with the metadata the mesh sends, or nobody (no metadata at all). */
function metadataOf(who: Who | undefined): Metadata {
  return who === undefined ? new Metadata() : sandboxes.metadata(who);
}

type Callback<Response> = (error: ServiceError | null, response: Response) => void;

/** A unary call as a promise: `start` makes the call with the callback it is given. */
function unary<Response>(start: (callback: Callback<Response>) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => {
    start((error, response) => {
      if (error === null) resolve(response);
      else reject(error);
    });
  });
}

const createSandbox = (who: Who | undefined, request: Partial<CreateSandboxRequest>): Promise<Sandbox> =>
  unary<CreateSandboxResponse>((done) =>
    client.createSandbox({ idempotencyKey: '', ...request }, metadataOf(who), done),
  ).then((response) => defined(response.sandbox));

const getSandbox = (who: Who | undefined, sandboxId: string, metadata = metadataOf(who)): Promise<Sandbox> =>
  unary<GetSandboxResponse>((done) => client.getSandbox({ sandboxId }, metadata, done)).then((response) =>
    defined(response.sandbox),
  );

const deleteSandbox = (who: Who | undefined, sandboxId: string): Promise<Sandbox> =>
  unary<DeleteSandboxResponse>((done) => client.deleteSandbox({ sandboxId }, metadataOf(who), done)).then(
    (response) => defined(response.sandbox),
  );

const exec = (
  who: Who | undefined,
  request: Partial<ExecRequest> & { sandboxId: string },
): Promise<ExecResponse> =>
  unary<ExecResponse>((done) =>
    client.exec(
      { argv: [], cwd: '', env: {}, timeoutS: 0, stdin: '', wait: false, ...request },
      metadataOf(who),
      done,
    ),
  );

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the response lacks its message');
  return value;
}

/** The status and the `ErrorInfo.reason` (the HTTP API's code) a call failed with. */
async function refusal(call: Promise<unknown>): Promise<{ code: status; reason: string | undefined }> {
  const error = await call.then(
    () => undefined,
    (failure: unknown) => failure as ServiceError,
  );
  if (error === undefined) throw new Error('the call succeeded');
  const [trailer] = error.metadata.get(GRPC_STATUS_DETAILS_KEY);
  const details = trailer instanceof Buffer ? decodeErrorDetails(trailer) : undefined;
  return { code: error.code, reason: details?.reason };
}

interface OpenSubscription {
  /** The next message of the stream; rejects with the call's error. */
  next(): Promise<SubscribeResponse>;
  /** The next messages until `until` accepts one (included). */
  until(until: (event: SandboxEvent) => boolean): Promise<SandboxEvent[]>;
  close(): void;
}

function subscribe(who: Who | undefined, request: SubscribeRequest): OpenSubscription {
  const call = client.subscribe(request, metadataOf(who));
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
  const next = async (): Promise<SubscribeResponse> => {
    const result = await messages.next();
    if (result.done === true) throw new Error('the stream ended');
    return result.value;
  };
  return {
    next,
    async until(until) {
      const events: SandboxEvent[] = [];
      for (;;) {
        const message = await next();
        if (message.item?.$case !== 'event') throw new Error(`expected an event, got ${message.item?.$case}`);
        events.push(message.item.value);
        if (until(message.item.value)) return events;
      }
    },
    close() {
      // Cancelling is how a client leaves; the CANCELLED status it causes is expected.
      call.on('error', () => undefined);
      call.cancel();
    },
  };
}

function snapshotOf(message: SubscribeResponse): { sandbox: Sandbox; seq: number } {
  if (message.item?.$case !== 'snapshot')
    throw new Error(`expected the snapshot, got ${message.item?.$case}`);
  return { sandbox: defined(message.item.value.sandbox), seq: message.item.value.seq };
}

const settled = (event: SandboxEvent): boolean =>
  event.type === 'state_changed' && ['ready', 'failed'].includes(String(event.data?.['state']));

describe.runIf(hasBubblewrap)('SandboxService over gRPC', () => {
  let id: string;
  /** Every event of the sandbox up to `ready`, from the first subscription. */
  let provisioning: SandboxEvent[];

  it('creates a sandbox idempotently and streams the snapshot, then every provisioning event in order', async () => {
    const key = `grpc-${Date.now()}`;
    const created = await createSandbox(ADA, {
      spec: { name: 'over-grpc', labels: { via: 'grpc' } },
      idempotencyKey: key,
    });
    expect(created).toMatchObject({
      name: 'over-grpc',
      state: 'pending',
      labels: { via: 'grpc' },
      runtime: 'process',
    });
    expect(created.spec?.['resources']).toMatchObject({ cpus: 1 });
    id = created.id;
    // The same key and spec: the same sandbox, not a second one.
    expect(
      (
        await createSandbox(ADA, {
          spec: { name: 'over-grpc', labels: { via: 'grpc' } },
          idempotencyKey: key,
        })
      ).id,
    ).toBe(id);
    expect(await refusal(createSandbox(ADA, { spec: { name: 'another' }, idempotencyKey: key }))).toEqual({
      code: status.ALREADY_EXISTS,
      reason: 'idempotency_conflict',
    });

    const stream = subscribe(ADA, { sandboxId: id, afterSeq: 0 });
    try {
      const snapshot = snapshotOf(await stream.next());
      expect(snapshot.sandbox.id).toBe(id);
      provisioning = await stream.until(settled);
    } finally {
      stream.close();
    }
    // Every event from the first, numbered 1, 2, 3…: no gap, no repeat.
    expect(provisioning.map((event) => event.seq)).toEqual(provisioning.map((_event, index) => index + 1));
    expect(provisioning.at(-1)?.data).toMatchObject({ state: 'ready' });
    expect(provisioning.at(-2)?.type).toBe('provisioning_complete');
    const started = provisioning.filter(
      (event) => event.type === 'provisioning_step' && event.data?.['status'] === 'started',
    );
    expect(started.map((event): unknown => event.data?.['step'])).toEqual([...PROVISIONING_STEPS]);

    // The same events as the HTTP event stream shows, field for field.
    const sse = await readSse(
      await fetch(`${sandboxes.url}/sandboxes/${id}/events`, { headers: sandboxes.headers(ADA) }),
      (event) => event.event === 'state_changed' && event.data['state'] === 'ready',
    );
    const all = sse.slice(1).map((event) => ({ seq: event.id, type: event.event, data: event.data }));
    expect(
      provisioning.map((event) => ({
        seq: event.seq,
        type: event.type,
        data: { ...event.data, seq: event.seq, at: event.at?.toISOString() },
      })),
    ).toEqual(all);
    expect((await getSandbox(ADA, id)).state).toBe('ready');
  });

  it('resumes after a sequence number with exactly the later events, then pushes new ones as they happen', async () => {
    const last = provisioning.at(-1)?.seq ?? 0;
    const stream = subscribe(ADA, { sandboxId: id, afterSeq: 5 });
    try {
      const snapshot = snapshotOf(await stream.next());
      expect(snapshot).toMatchObject({ seq: last, sandbox: { id, state: 'ready' } });
      const resumed = await stream.until((event) => event.seq === last);
      expect(resumed).toEqual(provisioning.filter((event) => event.seq > 5));

      const ran = await exec(ADA, { sandboxId: id, argv: ['echo', 'hi'], wait: true });
      expect(ran).toMatchObject({ status: 'exited', exitCode: 0, stdout: 'hi\n', stderr: '' });
      const live = await stream.until((event) => event.type === 'exec_ended');
      expect(live.map((event) => [event.seq, event.type])).toEqual([
        [last + 1, 'exec_started'],
        [last + 2, 'exec_ended'],
      ]);
      expect(live[0]?.data).toMatchObject({ exec_id: ran.id, argv: ['echo', 'hi'] });
    } finally {
      stream.close();
    }
  });

  it('starts an exec without waiting, reports it running, and pushes its end on the stream', async () => {
    const stream = subscribe(ADA, { sandboxId: id, afterSeq: 0 });
    try {
      const { seq } = snapshotOf(await stream.next());
      await stream.until((event) => event.seq === seq);
      const started = await exec(ADA, { sandboxId: id, argv: ['sh', '-c', 'sleep 0.2; exit 4'] });
      expect(started).toMatchObject({ status: 'running', stdout: '', stderr: '' });
      expect(started.exitCode).toBeUndefined();
      const ended = await stream.until((event) => event.type === 'exec_ended');
      expect(ended.at(-1)?.data).toEqual({ exec_id: started.id, status: 'exited', exit_code: 4 });
    } finally {
      stream.close();
    }

    const waited = await exec(ADA, {
      sandboxId: id,
      argv: ['sh', '-c', 'cat; echo "$GREETING" >&2; exit 3'],
      env: { GREETING: 'hello' },
      stdin: 'from stdin',
      wait: true,
    });
    expect(waited).toMatchObject({ status: 'exited', exitCode: 3, stdout: 'from stdin', stderr: 'hello\n' });
  });

  it("answers another user's sandbox like a missing one, and lets the tenant's admin see it", async () => {
    const unknown = { code: status.NOT_FOUND, reason: 'sandbox_unknown' };
    expect(await refusal(getSandbox(BOB, id))).toEqual(unknown);
    expect(await refusal(exec(BOB, { sandboxId: id, argv: ['true'], wait: true }))).toEqual(unknown);
    expect(await refusal(deleteSandbox(BOB, id))).toEqual(unknown);
    expect(await refusal(subscribe(BOB, { sandboxId: id, afterSeq: 0 }).next())).toEqual(unknown);
    expect(await refusal(getSandbox(ADA, '0190f5f4-0000-7000-8000-000000000000'))).toEqual(unknown);
    expect((await getSandbox(ADMIN, id)).id).toBe(id);
    expect(await refusal(getSandbox({ tid: 'other', uid: 'ada' }, id))).toEqual(unknown);
  });

  it('refuses a call without a principal, and one whose cap token lacks the capability', async () => {
    const anonymous = { code: status.UNAUTHENTICATED, reason: 'principal_invalid' };
    expect(await refusal(getSandbox(undefined, id))).toEqual(anonymous);
    expect(await refusal(createSandbox(undefined, {}))).toEqual(anonymous);
    expect(await refusal(subscribe(undefined, { sandboxId: id, afterSeq: 0 }).next())).toEqual(anonymous);

    const withoutCap = sandboxes.metadata(ADA);
    withoutCap.remove('aibox-cap-token');
    expect(await refusal(getSandbox(ADA, id, withoutCap))).toEqual({
      code: status.PERMISSION_DENIED,
      reason: 'capability_missing',
    });
  });

  it('refuses bad requests with INVALID_ARGUMENT and invalid_request', async () => {
    const invalid = { code: status.INVALID_ARGUMENT, reason: 'invalid_request' };
    expect(await refusal(exec(ADA, { sandboxId: id, wait: true }))).toEqual(invalid);
    expect(await refusal(exec(ADA, { sandboxId: id, argv: ['true'], cwd: 'x'.repeat(5_000) }))).toEqual(
      invalid,
    );
    expect(await refusal(getSandbox(ADA, 'not-a-uuid'))).toEqual(invalid);
    expect(await refusal(getSandbox(ADA, ''))).toEqual(invalid);
    expect(await refusal(subscribe(ADA, { sandboxId: id, afterSeq: -1 }).next())).toEqual(invalid);
    expect(await refusal(createSandbox(ADA, { spec: { unknown_field: true } }))).toEqual(invalid);
    expect(await refusal(createSandbox(ADA, { spec: { resources: { memory_mb: 'lots' } } }))).toEqual(
      invalid,
    );
    expect(await refusal(createSandbox(ADA, { idempotencyKey: 'with space' }))).toEqual(invalid);
    // A spec field the service cannot honour yet, as over HTTP.
    expect(await refusal(createSandbox(ADA, { spec: { image: 'debian:bookworm' } }))).toEqual({
      code: status.UNIMPLEMENTED,
      reason: 'feature_unavailable',
    });
  });

  it('deletes a sandbox, and a subscriber sees it through to deleted', async () => {
    const stream = subscribe(ADA, { sandboxId: id, afterSeq: 0 });
    try {
      const { seq } = snapshotOf(await stream.next());
      await stream.until((event) => event.seq === seq);
      expect(await deleteSandbox(ADA, id)).toMatchObject({ id, state: 'deleting' });
      const ending = await stream.until(
        (event) => event.type === 'state_changed' && event.data?.['state'] === 'deleted',
      );
      expect(ending[0]).toMatchObject({ seq: seq + 1, type: 'state_changed', data: { state: 'deleting' } });
    } finally {
      stream.close();
    }
    expect(await refusal(getSandbox(ADA, id))).toEqual({ code: status.NOT_FOUND, reason: 'sandbox_unknown' });
    // Its history stays readable, as over HTTP.
    const history = subscribe(ADA, { sandboxId: id, afterSeq: 0 });
    try {
      expect(snapshotOf(await history.next()).sandbox.state).toBe('deleted');
    } finally {
      history.close();
    }
  });
});
