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
    revokeTokenTypes: ['refresh_token'],
    revokeTokensOnSignout: true,
    loadUserInfo: false,
  });
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
    setTokenSource({
      token: async () => {
        if (manager === undefined) return undefined;
        const current = await manager.getUser();
        return current !== null && !current.expired ? current.access_token : undefined;
      },
      renew: async () => {
        if (manager === undefined) return undefined;
        try {
          const renewed = await manager.signinSilent();
          return renewed?.access_token;
        } catch {
          await manager.removeUser();
          return undefined;
        }
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
