import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './app/global.css';

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { App } from './app/App.js';
import { loadAuthConfig } from './auth/auth-config.js';

const root = createRoot(document.getElementById('root') as HTMLElement);

loadAuthConfig().then(
  (authConfig) => {
    root.render(
      <StrictMode>
        <App authConfig={authConfig} />
      </StrictMode>,
    );
  },
  (error: unknown) => {
    // Without its sign-in settings the app cannot start; say so in plain text rather than a blank page.
    const message = document.createElement('p');
    message.setAttribute('role', 'alert');
    message.style.cssText = 'font-family: system-ui, sans-serif; padding: 2rem;';
    message.textContent = `aibox cannot start: ${error instanceof Error ? error.message : String(error)}. Reload to try again.`;
    document.getElementById('root')?.append(message);
  },
);
