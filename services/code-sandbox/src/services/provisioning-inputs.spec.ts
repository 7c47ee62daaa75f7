import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SandboxError } from '../errors/sandbox.error.js';
import { staysInside } from './host-copy.js';
import { HostPathPolicy } from './host-paths.js';
import { ProvisioningInputs } from './provisioning-inputs.js';
import { SandboxDirs } from './sandbox-dirs.js';
import { WorkspaceFiles } from './workspace-files.js';

let base: string;
let roots: string;
let dataDir: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'aibox-inputs-'));
  roots = join(base, 'roots');
  dataDir = join(base, 'data');
  await mkdir(join(roots, 'shared', 'data'), { recursive: true });
  await mkdir(join(dataDir, 'sandboxes'), { recursive: true });
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function inputs(maxBytes = 1_024): ProvisioningInputs {
  return new ProvisioningInputs(
    new HostPathPolicy({ roots: [roots], protectedPaths: [dataDir, '/var/run/docker.sock'] }),
    new SandboxDirs(join(dataDir, 'sandboxes')),
    new WorkspaceFiles({
      maxReadBytes: 1_024,
      maxWriteBytes: 1_024,
      maxArchiveBytes: Number.MAX_SAFE_INTEGER,
    }),
    maxBytes,
  );
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error: unknown) {
    return error instanceof SandboxError ? error.code : String(error);
  }
}

describe('HostPathPolicy', () => {
  it('allows what lies under a root and is neither protected nor above something protected', async () => {
    const policy = new HostPathPolicy({ roots: ['/'], protectedPaths: [dataDir] });
    expect(policy.allows(join(roots, 'shared'))).toBe(true);
    expect(policy.allows(dataDir)).toBe(false);
    expect(policy.allows(join(dataDir, 'sandboxes', 'x'))).toBe(false);
    expect(policy.allows(base)).toBe(false);
    expect(policy.allows('/')).toBe(false);
    expect(policy.allows('/etc/ssl')).toBe(false);
    expect(policy.allows('/var')).toBe(false);
    expect(await refusal(policy.resolve(join(roots, 'shared', 'nothing'), 'mount', ['directory']))).toBe(
      'mount_source_invalid',
    );
  });
});

describe('ProvisioningInputs', () => {
  it('refuses at MountLocalDirs a source swapped for a symlink since it was accepted', async () => {
    const subject = inputs();
    const [mount] = await subject.acceptMounts([
      { source: join(roots, 'shared', 'data'), target: '/mnt/data' },
    ]);
    if (mount === undefined) throw new Error('no mount accepted');
    await rename(join(roots, 'shared'), join(roots, 'shared-moved'));
    await mkdir(join(roots, 'elsewhere', 'data'), { recursive: true });
    await symlink(join(roots, 'elsewhere'), join(roots, 'shared'));
    const workspace = join(base, 'workspace');
    await mkdir(workspace);
    expect(await refusal(subject.mountLocalDirs([mount], [], workspace, undefined))).toBe(
      'mount_not_allowed',
    );
  });

  it('counts every copy against one budget', async () => {
    await writeFile(join(roots, 'shared', 'data', 'a.bin'), Buffer.alloc(600));
    const subject = inputs(1_000);
    const copies = await subject.acceptCopies([
      { source: join(roots, 'shared', 'data'), target: 'one' },
      { source: join(roots, 'shared', 'data'), target: 'two' },
    ]);
    const workspace = join(base, 'workspace');
    await mkdir(workspace);
    await expect(subject.mountLocalDirs([], copies, workspace, undefined)).rejects.toThrow(
      /a.bin takes the sandbox's copies past SANDBOX_COPY_MAX_BYTES \(1000 bytes\)/,
    );
  });
});

describe('staysInside', () => {
  it('takes relative links that never climb above the copied tree', () => {
    expect(staysInside(0, 'src/app.ts')).toBe(true);
    expect(staysInside(1, '../README.md')).toBe(true);
    expect(staysInside(1, 'a/../../b')).toBe(true);
    expect(staysInside(0, '../x')).toBe(false);
    expect(staysInside(1, '../../x')).toBe(false);
    expect(staysInside(2, 'a/../../../../x/y/z')).toBe(false);
    expect(staysInside(0, '/etc/passwd')).toBe(false);
    expect(staysInside(0, '')).toBe(false);
  });
});
