import { useEffect } from 'react';
import { Outlet } from 'react-router';

import { Shell } from '../app/Shell.js';
import { preloadMarkdown } from './ChatMessages.js';
import { ConversationList } from './ConversationList.js';
import { LiveTurnsProvider } from './live-turns-context.js';

/**
 * The chat frame: the conversation list beside the page. Running turns live here, above the routes, so that
 * going from `/` to the new conversation (or anywhere in the chat) keeps their streams.
 */
export function ChatLayout() {
  useEffect(preloadMarkdown, []);
  return (
    <LiveTurnsProvider>
      <Shell navbar={<ConversationList />}>
        <Outlet />
      </Shell>
    </LiveTurnsProvider>
  );
}
