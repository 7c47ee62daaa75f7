import { Center, Loader, NavLink, ScrollArea, Stack } from '@mantine/core';
import { IconBox, IconCpu, IconRobot, IconShieldCheck } from '@tabler/icons-react';
import { Suspense } from 'react';
import { Link, Outlet, useLocation } from 'react-router';

import { Shell } from '../app/Shell.js';
import { RequireAdmin } from '../auth/pages.js';

const SECTIONS = [
  { to: '/admin/inference', label: 'Inference', icon: IconCpu },
  { to: '/admin/audit', label: 'Audit', icon: IconShieldCheck },
  { to: '/admin/sandboxes', label: 'Sandboxes', icon: IconBox },
  { to: '/admin/agents', label: 'Agents and skills', icon: IconRobot },
] as const;

function AdminNav() {
  const location = useLocation();
  return (
    <ScrollArea p="sm" component="nav" aria-label="Admin sections">
      <Stack gap={2}>
        {SECTIONS.map(({ to, label, icon: Icon }) => {
          const active = location.pathname === to || location.pathname.startsWith(`${to}/`);
          return (
            <NavLink
              key={to}
              component={Link}
              to={to}
              label={label}
              leftSection={<Icon size={18} />}
              active={active}
              aria-current={active ? 'page' : undefined}
            />
          );
        })}
      </Stack>
    </ScrollArea>
  );
}

/** `/admin/*`: the admin sections beside the page, for the `admin` role only. */
export function AdminLayout() {
  return (
    <Shell navbar={<AdminNav />}>
      <RequireAdmin>
        <Suspense
          fallback={
            <Center p="xl">
              <Loader aria-label="Loading" />
            </Center>
          }
        >
          <Outlet />
        </Suspense>
      </RequireAdmin>
    </Shell>
  );
}
