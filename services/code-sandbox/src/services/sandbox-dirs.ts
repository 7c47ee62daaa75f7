import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Where a sandbox keeps its files on the host: its workspace, and one directory per exec. */
export class SandboxDirs {
  constructor(private readonly root: string) {}

  sandbox(id: string): string {
    return join(this.root, id);
  }

  workspace(id: string): string {
    return join(this.root, id, 'workspace');
  }

  /**
   * Makes the sandbox's directory and its workspace (CreateSandbox, and the warm pool's fills). Only the
   * service's user may enter: a program in the sandbox runs as root on the host's side of its user
   * namespace, so a setuid file it leaves in the workspace must be out of other users' reach.
   */
  async make(id: string): Promise<void> {
    await mkdir(this.sandbox(id), { recursive: true, mode: 0o700 });
    await mkdir(this.workspace(id), { recursive: true, mode: 0o700 });
  }

  exec(id: string, execId: string): string {
    return join(this.root, id, 'execs', execId);
  }

  /** Credential files (`as_file`), bound read-only at `/run/secrets`; outside the workspace on purpose. */
  secrets(id: string): string {
    return join(this.root, id, 'secrets');
  }

  /**
   * The egress proxy's socket and the forwarder that reaches it (`network.mode: egress`), bound read-only at
   * `/.aibox/egress`; outside the workspace, the service's own (0711).
   */
  egress(id: string): string {
    return join(this.root, id, 'egress');
  }

  script(id: string, index: number): string {
    return join(this.root, id, 'provisioning', String(index));
  }

  /** Where repositories are cloned before they move into the workspace: beside it, out of the sandbox's reach. */
  gitStaging(id: string): string {
    return join(this.root, id, 'git-staging');
  }
}
