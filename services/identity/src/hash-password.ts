import { hashPassword } from './services/password-hash.js';

/*
 * Prints the `password_hash` of a user for the identity config file. The password is read from standard input
 * (one trailing newline is dropped), so it never appears in the shell history or the process list:
 *   printf '%s' 'correct horse battery staple' | node services/identity/dist/hash-password.js
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

if (process.stdin.isTTY) process.stderr.write('password (then Enter and Ctrl-D): ');
const password = await readStdin();
if (password === '') {
  process.stderr.write('hash-password: no password on standard input\n');
  process.exitCode = 2;
} else {
  process.stdout.write(`${await hashPassword(password)}\n`);
}
