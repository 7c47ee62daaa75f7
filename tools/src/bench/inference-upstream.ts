import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import { serveUpstream } from './upstream-process.js';

/**
 * The rest of the mesh for the `inference-router` benchmark, in its own process so that the load generator
 * does not share its event loop:
 *
 * - an OpenAI-compatible provider: `GET /v1/models` lists `bench-model`; `POST /v1/chat/completions` answers
 *   a small chat completion, or with `stream: true` {@link STREAM_CHUNKS} (or `--chunks`)
 *   `chat.completion.chunk` events (one token each, each its own write), a usage chunk when asked, then
 *   `data: [DONE]`. Streams are paced {@link GAP_MS} ms apart (`setTimeout`), or back to back (one event-loop
 *   turn apart) when the request's `metadata.pacing` is `none` (or with `--unpaced`). Every token chunk
 *   carries `bench_sent_ns`, the `process.hrtime` (the machine's monotonic clock, the same in every process)
 *   at which it was written, so that a client can tell how long each chunk took to reach it;
 * - a gRPC `TurnEventService` that accepts every turn event and stores no artifact body but answers each
 *   `PutArtifact` with the digest and size of what it received, as audit does (so the router's audit
 *   publishing runs as in a healthy mesh instead of spooling to disk).
 *
 * `node inference-upstream.js [--chunks=<n>] [--unpaced]` prints `ready <http url> <grpc target>` and exits
 * when its standard input closes. `--chunks` streams that many token chunks instead of
 * {@link STREAM_CHUNKS}; `--unpaced` writes every stream back to back, whatever the request says (a caller
 * such as agent-runtime sends no `metadata`).
 */

/** Keep in step with `inference-router.bench.ts`, which checks what it receives. */
const STREAM_CHUNKS = 200;
const GAP_MS = 1;
const MODEL = 'bench-model';

function chunksArgument(): number {
  const given = process.argv.find((argument) => argument.startsWith('--chunks='));
  if (given === undefined) return STREAM_CHUNKS;
  const chunks = Number(given.slice('--chunks='.length));
  if (!Number.isSafeInteger(chunks) || chunks < 1) throw new Error(`${given}: needs a positive integer`);
  return chunks;
}

const CHUNKS = chunksArgument();
const ALWAYS_UNPACED = process.argv.includes('--unpaced');

const MODELS = JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', owned_by: 'bench' }] });
const CREATED = 1_700_000_000;
const USAGE = { prompt_tokens: 24, completion_tokens: CHUNKS, total_tokens: 24 + CHUNKS };

interface ChatRequest {
  readonly model?: unknown;
  readonly stream?: unknown;
  readonly stream_options?: { readonly include_usage?: unknown } | null;
  readonly metadata?: { readonly pacing?: unknown } | null;
}

function completion(model: string): string {
  return JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'The quick brown fox jumps over the lazy dog.',
          refusal: null,
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: USAGE,
  });
}

/** A token chunk, stamped with the moment it is written. */
function tokenEvent(model: string, index: number): string {
  const delta = index === 0 ? { role: 'assistant', content: 'tok0' } : { content: ` tok${index}` };
  const last = index === CHUNKS - 1;
  return `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    bench_sent_ns: String(process.hrtime.bigint()),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: last ? 'stop' : null }],
  })}\n\n`;
}

function usageEvent(model: string): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    choices: [],
    usage: USAGE,
  })}\n\n`;
}

async function stream(response: ServerResponse, request: ChatRequest, model: string): Promise<void> {
  const paced = !ALWAYS_UNPACED && request.metadata?.pacing !== 'none';
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let index = 0; index < CHUNKS; index += 1) {
    if (index > 0) await (paced ? sleep(GAP_MS) : nextTurn());
    if (response.destroyed) return;
    response.write(tokenEvent(model, index));
  }
  if (request.stream_options?.include_usage === true) response.write(usageEvent(model));
  response.end('data: [DONE]\n\n');
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  if (request.method === 'GET' && request.url === '/v1/models') {
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(MODELS),
    });
    response.end(MODELS);
    return;
  }
  if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no route"}}');
    return;
  }
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
  const model = typeof body.model === 'string' ? body.model : MODEL;
  if (body.stream === true) {
    await stream(response, body, model);
    return;
  }
  const answer = completion(model);
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(answer),
  });
  response.end(answer);
}

await serveUpstream((request, response) => {
  handle(request, response).catch(() => {
    response.destroy();
  });
});
