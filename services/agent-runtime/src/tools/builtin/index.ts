/**
 * The runtime's built-in tools: the one place they are listed. An agent gets one when its `tools` names it.
 *
 * Adding a tool (sandbox exec, knowledge search, memory, …) is one file beside these, exporting a function that
 * returns a `Tool`, and one line in `builtinTools` below (conditional if a setting can turn the tool off).
 */
import type { SandboxClient } from '../../repositories/sandbox-client.js';
import type { Tool } from '../tool.js';
import { currentTimeTool } from './current-time.tool.js';
import { httpFetchTool } from './http-fetch.tool.js';
import { sandboxExecTool } from './sandbox-exec.tool.js';
import { sandboxFilesTool } from './sandbox-files.tool.js';

/** The settings the built-in tools read, taken from the runtime config once at boot. */
export interface BuiltinToolsConfig {
  /** AGENT_HTTP_FETCH_*. */
  readonly httpFetch: {
    readonly enabled: boolean;
    readonly allow: readonly string[];
    readonly maxBytes: number;
    readonly timeoutMs: number;
  };
  /** code-sandbox, for `sandbox_exec` and `sandbox_files`. */
  readonly sandbox: SandboxClient;
  /** The clock, replaceable in tests. */
  readonly now: () => Date;
}

export function builtinTools(config: BuiltinToolsConfig): Tool[] {
  return [
    currentTimeTool(config.now),
    ...(config.httpFetch.enabled ? [httpFetchTool(config.httpFetch)] : []),
    sandboxExecTool(config.sandbox),
    sandboxFilesTool(config.sandbox),
  ];
}
