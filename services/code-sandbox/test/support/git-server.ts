import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A commit's files, by path. */
export type Files = Readonly<Record<string, string | Buffer>>;

export interface RepoSetup {
  /** Commits on `main`, in order (the last is the remote's HEAD). */
  readonly main: readonly Files[];
  /** Other branches: commits on top of main's last. */
  readonly branches?: Readonly<Record<string, readonly Files[]>>;
  /** Symlinks committed on main after its commits: path → target. */
  readonly links?: Readonly<Record<string, string>>;
}

/**
 * A repository no `git add` makes, only `git mktree`: besides a README, its tree climbs out through entries
 * named `..` (more of them than any checkout directory is deep) and then down to `target`, where it puts
 * `pwned.txt`. A checkout that took the names as they are would write `<target>/pwned.txt` on the host.
 */
async function createEscapingRepo(root: string, name: string, target: string): Promise<void> {
  const bare = join(root, `${name}.git`);
  await git(root, 'init', '-q', '--bare', '-b', 'main', bare);
  const objectOf = async (args: string[], input: string): Promise<string> => {
    const child = spawn('git', args, { cwd: bare, env: GIT_ENV });
    child.stdin.end(input);
    let out = '';
    for await (const chunk of child.stdout) out += String(chunk);
    return out.trim();
  };
  const file = await objectOf(['hash-object', '-w', '--stdin'], 'pwned\n');
  let tree = await objectOf(['mktree'], `100644 blob ${file}\tpwned.txt\n`);
  const names = [
    ...target
      .split('/')
      .filter((part) => part !== '')
      .reverse(),
    ...Array<string>(24).fill('..'),
  ];
  for (const part of names) tree = await objectOf(['mktree'], `040000 tree ${tree}\t${part}\n`);
  const top = await objectOf(['mktree'], `040000 tree ${tree}\t..\n100644 blob ${file}\tREADME\n`);
  const commit = await git(bare, 'commit-tree', top, '-m', 'escape');
  await git(bare, 'update-ref', 'refs/heads/main', commit);
}

export interface GitHttpServer {
  readonly port: number;
  readonly url: string;
  /** Every `Authorization` header received, in order. */
  readonly authorizations: string[];
  /** The commit a ref of a bare repository points to (`git rev-parse`). */
  revParse(repo: string, ref: string): Promise<string>;
  close(): Promise<void>;
}

export interface GitServerOptions {
  /** Bare repositories `<name>.git` to create. */
  readonly repos: Readonly<Record<string, RepoSetup>>;
  /** Repositories that need `Authorization: Basic base64(user:token)`: name → the token; any user name. */
  readonly tokens?: Readonly<Record<string, string>>;
  /** Paths under which every request is redirected to this URL (plus the rest of the path). */
  readonly redirects?: Readonly<Record<string, string>>;
  /** Repositories whose requests are held without an answer. */
  readonly stalled?: readonly string[];
  /** Repositories made by {@link createEscapingRepo}: name → the symlink's target. */
  readonly escaping?: Readonly<Record<string, string>>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.test',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.test',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: GIT_ENV });
  return stdout.trim();
}

async function commit(work: string, files: Files, message: string): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(work, path, '..'), { recursive: true });
    await writeFile(join(work, path), content);
  }
  await git(work, 'add', '-A');
  await git(work, 'commit', '-q', '-m', message);
}

async function createRepo(root: string, name: string, setup: RepoSetup): Promise<void> {
  const work = await mkdtemp(join(root, `work-${name}-`));
  await git(work, 'init', '-q', '-b', 'main');
  for (const [index, files] of setup.main.entries()) await commit(work, files, `main ${index + 1}`);
  for (const [path, target] of Object.entries(setup.links ?? {})) {
    await run('ln', ['-s', target, join(work, path)]);
  }
  if (setup.links !== undefined) {
    await git(work, 'add', '-A');
    await git(work, 'commit', '-q', '-m', 'links');
  }
  for (const [branch, commits] of Object.entries(setup.branches ?? {})) {
    await git(work, 'checkout', '-q', '-b', branch, 'main');
    for (const [index, files] of commits.entries()) await commit(work, files, `${branch} ${index + 1}`);
  }
  await git(work, 'checkout', '-q', 'main');
  await git(root, 'clone', '-q', '--bare', work, `${name}.git`);
  await rm(work, { recursive: true, force: true });
}

function headerEnd(buffer: Buffer): { at: number; length: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { at: crlf, length: 4 };
  return lf >= 0 ? { at: lf, length: 2 } : undefined;
}

/** Runs `git http-backend` as a CGI for one request. */
function backend(root: string, request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://git.test');
  const child = spawn('git', ['http-backend'], {
    env: {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: request.method ?? 'GET',
      CONTENT_TYPE: request.headers['content-type'] ?? '',
      REMOTE_ADDR: request.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: 'test',
      GIT_PROTOCOL: request.headers['git-protocol']?.toString() ?? '',
      HTTP_CONTENT_ENCODING: request.headers['content-encoding'] ?? '',
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  request.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (end === undefined) return;
    started = true;
    let status = 200;
    for (const line of head.subarray(0, end.at).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else if (name !== '') response.setHeader(name, value);
    }
    response.statusCode = status;
    response.write(head.subarray(end.at + end.length));
  });
  child.on('close', () => {
    if (!started) response.statusCode = 500;
    response.end();
  });
}

/**
 * A git smart-HTTP server on 127.0.0.1: bare repositories created with `git`, each request served by
 * `git http-backend` as a CGI, Basic authentication checked for the repositories that need a token.
 */
export async function startGitServer(options: GitServerOptions): Promise<GitHttpServer> {
  const root = await mkdtemp(join(tmpdir(), 'aibox-git-server-'));
  for (const [name, setup] of Object.entries(options.repos)) await createRepo(root, name, setup);
  for (const [name, target] of Object.entries(options.escaping ?? {})) {
    await createEscapingRepo(root, name, target);
  }
  const authorizations: string[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://git.test').pathname;
    const repo = /^\/([^/]+)\.git\//.exec(path)?.[1] ?? '';
    const authorization = request.headers.authorization;
    if (authorization !== undefined) authorizations.push(authorization);
    for (const [prefix, target] of Object.entries(options.redirects ?? {})) {
      if (path.startsWith(prefix)) {
        const rest = (request.url ?? '/').slice(prefix.length);
        response.writeHead(302, { location: `${target}${rest}` }).end();
        request.resume();
        return;
      }
    }
    if (options.stalled?.includes(repo) === true) {
      held.push(response);
      request.resume();
      return;
    }
    const token = options.tokens?.[repo];
    if (token !== undefined) {
      const [scheme = '', encoded = ''] = (authorization ?? '').split(' ');
      const password = Buffer.from(encoded, 'base64').toString('utf8').split(':').slice(1).join(':');
      if (scheme !== 'Basic' || password !== token) {
        response.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('denied');
        request.resume();
        return;
      }
    }
    backend(root, request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    authorizations,
    revParse: (repo, ref) => git(join(root, `${repo}.git`), 'rev-parse', ref),
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await rm(root, { recursive: true, force: true });
    },
  };
}
