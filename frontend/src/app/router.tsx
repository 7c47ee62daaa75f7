import { lazy } from 'react';
import { createBrowserRouter, Navigate } from 'react-router';

import { AdminLayout } from '../admin/AdminLayout.js';
import { CallbackPage, RequireAuth, SignInPage } from '../auth/pages.js';
import { ChatLayout } from '../chat/ChatLayout.js';
import { ChatPage } from '../chat/ChatPage.js';
import { NotFoundPage } from './NotFoundPage.js';

// Admin pages are their own chunks: most people never load them.
const InferencePage = lazy(() =>
  import('../admin/inference/InferencePage.js').then((module) => ({ default: module.InferencePage })),
);
const AuditPage = lazy(() =>
  import('../admin/audit/AuditPage.js').then((module) => ({ default: module.AuditPage })),
);
const AuditTurnPage = lazy(() =>
  import('../admin/audit/AuditTurnPage.js').then((module) => ({ default: module.AuditTurnPage })),
);
const SandboxesPage = lazy(() =>
  import('../admin/sandboxes/SandboxesPage.js').then((module) => ({ default: module.SandboxesPage })),
);
const SandboxPage = lazy(() =>
  import('../admin/sandboxes/SandboxPage.js').then((module) => ({ default: module.SandboxPage })),
);
const AgentsPage = lazy(() =>
  import('../admin/agents/AgentsPage.js').then((module) => ({ default: module.AgentsPage })),
);

export function createRouter() {
  return createBrowserRouter([
    { path: '/sign-in', element: <SignInPage /> },
    { path: '/auth/callback', element: <CallbackPage /> },
    {
      path: '/',
      element: (
        <RequireAuth>
          <ChatLayout />
        </RequireAuth>
      ),
      children: [
        { index: true, element: <ChatPage /> },
        { path: 'c/:conversationId', element: <ChatPage /> },
      ],
    },
    {
      path: '/admin',
      element: (
        <RequireAuth>
          <AdminLayout />
        </RequireAuth>
      ),
      children: [
        { index: true, element: <Navigate to="/admin/inference" replace /> },
        { path: 'inference', element: <InferencePage /> },
        { path: 'audit', element: <AuditPage /> },
        { path: 'audit/turns/:turnId', element: <AuditTurnPage /> },
        { path: 'sandboxes', element: <SandboxesPage /> },
        { path: 'sandboxes/:sandboxId', element: <SandboxPage /> },
        { path: 'agents', element: <AgentsPage /> },
      ],
    },
    { path: '*', element: <NotFoundPage /> },
  ]);
}
