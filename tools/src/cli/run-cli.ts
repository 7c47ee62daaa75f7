import { parseArgs } from 'node:util';

import { CliError } from './cli.error.js';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_GATEWAY,
  DEFAULT_ISSUER,
  login,
  logout,
  whoami,
  type CliIo,
} from './commands.js';
import { verifyCommand } from './verify-command.js';

export const USAGE = `usage: aibox <command> [options]

  login  [--issuer URL] [--client-id ID]   sign in with the device flow (default issuer ${DEFAULT_ISSUER},
                                           or AIBOX_ISSUER; client ${DEFAULT_CLIENT_ID})
  logout                                   revoke the refresh token and forget the credentials
  whoami [--gateway URL]                   show who the gateway says you are (default ${DEFAULT_GATEWAY},
                                           or AIBOX_GATEWAY_URL)
  verify PROOF.json --keys KEYS.json [--prev PREV-RECEIPT.json] [--checkpoint OLDER-CHECKPOINT.txt]
                                           check a turn's receipt proof offline; exits 1 naming the first
                                           failure

Credentials live in $AIBOX_CONFIG_DIR/credentials.json (default ~/.config/aibox/).`;

function setting(value: string | undefined, env: string | undefined, fallback: string): string {
  if (value !== undefined && value !== '') return value;
  return env !== undefined && env !== '' ? env : fallback;
}

/** Runs one `aibox` command; resolves with the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: command === 'verify',
      options: {
        keys: { type: 'string' },
        prev: { type: 'string' },
        checkpoint: { type: 'string' },
        issuer: { type: 'string' },
        'client-id': { type: 'string' },
        gateway: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help === true || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return 0;
    }
    switch (command) {
      case 'login':
        await login(
          {
            issuer: setting(values.issuer, io.env['AIBOX_ISSUER'], DEFAULT_ISSUER).replace(/\/+$/, ''),
            clientId: setting(values['client-id'], undefined, DEFAULT_CLIENT_ID),
          },
          io,
        );
        return 0;
      case 'logout':
        await logout(io);
        return 0;
      case 'whoami':
        await whoami(setting(values.gateway, io.env['AIBOX_GATEWAY_URL'], DEFAULT_GATEWAY), io);
        return 0;
      case 'verify': {
        const [proof, ...extra] = positionals;
        if (proof === undefined || extra.length > 0 || values.keys === undefined) {
          throw new CliError('usage', 'verify needs one proof file and --keys');
        }
        return await verifyCommand(
          {
            proof,
            keys: values.keys,
            ...(values.prev === undefined ? {} : { prev: values.prev }),
            ...(values.checkpoint === undefined ? {} : { checkpoint: values.checkpoint }),
          },
          io,
        );
      }
      case undefined:
        throw new CliError('usage', 'no command given');
      default:
        throw new CliError('usage', `unknown command: ${command}`);
    }
  } catch (error: unknown) {
    if (error instanceof CliError) {
      io.err(`aibox: ${error.message}`);
      if (error.code === 'usage') io.err(USAGE);
      return error.exitCode;
    }
    if (
      error instanceof TypeError &&
      (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true
    ) {
      io.err(`aibox: ${error.message}`);
      io.err(USAGE);
      return 2;
    }
    throw error;
  }
}
