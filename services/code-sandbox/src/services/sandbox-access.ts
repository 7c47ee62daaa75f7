import type { Principal } from '@aibox/identity';

/** A sandbox as the files API sees it: where its workspace is on the host. */
export interface OwnedSandbox {
  readonly id: string;
  /** The sandbox's `/workspace`, on the host. */
  readonly workspaceDir: string;
}

/**
 * Finds a sandbox the caller may use: their own (tenant and user), or any of the tenant's for an admin.
 * Throws `sandbox_unknown` otherwise (someone else's answers exactly like a missing one), and
 * `sandbox_not_ready` when it has no workspace to work on (still provisioning, deleted, failed).
 */
export interface SandboxAccess {
  usable(principal: Principal, id: string): Promise<OwnedSandbox>;
}

export const SANDBOX_ACCESS = Symbol('code-sandbox.SANDBOX_ACCESS');
