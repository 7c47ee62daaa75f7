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

  exec(id: string, execId: string): string {
    return join(this.root, id, 'execs', execId);
  }

  /** Credential files (`as_file`), bound read-only at `/run/secrets`; outside the workspace on purpose. */
  secrets(id: string): string {
    return join(this.root, id, 'secrets');
  }

  script(id: string, index: number): string {
    return join(this.root, id, 'provisioning', String(index));
  }

  /** Where repositories are cloned before they move into the workspace: beside it, out of the sandbox's reach. */
  gitStaging(id: string): string {
    return join(this.root, id, 'git-staging');
  }
}
