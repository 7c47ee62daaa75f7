import { Alert, Button, Center, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';

import { useAuth } from './auth.js';
import { useMe } from './me.js';

function Centered({ children }: { children: ReactNode }) {
  return (
    <Center mih="100dvh" p="md">
      <Paper withBorder shadow="sm" p="xl" radius="md" maw={420} w="100%">
        {children}
      </Paper>
    </Center>
  );
}

/** The page of a signed-out visitor: one button to the IdP. */
export function SignInPage() {
  const auth = useAuth();
  const location = useLocation();
  const [pending, setPending] = useState(false);
  const returnTo = (location.state as { from?: string } | null)?.from ?? '/';
  if (auth.status === 'signed-in') return <Navigate to={returnTo} replace />;
  return (
    <Centered>
      <Stack>
        <Title order={1} size="h2">
          aibox
        </Title>
        <Text c="dimmed">Chat and agents with a receipt for every answer.</Text>
        <Button
          size="md"
          loading={pending}
          onClick={() => {
            setPending(true);
            void auth.signIn(returnTo).catch(() => {
              setPending(false);
            });
          }}
        >
          Sign in
        </Button>
      </Stack>
    </Centered>
  );
}

/** `/auth/callback`: exchanges the code (PKCE) for tokens, then goes where the user was going. */
export function CallbackPage() {
  const auth = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | undefined>(undefined);
  const started = useRef(false);
  useEffect(() => {
    // Once only: a code can be exchanged a single time (React runs effects twice in development).
    if (started.current) return;
    started.current = true;
    auth.completeSignIn().then(
      (to) => {
        void navigate(to, { replace: true });
      },
      (failure: unknown) => {
        setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
  }, [auth, navigate]);
  return (
    <Centered>
      {error === undefined ? (
        <Center>
          <Loader aria-label="Signing in" />
        </Center>
      ) : (
        <Stack>
          <Alert color="red" title="Sign-in failed">
            {error}
          </Alert>
          <Button component={Link} to="/sign-in">
            Try again
          </Button>
        </Stack>
      )}
    </Centered>
  );
}

/** Renders its children for a signed-in user; sends anyone else to the sign-in page. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const auth = useAuth();
  const location = useLocation();
  if (auth.status === 'loading') {
    return (
      <Center mih="100dvh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (auth.status === 'signed-out') {
    return <Navigate to="/sign-in" replace state={{ from: `${location.pathname}${location.search}` }} />;
  }
  return children;
}

/** Admin pages: the gateway refuses non-admins anyway (403); this keeps them from seeing the pages at all. */
export function RequireAdmin({ children }: { children: ReactNode }) {
  const me = useMe();
  if (me.isPending) {
    return (
      <Center p="xl">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (me.data?.roles.includes('admin') !== true) {
    return (
      <Center p="xl">
        <Alert color="red" title="Administrators only" maw={480}>
          <Stack gap="sm">
            <Text size="sm">
              This part of aibox is for administrators. Your account does not have that role.
            </Text>
            <Button component={Link} to="/" variant="light" w="fit-content">
              Back to chat
            </Button>
          </Stack>
        </Alert>
      </Center>
    );
  }
  return children;
}
