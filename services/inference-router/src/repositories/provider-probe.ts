import { request } from 'undici';

import { ProviderConfigError } from '../errors/provider-config.error.js';

export interface ProbeOptions {
  readonly baseUrl: string;
  readonly apiKey?: string;
  /** The whole probe, headers and body (default 5 s). */
  readonly timeoutMs?: number;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * `GET {base_url}/models` before a provider is saved (ARCHITECTURE §7): the models it serves, or an error
 * saying why not. Redirects are **never** followed — a 3xx fails naming its target, since a key sent to a
 * redirect target is a key handed to whoever controls it. Error messages never carry the key, nor the
 * provider's own error body (it may echo the key or internal URLs); they carry the status.
 */
export async function probeProvider(options: ProbeOptions): Promise<string[]> {
  const url = `${options.baseUrl}/models`;
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
  }, options.timeoutMs ?? 5_000);
  try {
    return await probe(url, options.apiKey, controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function probe(url: string, apiKey: string | undefined, signal: AbortSignal): Promise<string[]> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: 'GET',
      headers: {
        accept: 'application/json',
        ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }),
      },
      // undici's `request` never follows redirects (that takes its redirect interceptor, not used here).
      signal,
    });
  } catch (error: unknown) {
    const reason = signal.aborted
      ? 'did not answer in time'
      : `could not be reached (${(error as { code?: string }).code ?? 'error'})`;
    throw new ProviderConfigError('provider_unreachable', `${url} ${reason}`);
  }
  const { statusCode, headers, body } = response;
  // Destroying an unread body emits an abort error: nobody is waiting for it.
  body.on('error', () => undefined);
  try {
    if (statusCode >= 300 && statusCode < 400) {
      const location = headers['location'];
      const target = typeof location === 'string' ? new URL(location, url).href : 'an unnamed location';
      throw new ProviderConfigError(
        'provider_redirect',
        `${url} redirects (${statusCode}) to ${target}; redirects are never followed`,
      );
    }
    if (statusCode < 200 || statusCode >= 300) {
      throw new ProviderConfigError('provider_rejected', `${url} answered ${statusCode}`);
    }
    let text = '';
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > MAX_BODY_BYTES)
        throw new ProviderConfigError('provider_rejected', `${url} answered with an oversized model list`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ProviderConfigError('provider_rejected', `${url} did not answer JSON`);
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data))
      throw new ProviderConfigError('provider_rejected', `${url} did not answer an OpenAI model list`);
    return data.flatMap((item: unknown) => {
      const id = (item as { id?: unknown } | null)?.id;
      return typeof id === 'string' && id !== '' ? [id] : [];
    });
  } finally {
    body.destroy();
  }
}
