import { UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

import { setTokenSource } from '../api/client.js';
import type { AuthConfig } from './auth-config.js';

/** Where the IdP sends the browser back to, on this origin (registered with the IdP for the SPA client). */
export const CALLBACK_PATH = '/auth/callback';
const RETURN_TO_KEY = 'aibox.returnTo';

export interface Auth {
  /** `signed-in` also in auth-disabled mode (no token at all). */
  readonly status: 'loading' | 'signed-in' | 'signed-out';
  readonly mode: AuthConfig['mode'];
  readonly user: User | undefined;
  /** Sends the browser to the IdP; it comes back to `returnTo` (default: where it is now). */
  signIn(returnTo?: string): Promise<void>;
  /** Revokes the refresh token and ends the IdP session. */
  signOut(): Promise<void>;
  /** Completes the code exchange on the callback page and answers where to go next. */
  completeSignIn(): Promise<string>;
}

const AuthContext = createContext<Auth | undefined>(undefined);

export function createUserManager(config: Extract<AuthConfig, { mode: 'oidc' }>): UserManager {
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.client_id,
    redirect_uri: `${origin}${CALLBACK_PATH}`,
    post_logout_redirect_uri: `${origin}/`,
    response_type: 'code',
    scope: config.scope,
    // Silent refresh with the (rotating) refresh token before the access token expires.
    automaticSilentRenew: true,
    // Tokens live in this tab's session storage only: closing the tab forgets them.
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    // Sign-out revokes the refresh token itself (revokeRefreshToken): oidc-client-ts refuses a revocation
    // answer that is not JSON, and RFC 7009 leaves that body to the IdP.
    revokeTokensOnSignout: false,
    loadUserInfo: false,
  });
}

/**
 * Revokes the refresh token at the IdP (RFC 7009) so that it cannot be used after sign-out. The answer's body
 * means nothing; a failure does not keep the user signed in.
 */
async function revokeRefreshToken(manager: UserManager, token: string): Promise<void> {
  try {
    const endpoint = await manager.metadataService.getRevocationEndpoint(true);
    if (endpoint === undefined) return;
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token,
        token_type_hint: 'refresh_token',
        client_id: manager.settings.client_id,
      }),
    });
    await response.body?.cancel();
  } catch {
    // The IdP session still ends below, and the token's own lifetime bounds it.
  }
}

export function AuthProvider({ config, children }: { config: AuthConfig; children: ReactNode }) {
  const manager = useMemo(() => (config.mode === 'oidc' ? createUserManager(config) : undefined), [config]);
  const [user, setUser] = useState<User | undefined>(undefined);
  const [loaded, setLoaded] = useState(manager === undefined);

  useEffect(() => {
    if (manager === undefined) return undefined;
    let live = true;
    void manager.getUser().then((stored) => {
      if (!live) return;
      setUser(stored !== null && !stored.expired ? stored : undefined);
      setLoaded(true);
    });
    const loadedUser = (next: User): void => {
      setUser(next);
    };
    const unloaded = (): void => {
      setUser(undefined);
    };
    const renewFailed = (): void => {
      // The refresh token is gone or revoked: the user signs in again.
      void manager.removeUser().then(unloaded);
    };
    manager.events.addUserLoaded(loadedUser);
    manager.events.addUserUnloaded(unloaded);
    manager.events.addSilentRenewError(renewFailed);
    manager.events.addAccessTokenExpired(renewFailed);
    return () => {
      live = false;
      manager.events.removeUserLoaded(loadedUser);
      manager.events.removeUserUnloaded(unloaded);
      manager.events.removeSilentRenewError(renewFailed);
      manager.events.removeAccessTokenExpired(renewFailed);
    };
  }, [manager]);

  useEffect(() => {
    let renewing: Promise<string | undefined> | undefined;
    setTokenSource({
      token: async () => {
        if (manager === undefined) return undefined;
        const current = await manager.getUser();
        return current !== null && !current.expired ? current.access_token : undefined;
      },
      renew: () => {
        if (manager === undefined) return Promise.resolve(undefined);
        // One renewal for every request that met a 401 at once: refresh tokens rotate, so a second
        // concurrent refresh would spend the old token, be refused, and sign the user out.
        renewing ??= manager
          .signinSilent()
          .then(
            (renewed) => renewed?.access_token,
            async () => {
              await manager.removeUser();
              return undefined;
            },
          )
          .finally(() => {
            renewing = undefined;
          });
        return renewing;
      },
    });
  }, [manager]);

  const auth = useMemo<Auth>(
    () => ({
      status: manager === undefined ? 'signed-in' : !loaded ? 'loading' : user ? 'signed-in' : 'signed-out',
      mode: config.mode,
      user,
      async signIn(returnTo) {
        if (manager === undefined) return;
        sessionStorage.setItem(
          RETURN_TO_KEY,
          returnTo ?? `${window.location.pathname}${window.location.search}`,
        );
        await manager.signinRedirect();
      },
      async signOut() {
        if (manager === undefined) return;
        const current = await manager.getUser();
        if (current?.refresh_token !== undefined) await revokeRefreshToken(manager, current.refresh_token);
        await manager.removeUser();
        await manager.signoutRedirect(current?.id_token ? { id_token_hint: current.id_token } : undefined);
      },
      async completeSignIn() {
        if (manager === undefined) return '/';
        const signedIn = await manager.signinRedirectCallback();
        setUser(signedIn);
        const returnTo = sessionStorage.getItem(RETURN_TO_KEY) ?? '/';
        sessionStorage.removeItem(RETURN_TO_KEY);
        // Only a path on this origin: never an open redirect.
        return returnTo.startsWith('/') && !returnTo.startsWith('//') && !returnTo.startsWith(CALLBACK_PATH)
          ? returnTo
          : '/';
      },
    }),
    [manager, loaded, user, config.mode],
  );
  return <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (auth === undefined) throw new Error('useAuth outside AuthProvider');
  return auth;
}
