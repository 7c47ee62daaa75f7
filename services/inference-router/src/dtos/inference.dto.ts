import { z } from 'zod';

/**
 * The data path's bodies are OpenAI's, passed on to providers: only what the router itself reads is
 * checked here, and every other field is kept as the caller sent it.
 */
const model = z.string().min(1).max(300);
const stream = z.boolean().nullish();

export const chatCompletionBody = z.looseObject({
  model,
  messages: z.array(z.unknown()).min(1).max(100_000),
  stream,
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});

export const responsesBody = z.looseObject({
  model,
  input: z.union([z.string(), z.array(z.unknown()).max(100_000)]).optional(),
  stream,
});

export const embeddingsBody = z.looseObject({
  model,
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number()).min(1),
    z.array(z.array(z.number())).min(1),
  ]),
});
