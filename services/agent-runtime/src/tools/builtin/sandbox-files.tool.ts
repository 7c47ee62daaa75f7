import { StringDecoder } from 'node:string_decoder';

import {
  SandboxCallError,
  type SandboxCaller,
  type SandboxClient,
  type SandboxFileEntry,
} from '../../repositories/sandbox-client.js';
import type { Tool, ToolOutput } from '../tool.js';

/** The most bytes one `read` answers; a larger file is cut and marked. */
export const SANDBOX_FILES_READ_MAX_BYTES = 256 * 1024;

const ACTIONS = ['list', 'read', 'write', 'delete'] as const;

type Action = (typeof ACTIONS)[number];

/** `/workspace/x` for `x`, `/x` or `/workspace/x`, as code-sandbox reads them. */
function shownPath(path: string): string {
  const relative =
    path === '/workspace' ? '' : path.startsWith('/workspace/') ? path.slice('/workspace/'.length) : path;
  const segments = relative.split('/').filter((segment) => segment !== '' && segment !== '.');
  return segments.length === 0 ? '/workspace' : `/workspace/${segments.join('/')}`;
}

function entryLine(entry: SandboxFileEntry): string {
  switch (entry.type) {
    case 'directory':
      return `${entry.name}/`;
    case 'file':
      return `${entry.name} (${String(entry.size)} bytes)`;
    case 'symlink':
      return `${entry.name} -> ${entry.link_target ?? '?'}`;
    case 'other':
      return `${entry.name} (special file)`;
  }
}

/**
 * `sandbox_files`: lists, reads, writes and deletes files in the conversation's sandbox workspace (the one
 * `sandbox_exec` runs in, created on first use), through code-sandbox's files API. Paths are the sandbox's:
 * `x`, `/x` and `/workspace/x` name the same file. code-sandbox's refusals (`path_invalid`, `path_not_found`,
 * …) come back as failed results with their code, never as thrown errors.
 */
export function sandboxFilesTool(client: SandboxClient): Tool {
  return {
    name: 'sandbox_files',
    description:
      "Manage files in this conversation's sandbox workspace (/workspace, shared with sandbox_exec). " +
      '`action` is list (a directory; "" for the workspace root), read (a text file, at most 256 KiB shown), ' +
      'write (`content` as UTF-8 text; parent directories are created; replaces the file) or delete (a file, ' +
      'a symlink or an empty directory; `recursive` for a directory with contents).',
    parameters: {
      type: 'object',
      properties: {
        action: { type: 'string', enum: [...ACTIONS] },
        path: { type: 'string', maxLength: 4_096 },
        content: { type: 'string', maxLength: 10_000_000 },
        recursive: { type: 'boolean' },
      },
      required: ['action', 'path'],
      additionalProperties: false,
    },
    // Time for the sandbox to be created and get ready on first use.
    timeoutMs: 90_000,
    async run(args, context): Promise<ToolOutput> {
      const action = args['action'] as Action;
      const path = String(args['path']);
      const content = args['content'];
      if (action === 'write' && typeof content !== 'string') {
        return { text: 'tool_arguments_invalid: `content` is required to write a file', isError: true };
      }
      const caller: SandboxCaller = {
        principal: context.principal,
        turnId: context.turnId,
        capToken: context.capToken,
        signal: context.signal,
      };
      try {
        const sandbox = await client.sandboxFor(caller, context.conversationId);
        switch (action) {
          case 'list': {
            const listing = await client.listFiles(caller, sandbox, path);
            if (listing.entries.length === 0) return { text: `${listing.path} is empty` };
            return { text: listing.entries.map(entryLine).join('\n') };
          }
          case 'read': {
            const file = await client.readFile(caller, sandbox, path, {
              length: SANDBOX_FILES_READ_MAX_BYTES,
            });
            if (file.content.includes(0)) {
              return {
                text:
                  `${shownPath(path)} is a binary file (${String(file.size)} bytes); it is not shown as text. ` +
                  'Inspect it with sandbox_exec.',
              };
            }
            if (file.size === 0) return { text: `${shownPath(path)} is empty` };
            const truncated = file.content.length < file.size;
            // A cut file may end inside a character; the decoder holds those bytes back.
            const text = truncated
              ? new StringDecoder('utf8').write(file.content)
              : file.content.toString('utf8');
            return {
              text: truncated
                ? `${text}\n[truncated: ${String(Buffer.byteLength(text))} of ${String(file.size)} bytes]`
                : text,
            };
          }
          case 'write': {
            const written = await client.writeFile(caller, sandbox, path, String(content));
            return { text: `wrote ${String(written.size)} bytes to ${written.path}` };
          }
          case 'delete': {
            const recursive = args['recursive'] === true;
            await client.deleteFile(caller, sandbox, path, recursive);
            return { text: `deleted ${shownPath(path)}${recursive ? ' and everything in it' : ''}` };
          }
        }
      } catch (error: unknown) {
        if (error instanceof SandboxCallError)
          return { text: `${error.code}: ${error.message}`, isError: true };
        throw error;
      }
    },
  };
}
