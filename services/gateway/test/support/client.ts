import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json(): Record<string, unknown>;
}

/** An HTTP request with headers exactly as given (name spelling, order, repeats): `[name, value, …]`. */
export function send(
  url: string,
  options: { method?: string; headers?: string[]; body?: string | Buffer; rawPath?: string } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        // `rawPath` is sent exactly as written (URL parsing would resolve `..`).
        path: options.rawPath ?? `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        // With raw headers Node adds no Host header of its own.
        headers: ['Host', target.host, ...(options.headers ?? [])],
        insecureHTTPParser: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
          });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    if (options.body !== undefined) request.write(options.body);
    request.end();
  });
}

export function bearer(token: string): string[] {
  return ['Authorization', `Bearer ${token}`];
}
