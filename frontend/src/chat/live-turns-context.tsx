import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';

import { LiveTurns, type LiveTurn, type LiveTurnsOptions } from './live-turns.js';

const LiveTurnsContext = createContext<LiveTurns | undefined>(undefined);

/** Holds this tab's running turns above the chat routes, so that moving between them keeps every stream. */
export function LiveTurnsProvider({
  children,
  options,
}: {
  children: ReactNode;
  options?: LiveTurnsOptions;
}) {
  const queryClient = useQueryClient();
  const [store] = useState(() => new LiveTurns(queryClient, options));
  useEffect(
    () => () => {
      store.dispose();
    },
    [store],
  );
  return <LiveTurnsContext.Provider value={store}>{children}</LiveTurnsContext.Provider>;
}

export function useLiveTurnStore(): LiveTurns {
  const store = useContext(LiveTurnsContext);
  if (store === undefined) throw new Error('useLiveTurnStore outside LiveTurnsProvider');
  return store;
}

/** Every live turn, re-rendering on each change. */
export function useLiveTurns(): readonly LiveTurn[] {
  const store = useLiveTurnStore();
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
