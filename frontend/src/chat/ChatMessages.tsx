import { ActionIcon, Badge, Box, Button, Group, Image, Paper, Text, Textarea, Tooltip } from '@mantine/core';
import { IconArrowsSplit, IconFileText, IconPencil, IconRefresh } from '@tabler/icons-react';
import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';

import { ReceiptBadge } from '../receipts/ReceiptBadge.js';
import { tokenCount, tokenSplit, type TokenCount } from '../receipts/token-count.js';
import { useVerifiedTokenCount } from '../receipts/use-receipt.js';
import classes from './chat.module.css';
import { userContentView, type AssistantBlock, type UserBlock } from './conversation-blocks.js';
import { CopyIconButton } from './CopyIconButton.js';
import { fullMessageTime, shortMessageTime } from './message-time.js';
import { ToolCallCard } from './ToolCallCard.js';
import { turnText, type TurnUsage } from './turn-stream.js';

let markdownLoaded = false;
function loadMarkdown() {
  return import('./Markdown.js').then((module) => {
    markdownLoaded = true;
    return module;
  });
}
const Markdown = lazy(() => loadMarkdown().then((module) => ({ default: module.Markdown })));

/** Loads the Markdown renderer ahead of the first answer, so that answer does not wait for it. */
export function preloadMarkdown(): void {
  void loadMarkdown();
}

/**
 * Whether the Markdown renderer has loaded. A stored conversation waits for it behind its skeletons, so its
 * answers appear once, formatted, instead of as plain text that reflows a moment later.
 */
export function useMarkdownReady(): boolean {
  const [ready, setReady] = useState(markdownLoaded);
  useEffect(() => {
    if (ready) return undefined;
    let live = true;
    void loadMarkdown().then(() => {
      if (live) setReady(true);
    });
    return () => {
      live = false;
    };
  }, [ready]);
  return ready;
}

/** Markdown once its renderer has loaded, the plain text until then (the same words, in the same place). */
function LazyMarkdown({ text }: { text: string }) {
  return (
    <Suspense
      fallback={
        <Text style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere', lineHeight: 1.6 }}>{text}</Text>
      }
    >
      <Markdown text={text} />
    </Suspense>
  );
}

function ActionButton({
  label,
  onClick,
  icon,
  disabled,
}: {
  label: string;
  onClick: () => void;
  icon: ReactNode;
  disabled?: boolean;
}) {
  return (
    <Tooltip label={label} withArrow>
      <ActionIcon
        variant="subtle"
        color="gray"
        size="sm"
        aria-label={label}
        onClick={onClick}
        disabled={disabled}
      >
        {icon}
      </ActionIcon>
    </Tooltip>
  );
}

/**
 * When a message was stored, in its action row (which keeps its height, so the time appearing once the
 * message is stored moves nothing): short there, the whole date and time on hover.
 */
function MessageTime({ at }: { at: string | undefined }) {
  if (at === undefined) return null;
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return null;
  return (
    <Text
      component="time"
      dateTime={at}
      title={fullMessageTime(date)}
      size="xs"
      c="dimmed"
      px={4}
      style={{ whiteSpace: 'nowrap' }}
    >
      {shortMessageTime(date, new Date())}
    </Text>
  );
}

/** "25 tokens", with the split into prompt and completion on hover where it is known. */
function TokenCountText({ count }: { count: TokenCount }) {
  // No tokens at all means none were reported (a provider without usage), not a free answer.
  if (count.total <= 0) return null;
  return (
    <Text
      component="span"
      title={tokenSplit(count.prompt, count.completion)}
      size="xs"
      c="dimmed"
      px={4}
      ml="auto"
      style={{ whiteSpace: 'nowrap' }}
    >
      {count.total === 1 ? '1 token' : `${count.total.toLocaleString()} tokens`}
    </Text>
  );
}

function VerifiedTokens({ turnId }: { turnId: string }) {
  const count = useVerifiedTokenCount(turnId);
  return count === undefined ? null : <TokenCountText count={count} />;
}

/**
 * How many tokens an answer used: what the turn's stream said while this tab has it, otherwise what its
 * receipt says once the browser has verified it (the badge's own verification, no request of its own). It
 * sits at the far end of the action row, so appearing there moves nothing in it.
 */
function AnswerTokens({ usage, turnId }: { usage: TurnUsage | undefined; turnId: string | undefined }) {
  if (usage !== undefined) {
    return (
      <TokenCountText count={tokenCount(usage.total_tokens, usage.prompt_tokens, usage.completion_tokens)} />
    );
  }
  return turnId === undefined ? null : <VerifiedTokens turnId={turnId} />;
}

/** A message of the user's: the text, its images and files; its time, copy, edit-and-resend and fork under it. */
export function UserMessage({
  block,
  onResend,
  onFork,
  busy = false,
}: {
  block: UserBlock;
  /** Sends the edited text again, into a fork that ends before this message; absent when not possible. */
  onResend?: ((text: string) => void) | undefined;
  onFork?: (() => void) | undefined;
  busy?: boolean;
}) {
  const view = userContentView(block.content, block.attachments);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(view.text);
  return (
    <Box
      component="article"
      aria-label="You"
      className={classes.message}
      my="lg"
      style={{ display: 'flex', flexDirection: 'column', alignItems: 'flex-end' }}
    >
      {view.images.length > 0 && (
        <Group gap="xs" mb={6} justify="flex-end">
          {view.images.map((src, index) => (
            <Image
              key={index}
              src={src}
              alt={`Image ${index + 1}`}
              h={120}
              w="auto"
              maw={240}
              radius="md"
              fit="contain"
            />
          ))}
        </Group>
      )}
      {view.files.length > 0 && (
        <Group gap={6} mb={6} justify="flex-end">
          {view.files.map((name) => (
            <Badge
              key={name}
              variant="default"
              radius="sm"
              leftSection={<IconFileText size={12} />}
              style={{ textTransform: 'none' }}
            >
              {name}
            </Badge>
          ))}
        </Group>
      )}
      {editing ? (
        <Paper withBorder radius="lg" p="sm" w="100%">
          <Textarea
            aria-label="Edit message"
            autosize
            minRows={2}
            maxRows={12}
            value={draft}
            data-autofocus
            autoFocus
            onChange={(event) => {
              setDraft(event.currentTarget.value);
            }}
          />
          <Group justify="flex-end" mt="xs" gap="xs">
            <Button
              size="xs"
              variant="default"
              onClick={() => {
                setEditing(false);
                setDraft(view.text);
              }}
            >
              Cancel
            </Button>
            <Button
              size="xs"
              disabled={draft.trim() === '' || onResend === undefined}
              loading={busy}
              onClick={() => {
                onResend?.(draft.trim());
                setEditing(false);
              }}
            >
              Resend
            </Button>
          </Group>
        </Paper>
      ) : (
        view.text !== '' && (
          <Box className={classes.userBubble} px="md" py={8} maw="85%">
            <Text size="md" style={{ whiteSpace: 'pre-wrap' }}>
              {view.text}
            </Text>
          </Box>
        )
      )}
      {!editing && (
        <Group gap={2} mt={4} className={classes.actions}>
          <MessageTime at={block.createdAt} />
          <CopyIconButton value={view.text} />
          {onResend !== undefined && (
            <ActionButton
              label="Edit"
              icon={<IconPencil size={16} />}
              disabled={busy}
              onClick={() => {
                setDraft(view.text);
                setEditing(true);
              }}
            />
          )}
          {onFork !== undefined && (
            <ActionButton
              label="Fork"
              icon={<IconArrowsSplit size={16} />}
              onClick={onFork}
              disabled={busy}
            />
          )}
        </Group>
      )}
    </Box>
  );
}

const STATUS_NOTE: Partial<Record<AssistantBlock['status'], string>> = {
  cancelled: 'Stopped',
  failed: 'Incomplete',
  partial: 'Incomplete',
};

/**
 * An answer: Markdown text and tool calls in the order they happened. While it streams it is `aria-busy` and
 * grows in place; once finished it has copy, regenerate, fork, its receipt, once stored its time, and the
 * tokens it used.
 */
export function AssistantMessage({
  block,
  usage,
  onRegenerate,
  onFork,
  busy = false,
}: {
  block: AssistantBlock;
  /** The turn's usage from its stream, when this tab streamed it. */
  usage?: TurnUsage | undefined;
  onRegenerate?: (() => void) | undefined;
  onFork?: (() => void) | undefined;
  busy?: boolean;
}) {
  const streaming = block.status === 'streaming';
  const text = turnText(block.parts);
  const lastPart = block.parts.at(-1);
  const note = STATUS_NOTE[block.status];
  return (
    <Box component="article" aria-label="Assistant" aria-busy={streaming} className={classes.message} my="lg">
      {block.parts.map((part, index) =>
        part.kind === 'text' ? (
          <Box key={index} className={streaming && part === lastPart ? classes.cursor : undefined}>
            <LazyMarkdown text={part.text} />
          </Box>
        ) : (
          <ToolCallCard key={part.id} part={part} running={streaming} />
        ),
      )}
      {streaming && lastPart?.kind !== 'text' && (
        <Text c="dimmed" size="sm" className={`${classes.pending} ${classes.cursor}`}>
          {block.parts.length === 0 ? 'Thinking' : ''}
        </Text>
      )}
      {!streaming && (
        <Group gap={4} mt={6} className={classes.actions} wrap="wrap">
          {text !== '' && <CopyIconButton value={text} />}
          {onRegenerate !== undefined && (
            <ActionButton
              label="Regenerate"
              icon={<IconRefresh size={16} />}
              onClick={onRegenerate}
              disabled={busy}
            />
          )}
          {onFork !== undefined && (
            <ActionButton
              label="Fork"
              icon={<IconArrowsSplit size={16} />}
              onClick={onFork}
              disabled={busy}
            />
          )}
          {note !== undefined && (
            <Text size="xs" c="dimmed">
              {note}
            </Text>
          )}
          {block.turnId !== undefined && <ReceiptBadge turnId={block.turnId} />}
          <MessageTime at={block.createdAt} />
          <AnswerTokens usage={usage} turnId={block.turnId} />
        </Group>
      )}
    </Box>
  );
}
