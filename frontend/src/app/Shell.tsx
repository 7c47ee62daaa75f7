import {
  ActionIcon,
  AppShell,
  Avatar,
  Burger,
  Group,
  Menu,
  Text,
  Tooltip,
  UnstyledButton,
  VisuallyHidden,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconLogout, IconMessages, IconMoon, IconSettings, IconSun } from '@tabler/icons-react';
import { useEffect, type ReactNode } from 'react';
import { Link, useLocation } from 'react-router';

import { useAuth } from '../auth/auth.js';
import { useIsAdmin, useMe } from '../auth/me.js';

function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light', { getInitialValueInEffect: false });
  const next = scheme === 'dark' ? 'light' : 'dark';
  return (
    <Tooltip label={`Switch to ${next} theme`}>
      <ActionIcon
        variant="subtle"
        size="lg"
        aria-label={`Switch to ${next} theme`}
        onClick={() => {
          setColorScheme(next);
        }}
      >
        {scheme === 'dark' ? <IconSun size={20} /> : <IconMoon size={20} />}
      </ActionIcon>
    </Tooltip>
  );
}

function UserMenu() {
  const auth = useAuth();
  const me = useMe();
  const email = me.data?.email ?? '';
  const label = email !== '' ? email : (me.data?.uid ?? '');
  return (
    <Menu position="bottom-end" withArrow>
      <Menu.Target>
        <UnstyledButton>
          {/* The initials are decoration; the name, unseen, says whose account it is. */}
          <Avatar radius="xl" size="md" color="blue" aria-hidden>
            {label.slice(0, 2).toUpperCase()}
          </Avatar>
          <VisuallyHidden>Account: {label}</VisuallyHidden>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{label}</Menu.Label>
        {auth.mode === 'oidc' && (
          <Menu.Item
            leftSection={<IconLogout size={16} />}
            onClick={() => {
              void auth.signOut();
            }}
          >
            Sign out
          </Menu.Item>
        )}
      </Menu.Dropdown>
    </Menu>
  );
}

/**
 * The frame of every signed-in page: a header with the main sections, the theme switch and the account menu,
 * an optional side panel (a drawer below the `sm` breakpoint) and the page.
 */
export function Shell({ navbar, children }: { navbar?: ReactNode; children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure(false);
  const isAdmin = useIsAdmin();
  const location = useLocation();
  // Navigating closes the drawer on a phone.
  useEffect(() => {
    close();
  }, [location.pathname, close]);
  const inAdmin = location.pathname.startsWith('/admin');
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={
        navbar === undefined ? undefined : { width: 300, breakpoint: 'sm', collapsed: { mobile: !opened } }
      }
      padding={0}
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            {navbar !== undefined && (
              <Burger
                opened={opened}
                onClick={toggle}
                hiddenFrom="sm"
                size="sm"
                aria-label="Toggle side panel"
              />
            )}
            <Text component={Link} to="/" fw={700} size="lg" td="none" c="inherit">
              aibox
            </Text>
          </Group>
          <Group gap="xs" wrap="nowrap" component="nav" aria-label="Main">
            <Tooltip label="Chat">
              <ActionIcon
                component={Link}
                to="/"
                variant={inAdmin ? 'subtle' : 'light'}
                size="lg"
                aria-label="Chat"
                aria-current={inAdmin ? undefined : 'page'}
              >
                <IconMessages size={20} />
              </ActionIcon>
            </Tooltip>
            {isAdmin && (
              <Tooltip label="Admin">
                <ActionIcon
                  component={Link}
                  to="/admin"
                  variant={inAdmin ? 'light' : 'subtle'}
                  size="lg"
                  aria-label="Admin"
                  aria-current={inAdmin ? 'page' : undefined}
                >
                  <IconSettings size={20} />
                </ActionIcon>
              </Tooltip>
            )}
            <ColorSchemeToggle />
            <UserMenu />
          </Group>
        </Group>
      </AppShell.Header>
      {navbar !== undefined && <AppShell.Navbar>{navbar}</AppShell.Navbar>}
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
