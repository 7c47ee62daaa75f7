// A small MCP server over stdio for the medium tests; the test starts it with `process.execPath`.
import { Buffer } from 'node:buffer';
import process from 'node:process';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'aibox-test-stdio', version: '1.0.0' });

server.registerTool(
  'add',
  { description: 'Adds two numbers.', inputSchema: { a: z.number(), b: z.number() } },
  async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
);

server.registerTool('fail', { description: 'Always reports a failure.' }, async () => ({
  content: [{ type: 'text', text: 'this tool always fails' }],
  isError: true,
}));

server.registerTool('pid', { description: 'The process id of this server.' }, async () => ({
  content: [{ type: 'text', text: String(process.pid) }],
}));

server.registerTool('picture', { description: 'A tiny image and a structured answer.' }, async () => ({
  content: [{ type: 'image', data: Buffer.alloc(12, 7).toString('base64'), mimeType: 'image/png' }],
  structuredContent: { width: 2, height: 2 },
}));

server.registerTool('crash', { description: 'Ends this server process.' }, async () => {
  process.exit(3);
});

// Registering a tool on a connected server sends notifications/tools/list_changed before the answer, unless
// AIBOX_TEST_MCP_QUIET=1 (then only a periodic refresh of the client finds the new tool).
const quiet = process.env.AIBOX_TEST_MCP_QUIET === '1';
let grown = false;
server.registerTool('grow', { description: 'Adds the tool `added` to this server.' }, async () => {
  if (!grown) {
    grown = true;
    const notify = server.sendToolListChanged;
    if (quiet) server.sendToolListChanged = () => undefined;
    server.registerTool('added', { description: 'Exists once `grow` was called.' }, async () => ({
      content: [{ type: 'text', text: 'added is here' }],
    }));
    server.sendToolListChanged = notify;
  }
  return { content: [{ type: 'text', text: 'grown' }] };
});

process.stderr.write('aibox test stdio MCP server ready\n');
await server.connect(new StdioServerTransport());
