import { ROLES, type Role } from '../dtos/provider.dto.js';
import { InferenceError } from '../errors/inference.error.js';
import type { RoutingSnapshot, SnapshotProvider } from './routing-snapshot.js';

/** One backend to try: a provider and the model name it knows. */
export interface Candidate {
  readonly provider: SnapshotProvider;
  readonly model: string;
  /** `<provider>/<model>`, as roles and `GET /v1/models` name it. */
  readonly id: string;
}

export interface Resolution {
  /** The role asked for, or undefined when the caller named a concrete `<provider>/<model>`. */
  readonly role: Role | undefined;
  /** In the order to try them: load-balanced within a model, then the role's fallbacks. */
  readonly candidates: readonly Candidate[];
}

const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

export function isRole(value: string): value is Role {
  return ROLE_SET.has(value);
}

function split(id: string): { providerName: string; model: string } {
  const slash = id.indexOf('/');
  return { providerName: id.slice(0, slash), model: id.slice(slash + 1) };
}

/**
 * Expands `model` (a role alias or a concrete `<provider>/<model>`) into the backends to try, from the
 * snapshot only. A concrete model must be one a role offers (what `GET /v1/models` lists): an admin decides
 * which models the deployment pays for, not the caller. Providers that are disabled or whose key does not
 * decrypt are left out; the error says which case emptied the list. Every provider kind serves every
 * endpoint: the adapters translate between the Chat Completions and Responses APIs.
 *
 * Load balancing: a role's entries that name the same model on different providers form one group, tried
 * in rotation (`turn` advances per request), before the next model of the role (its fallback).
 */
export class ModelResolver {
  private readonly turns = new Map<string, number>();

  resolve(snapshot: RoutingSnapshot, requested: string): Resolution {
    let role: Role | undefined;
    let ids: readonly string[];
    if (isRole(requested)) {
      role = requested;
      ids = snapshot.roles.get(requested) ?? [];
      if (ids.length === 0) {
        throw new InferenceError(
          'role_not_configured',
          `role ${requested} is unset; an admin assigns it with PUT /v1/admin/inference/roles/${requested}`,
        );
      }
    } else {
      const offered = [...snapshot.roles.values()].some((models) => models.includes(requested));
      if (!requested.includes('/') || !offered || !snapshot.providers.has(split(requested).providerName)) {
        throw new InferenceError(
          'model_unknown',
          `${requested.slice(0, 200)} is not offered; GET /v1/models lists the roles and models that are`,
        );
      }
      ids = [requested];
    }

    const usable: Candidate[] = [];
    let keyless = 0;
    for (const id of ids) {
      const { providerName, model } = split(id);
      const provider = snapshot.providers.get(providerName);
      if (provider?.enabled !== true) continue;
      if (provider.keyUnreadable) {
        keyless += 1;
        continue;
      }
      usable.push({ provider, model, id });
    }
    if (usable.length === 0) {
      const what = role === undefined ? requested : `role ${role}`;
      if (keyless > 0) {
        throw new InferenceError(
          'provider_key_missing',
          `the stored key of every provider of ${what} cannot be decrypted`,
        );
      }
      throw new InferenceError('role_no_backend', `every provider of ${what} is disabled`);
    }
    return { role, candidates: this.balance(usable) };
  }

  private balance(candidates: readonly Candidate[]): Candidate[] {
    const groups = new Map<string, Candidate[]>();
    for (const candidate of candidates) {
      const group = groups.get(candidate.model);
      if (group === undefined) groups.set(candidate.model, [candidate]);
      else group.push(candidate);
    }
    const ordered: Candidate[] = [];
    for (const [model, group] of groups) {
      if (group.length === 1) {
        ordered.push(...group);
        continue;
      }
      const key = `${model}\u0000${group.map((candidate) => candidate.provider.name).join('\u0000')}`;
      const turn = this.turns.get(key) ?? 0;
      this.turns.set(key, (turn + 1) % group.length);
      for (let offset = 0; offset < group.length; offset += 1) {
        const candidate = group[(turn + offset) % group.length];
        if (candidate !== undefined) ordered.push(candidate);
      }
    }
    return ordered;
  }
}
