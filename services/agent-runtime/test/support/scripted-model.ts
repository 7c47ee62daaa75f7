import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An OpenAI-compatible model server for agent-runtime tests, speaking the real wire protocol (`GET /v1/models`,
 * `POST /v1/chat/completions` as JSON or SSE), whose answers a test scripts request by request: words, tool
 * calls, errors, slow streams. Requests nobody scripted get `fallback`.
 */

export type Json = Record<string, unknown>;

export type Reply =
  /** A streamed text answer, one event per word; `delayMs` between events. */
  | { readonly text: string; readonly delayMs?: number }
  /** The model calls these tools (arguments as JSON text). */
  | { readonly toolCalls: readonly { readonly name: string; readonly arguments: string }[] }
  /** An HTTP error with an OpenAI error body. */
  | { readonly status: number; readonly message?: string };

export type Script = (body: Json) => Reply;

export interface ScriptedModel {
  /** Base URL to register as a provider: `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  /** Bodies of the chat completion requests, in order. */
  readonly requests: Json[];
  /** The next requests are answered by these, in order; then `fallback`. */
  queue(...replies: (Reply | Script)[]): void;
  fallback: Script;
  /** Answers title requests (the runtime's `title` role), which never take a queued reply. */
  title: Script;
  /** Title requests seen. */
  readonly titleRequests: Json[];
  close(): Promise<void>;
}

function isTitleRequest(body: Json): boolean {
  const first = (body['messages'] as { role: string; content: unknown }[] | undefined)?.[0];
  return (
    first?.role === 'system' &&
    typeof first.content === 'string' &&
    first.content.startsWith('Write a short title')
  );
}

export const MODEL = 'scripted-1';

export function lastUserText(body: Json): string {
  const messages = (body['messages'] as { role: string; content: unknown }[] | undefined) ?? [];
  const user = [...messages].reverse().find((message) => message.role === 'user');
  if (user === undefined) return '';
  if (typeof user.content === 'string') return user.content;
  return (user.content as { type: string; text?: string }[])
    .map((part) => (part.type === 'text' ? (part.text ?? '') : ''))
    .join(' ');
}

function chunk(delta: Json, finish: string | null = null): string {
  const body = {
    id: 'chatcmpl-scripted',
    object: 'chat.completion.chunk',
    created: 1,
    model: MODEL,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

const USAGE = { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 };

async function answer(reply: Reply, body: Json, response: ServerResponse): Promise<void> {
  if ('status' in reply) {
    response.writeHead(reply.status, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ error: { message: reply.message ?? 'scripted failure', type: 'api_error' } }),
    );
    return;
  }
  const stream = body['stream'] === true;
  if (!stream) {
    const message =
      'text' in reply
        ? { role: 'assistant', content: reply.text }
        : {
            role: 'assistant',
            content: null,
            tool_calls: reply.toolCalls.map((call, index) => ({
              id: `call_${index}`,
              type: 'function',
              function: call,
            })),
          };
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        id: 'chatcmpl-scripted',
        object: 'chat.completion',
        created: 1,
        model: MODEL,
        choices: [{ index: 0, message, finish_reason: 'text' in reply ? 'stop' : 'tool_calls' }],
        usage: USAGE,
      }),
    );
    return;
  }
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  response.write(chunk({ role: 'assistant', content: '' }));
  if ('text' in reply) {
    const words = reply.text.split(/(?<= )/);
    for (const word of words) {
      if (response.destroyed) return;
      if (reply.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      response.write(chunk({ content: word }));
    }
    response.write(chunk({}, 'stop'));
  } else {
    reply.toolCalls.forEach((call, index) => {
      response.write(
        chunk({
          tool_calls: [
            { index, id: `call_${index}`, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      );
      // Arguments arrive in fragments, as real models send them.
      const middle = Math.floor(call.arguments.length / 2);
      for (const piece of [call.arguments.slice(0, middle), call.arguments.slice(middle)]) {
        response.write(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
      }
    });
    response.write(chunk({}, 'tool_calls'));
  }
  const options = body['stream_options'] as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) {
    response.write(
      `data: ${JSON.stringify({ id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 1, model: MODEL, choices: [], usage: USAGE })}\n\n`,
    );
  }
  response.end('data: [DONE]\n\n');
}

export async function startScriptedModel(): Promise<ScriptedModel> {
  const queued: (Reply | Script)[] = [];
  const requests: Json[] = [];
  const titleRequests: Json[] = [];
  const sockets = new Set<Socket>();
  const model: ScriptedModel = {
    url: '',
    requests,
    queue: (...replies) => queued.push(...replies),
    fallback: (body) => ({ text: `You said: ${lastUserText(body)}` }),
    title: () => ({ text: '"Scripted title."' }),
    titleRequests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (piece: Buffer) => chunks.push(piece));
    request.on('end', () => {
      if (request.method === 'GET' && request.url === '/v1/models') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model' }] }));
        return;
      }
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: 'unknown route' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      if (isTitleRequest(body)) {
        titleRequests.push(body);
        answer(model.title(body), body, response).catch(() => response.destroy());
        return;
      }
      requests.push(body);
      const next = queued.shift() ?? model.fallback;
      const reply = typeof next === 'function' ? next(body) : next;
      answer(reply, body, response).catch(() => response.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  (model as { url: string }).url = `http://127.0.0.1:${address.port}/v1`;
  return model;
}
