import { MantineProvider, localStorageColorSchemeManager } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { RouterProvider } from 'react-router';

import type { AuthConfig } from '../auth/auth-config.js';
import { AuthProvider } from '../auth/auth.js';
import { createQueryClient } from './query-client.js';
import { createRouter } from './router.js';
import { resolveContrast, theme } from './theme.js';

const colorSchemeManager = localStorageColorSchemeManager({ key: 'aibox.color-scheme' });

export function App({ authConfig }: { authConfig: AuthConfig }) {
  const [queryClient] = useState(createQueryClient);
  const [router] = useState(createRouter);
  return (
    <MantineProvider
      theme={theme}
      cssVariablesResolver={resolveContrast}
      defaultColorScheme="auto"
      colorSchemeManager={colorSchemeManager}
    >
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <AuthProvider config={authConfig}>
          <RouterProvider router={router} />
        </AuthProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
