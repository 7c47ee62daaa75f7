import { Box, Button, Drawer, Loader, Tooltip, useMatches, type MantineColor } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconHourglassHigh, IconShieldCheck, IconShieldOff, IconShieldX } from '@tabler/icons-react';
import { useState, type ReactNode } from 'react';

import { FAILED_CHECKS } from './receipt-verification.js';
import { ReceiptPanel } from './ReceiptPanel.js';
import { useReceipt, useSeenOnce, type ReceiptState } from './use-receipt.js';

interface BadgeLook {
  readonly word: string;
  readonly color: MantineColor;
  readonly variant: 'light' | 'subtle';
  readonly icon: ReactNode;
  readonly hint: string;
}

const LOOKS: Readonly<Record<ReceiptState['status'], BadgeLook>> = {
  sealing: {
    word: 'Sealing',
    color: 'gray',
    variant: 'subtle',
    icon: <IconHourglassHigh size={14} aria-hidden />,
    hint: 'The audit log is sealing this answer',
  },
  verifying: {
    word: 'Verifying',
    color: 'blue',
    variant: 'subtle',
    icon: <Loader size={12} color="blue" aria-hidden />,
    hint: "Checking this answer's receipt in your browser",
  },
  verified: {
    word: 'Verified',
    color: 'green',
    variant: 'light',
    icon: <IconShieldCheck size={14} aria-hidden />,
    hint: "Verified in your browser: this answer's record is sealed in the signed audit log",
  },
  failed: {
    word: 'Failed',
    color: 'red',
    variant: 'light',
    icon: <IconShieldX size={14} aria-hidden />,
    hint: 'Verification failed',
  },
  unavailable: {
    word: 'Unavailable',
    color: 'orange',
    variant: 'subtle',
    icon: <IconShieldOff size={14} aria-hidden />,
    hint: 'The receipt could not be checked',
  },
};

/** Wide enough for the longest word, so a changing state never moves the message actions around it. */
const BADGE_WIDTH = '8rem';

/**
 * The receipt of one finished answer, verified in the browser with `@aibox/audit-proof`: a small badge that
 * opens the receipt panel. It fetches nothing until it first scrolls into view.
 */
export function ReceiptBadge({ turnId }: { turnId: string }) {
  const { ref, seen } = useSeenOnce<HTMLSpanElement>();
  const state = useReceipt(turnId, { enabled: seen });
  const [opened, { open, close }] = useDisclosure(false);
  // The drawer is mounted on first open only: a conversation holds one badge per answer.
  const [drawerMounted, setDrawerMounted] = useState(false);
  const drawerSize = useMatches({ base: '100%', sm: '34rem' });
  const look = LOOKS[state.status];
  const failure = state.status === 'failed' ? FAILED_CHECKS[state.outcome.report.failure.code] : undefined;
  const label = failure === undefined ? `Receipt: ${look.word.toLowerCase()}` : `Receipt: failed, ${failure}`;
  const hint = failure === undefined ? look.hint : `${look.hint}: ${failure}`;
  return (
    <Box component="span" ref={ref} display="inline-block">
      <Tooltip label={hint} openDelay={400} multiline maw={280} withArrow>
        <Button
          size="compact-xs"
          variant={look.variant}
          color={look.color}
          w={BADGE_WIDTH}
          leftSection={look.icon}
          aria-label={label}
          aria-haspopup="dialog"
          data-receipt-status={state.status}
          onClick={() => {
            setDrawerMounted(true);
            open();
          }}
        >
          {look.word}
        </Button>
      </Tooltip>
      {drawerMounted && (
        <Drawer opened={opened} onClose={close} position="right" size={drawerSize} title="Receipt">
          <ReceiptPanel turnId={turnId} state={state} />
        </Drawer>
      )}
    </Box>
  );
}
