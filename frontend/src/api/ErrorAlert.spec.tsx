import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { useMe } from '../auth/me.js';
import { renderWithProviders } from '../test-utils.js';
import { ApiError } from './api-error.js';
import { ErrorAlert } from './ErrorAlert.js';

function stubMe(roles: string[]): void {
  vi.stubGlobal('fetch', (input: RequestInfo | URL) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url === '/v1/me') {
      return Promise.resolve(
        Response.json({ tid: 't-1', uid: 'u-1', email: 'ada@example.com', roles }, { status: 200 }),
      );
    }
    return Promise.resolve(Response.json({ error: 'no such route', code: 'route_unknown' }, { status: 404 }));
  });
}

/** Shows who is signed in once `/v1/me` answered, so a test knows the admin check has its answer. */
function WhoAmI() {
  const me = useMe();
  return me.data === undefined ? null : <span>{me.data.email}</span>;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ErrorAlert', () => {
  it('says the sentence for the code and shows an admin the way to fix it', async () => {
    stubMe(['admin']);
    renderWithProviders(<ErrorAlert code="role_not_configured" message='No backend for role "default"' />);
    expect(screen.getByRole('alert')).toHaveTextContent('An administrator has not set up a model yet.');
    expect(await screen.findByRole('link', { name: 'Set up models' })).toHaveAttribute(
      'href',
      '/admin/inference',
    );
  });

  it('does not show the admin link to someone who is not an admin', async () => {
    stubMe(['user']);
    renderWithProviders(
      <>
        <WhoAmI />
        <ErrorAlert code="role_not_configured" />
      </>,
    );
    await screen.findByText('ada@example.com');
    expect(screen.getByRole('alert')).toHaveTextContent('An administrator has not set up a model yet.');
    expect(screen.queryByRole('link', { name: 'Set up models' })).not.toBeInTheDocument();
  });

  it('falls back to the server’s sentence for a code it does not know', () => {
    stubMe([]);
    renderWithProviders(<ErrorAlert code="quota_of_the_future" message="The future quota was reached." />);
    expect(screen.getByRole('alert')).toHaveTextContent('The future quota was reached.');
  });

  it('takes the code and sentence from a thrown ApiError', () => {
    stubMe([]);
    renderWithProviders(<ErrorAlert error={new ApiError(409, 'approval_decided', 'already decided')} />);
    expect(screen.getByRole('alert')).toHaveTextContent(
      'This request was already approved, denied or has expired.',
    );
  });

  it('offers to try again only when the error is retryable and there is a way to retry', async () => {
    stubMe([]);
    const onRetry = vi.fn();
    const { unmount } = renderWithProviders(<ErrorAlert code="rate_limited" onRetry={onRetry} />);
    await userEvent.setup().click(screen.getByRole('button', { name: 'Try again' }));
    expect(onRetry).toHaveBeenCalledOnce();
    unmount();

    renderWithProviders(<ErrorAlert code="attachment_unsupported" onRetry={onRetry} />);
    expect(screen.getByRole('alert')).toHaveTextContent(
      'Only images and text files can be attached to a message.',
    );
    expect(screen.queryByRole('button', { name: 'Try again' })).not.toBeInTheDocument();
  });

  it('has no retry button without a retry handler, even for a retryable code', () => {
    stubMe([]);
    renderWithProviders(<ErrorAlert code="backend_unavailable" />);
    expect(screen.queryByRole('button', { name: 'Try again' })).not.toBeInTheDocument();
  });
});
