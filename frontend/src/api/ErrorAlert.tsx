import { Alert, Anchor, Button, Group, Text } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { Link } from 'react-router';

import { useIsAdmin } from '../auth/me.js';
import { ApiError } from './api-error.js';
import { describeError } from './error-messages.js';

/** The code and server sentence of any thrown value. */
export function errorCode(error: unknown): { code: string; message: string; turnId?: string } {
  if (error instanceof ApiError) {
    return error.turnId === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, turnId: error.turnId };
  }
  return { code: 'unknown', message: error instanceof Error ? error.message : String(error) };
}

/**
 * An error said for people: a sentence per code (error-messages.ts), the admin's way to fix it when the viewer
 * is an admin, and a retry button when trying again may help.
 */
export function ErrorAlert({
  error,
  code,
  message,
  onRetry,
}: {
  error?: unknown;
  code?: string;
  message?: string;
  onRetry?: () => void;
}) {
  const isAdmin = useIsAdmin();
  const fromError = error === undefined ? undefined : errorCode(error);
  const resolvedCode = code ?? fromError?.code ?? 'unknown';
  const description = describeError(resolvedCode, message ?? fromError?.message);
  const action = description.action;
  return (
    <Alert
      color={resolvedCode === 'turn_cancelled' ? 'gray' : 'red'}
      title={description.title}
      icon={<IconAlertTriangle size={18} />}
      role="alert"
      data-error-code={resolvedCode}
    >
      <Text size="sm">{description.message}</Text>
      {(action !== undefined && (!action.adminOnly || isAdmin)) || (onRetry && description.retryable) ? (
        <Group mt="xs" gap="sm">
          {action !== undefined && (!action.adminOnly || isAdmin) && (
            <Anchor component={Link} to={action.to} size="sm">
              {action.label}
            </Anchor>
          )}
          {onRetry && description.retryable && (
            <Button size="xs" variant="light" onClick={onRetry}>
              Try again
            </Button>
          )}
        </Group>
      ) : null}
    </Alert>
  );
}
