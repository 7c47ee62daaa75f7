import { SandboxCallError, type SandboxClient } from '../../repositories/sandbox-client.js';
import type { Tool, ToolOutput } from '../tool.js';

const LANGUAGES = {
  python: ['python3', '-'],
  shell: ['sh', '-s'],
  node: ['node', '-'],
} as const;

const DEFAULT_TIMEOUT_S = 60;

/**
 * `sandbox_exec`: runs code in the conversation's sandbox (code-sandbox, no network, its own workspace kept
 * between calls) and answers its exit code and output. Each run is a `sandbox_exec` turn event with the code
 * and the output captured beside it.
 */
export function sandboxExecTool(client: SandboxClient): Tool {
  return {
    name: 'sandbox_exec',
    description:
      'Run a program in an isolated sandbox with no network. Give `code` and its `language` (python, shell or ' +
      'node). Files written to /workspace stay for later calls in this conversation. Answers the exit code, ' +
      'stdout and stderr.',
    parameters: {
      type: 'object',
      properties: {
        language: { type: 'string', enum: Object.keys(LANGUAGES) },
        code: { type: 'string', minLength: 1, maxLength: 1_000_000 },
        timeout_s: { type: 'integer', minimum: 1, maximum: 600 },
      },
      required: ['language', 'code'],
      additionalProperties: false,
    },
    timeoutMs: 660_000,
    async run(args, context): Promise<ToolOutput> {
      const language = args['language'] as keyof typeof LANGUAGES;
      const code = String(args['code']);
      const timeoutS = typeof args['timeout_s'] === 'number' ? args['timeout_s'] : DEFAULT_TIMEOUT_S;
      const caller = {
        principal: context.principal,
        turnId: context.turnId,
        capToken: context.capToken,
        signal: context.signal,
      };
      const argv = LANGUAGES[language];
      const started = performance.now();
      try {
        const sandbox = await client.sandboxFor(caller, context.conversationId);
        const result = await client.exec(caller, sandbox, { argv, stdin: code, timeout_s: timeoutS });
        context.record(
          'sandbox_exec',
          {
            sandbox_id: sandbox,
            exec_id: result.id,
            argv,
            language,
            status: result.status,
            exit_code: result.exit_code,
            duration_ms: Math.round(performance.now() - started),
          },
          [
            { kind: 'code', contentType: 'text/plain; charset=utf-8', body: code },
            { kind: 'stdout', contentType: 'text/plain; charset=utf-8', body: result.stdout },
            { kind: 'stderr', contentType: 'text/plain; charset=utf-8', body: result.stderr },
          ],
        );
        const text = [
          `status: ${result.status}${result.exit_code === null ? '' : ` (exit code ${String(result.exit_code)})`}`,
          `stdout:\n${result.stdout}${result.stdout_truncated ? '\n[stdout truncated]' : ''}`,
          `stderr:\n${result.stderr}${result.stderr_truncated ? '\n[stderr truncated]' : ''}`,
        ].join('\n');
        return { text, isError: result.status !== 'exited' || result.exit_code !== 0 };
      } catch (error: unknown) {
        if (error instanceof SandboxCallError)
          return { text: `${error.code}: ${error.message}`, isError: true };
        throw error;
      }
    },
  };
}
