import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';

import { freePort } from '@aibox/testing';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

import type { McpServerConfig } from '../../src/tools/tool.js';

const STDIO_SERVER = fileURLToPath(new URL('./mcp-stdio-server.mjs', import.meta.url));

/**
 * The test stdio MCP server (`mcp-stdio-server.mjs`, run by this Node). `instance` starts a separate process:
 * it changes the config's environment, and so the hub's connection key.
 */
export function stdioServerConfig(
  name: string,
  instance = 'shared',
  extra: Partial<McpServerConfig> = {},
): McpServerConfig {
  return {
    name,
    transport: 'stdio',
    command: process.execPath,
    args: [STDIO_SERVER],
    env: { AIBOX_TEST_MCP_INSTANCE: instance, ...extra.env },
    ...extra,
  };
}

/** An http MCP config pointing at a port nothing listens on. */
export async function unreachableServerConfig(name: string): Promise<McpServerConfig> {
  return { name, transport: 'http', url: `http://127.0.0.1:${await freePort()}/mcp` };
}

export interface HttpMcpServer {
  readonly url: string;
  /** The value of the `x-api-key` header of each POST, in order. */
  readonly apiKeys: readonly (string | undefined)[];
  close(): Promise<void>;
}

function echoServer(): McpServer {
  const server = new McpServer({ name: 'aibox-test-http', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Answers with its text.', inputSchema: { text: z.string() } },
    ({ text }) => Promise.resolve({ content: [{ type: 'text', text: `echo: ${text}` }] }),
  );
  return server;
}

/**
 * A streamable HTTP MCP server on 127.0.0.1, stateless: each POST gets its own McpServer and transport (the
 * SDK's pattern for stateless mode); GET and DELETE answer 405, which clients take as "no SSE stream".
 */
export async function startHttpMcpServer(): Promise<HttpMcpServer> {
  const apiKeys: (string | undefined)[] = [];
  const http: Server = createServer((request, response) => {
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const key = request.headers['x-api-key'];
    apiKeys.push(Array.isArray(key) ? key[0] : key);
    const server = echoServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    response.on('close', () => {
      void transport.close();
      void server.close();
    });
    void (async () => {
      try {
        await server.connect(transport);
        await transport.handleRequest(request, response);
      } catch {
        if (!response.headersSent) response.writeHead(500).end();
      }
    })();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    apiKeys,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) =>
        http.close(() => {
          resolve();
        }),
      );
    },
  };
}
