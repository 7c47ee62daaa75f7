import { Anchor, Box, Group, Skeleton, Stack, Text, Title } from '@mantine/core';
import { IconArrowsSplit } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';

import { ApiError } from '../api/api-error.js';
import { ErrorAlert } from '../api/ErrorAlert.js';
import { AgentBadge, AgentPicker } from './AgentPicker.js';
import { ApprovalCard } from './ApprovalCard.js';
import {
  chatKeys,
  DEFAULT_AGENT_ID,
  forkConversation,
  getConversation,
  listPendingApprovals,
  type ChatRequest,
  type ConversationSummary,
  type MessageContent,
} from './chat-api.js';
import { AssistantMessage, useMarkdownReady, UserMessage } from './ChatMessages.js';
import { ChatScroller } from './ChatScroller.js';
import { Composer, type ComposerMessage } from './Composer.js';
import { conversationTitle } from './ConversationList.js';
import { conversationBlocks, unfinishedTurn, withText, type ChatBlock } from './conversation-blocks.js';
import { useLiveTurns, useLiveTurnStore } from './live-turns-context.js';
import { liveTurnOf, type LiveTurn } from './live-turns.js';
import { isTurnEnded } from './turn-stream.js';

const PAGE_HEIGHT = 'calc(100dvh - var(--app-shell-header-offset, 0px))';

/** The reading column: as wide as reads well, full width on a phone. */
function Column({ children }: { children: ReactNode }) {
  return (
    <Box maw={800} mx="auto" px="md" w="100%">
      {children}
    </Box>
  );
}

function requestOf(
  message: ComposerMessage,
  target: { conversation_id: string } | { agent_id: string },
): ChatRequest {
  return {
    ...target,
    message: message.text,
    ...(message.attachments.length === 0 ? {} : { attachments: message.attachments }),
  };
}

/** The id a fork keeps a block up to: its own message, or an answer's last one. */
function blockMessageId(block: ChatBlock | undefined): string | undefined {
  if (block === undefined) return undefined;
  return block.kind === 'user' ? block.messageId : block.lastMessageId;
}

type ThreadAction =
  | { readonly kind: 'fork'; readonly messageId: string }
  /** Sends `content` again into a fork that ends just before the user message at `index`. */
  | { readonly kind: 'resend'; readonly index: number; readonly content: MessageContent };

function Thread({
  blocks,
  live,
  running,
  busy,
  onAction,
}: {
  blocks: readonly ChatBlock[];
  /** The turn this tab streamed here: its answer keeps the stream's token usage once it is stored. */
  live?: LiveTurn | undefined;
  running: boolean;
  busy: boolean;
  onAction?: ((action: ThreadAction) => void) | undefined;
}) {
  const lastAssistant = blocks.findLastIndex((block) => block.kind === 'assistant');
  // Resending needs the message before it stored (the fork's end), or nothing before it (a new chat).
  const canResendAt = (index: number): boolean =>
    onAction !== undefined && !running && (index === 0 || blockMessageId(blocks[index - 1]) !== undefined);
  return blocks.map((block, index) => {
    if (block.kind === 'user') {
      const messageId = block.messageId;
      return (
        <UserMessage
          key={block.key}
          block={block}
          busy={busy}
          onResend={
            messageId !== undefined && canResendAt(index)
              ? (text) => {
                  onAction?.({ kind: 'resend', index, content: withText(block.content, text) });
                }
              : undefined
          }
          onFork={
            messageId !== undefined && onAction !== undefined && !running
              ? () => {
                  onAction({ kind: 'fork', messageId });
                }
              : undefined
          }
        />
      );
    }
    const asked = blocks.slice(0, index).findLastIndex((candidate) => candidate.kind === 'user');
    const question = blocks[asked];
    const messageId = block.lastMessageId;
    const streamed =
      block.live ?? (block.turnId !== undefined && live?.state.turnId === block.turnId ? live : undefined);
    return (
      <AssistantMessage
        key={block.key}
        block={block}
        usage={streamed?.state.usage}
        busy={busy}
        onRegenerate={
          index === lastAssistant &&
          question?.kind === 'user' &&
          question.messageId !== undefined &&
          canResendAt(asked)
            ? () => {
                onAction?.({ kind: 'resend', index: asked, content: question.content });
              }
            : undefined
        }
        onFork={
          messageId !== undefined && onAction !== undefined && !running && block.status !== 'streaming'
            ? () => {
                onAction({ kind: 'fork', messageId });
              }
            : undefined
        }
      />
    );
  });
}

function TurnError({ live, onRetry }: { live: LiveTurn; onRetry?: (() => void) | undefined }) {
  const error = live.state.error;
  if (error === undefined) return null;
  return (
    <Box my="md">
      <ErrorAlert code={error.code} message={error.message} {...(onRetry === undefined ? {} : { onRetry })} />
    </Box>
  );
}

function ForkedFromNote({ from }: { from: NonNullable<ConversationSummary['forked_from']> }) {
  const original = useQuery({
    queryKey: chatKeys.conversation(from.conversation_id),
    queryFn: ({ signal }) => getConversation(from.conversation_id, signal),
    staleTime: 60_000,
  });
  return (
    <Group gap={6} justify="center" mt="md">
      <IconArrowsSplit size={14} aria-hidden color="var(--mantine-color-dimmed)" />
      <Text size="xs" c="dimmed">
        Forked from{' '}
        {original.isError ? (
          'a conversation that no longer exists'
        ) : (
          <Anchor component={Link} to={`/c/${from.conversation_id}`} size="xs">
            {original.data === undefined ? 'another conversation' : conversationTitle(original.data)}
          </Anchor>
        )}
      </Text>
    </Group>
  );
}

function MessageSkeletons() {
  return (
    <Stack gap="xl" my="lg" aria-label="Loading messages">
      <Skeleton h={40} w="55%" radius="lg" ml="auto" />
      <Stack gap={8}>
        <Skeleton h={14} w="90%" />
        <Skeleton h={14} w="95%" />
        <Skeleton h={14} w="70%" />
      </Stack>
      <Skeleton h={40} w="40%" radius="lg" ml="auto" />
    </Stack>
  );
}

function ComposerFooter({ children }: { children: ReactNode }) {
  return (
    <Column>
      <Box pb="md" pt={4}>
        {children}
      </Box>
    </Column>
  );
}

/** Navigates only while the page that asked is still shown: a user who moved on stays where they went. */
function useNavigateWhileMounted(): (to: string) => void {
  const navigate = useNavigate();
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return (to) => {
    if (mounted.current) void navigate(to);
  };
}

/** `/`: a greeting, the agent picker and the composer; the first message opens the conversation. */
function NewChat() {
  const store = useLiveTurnStore();
  const turns = useLiveTurns();
  const goTo = useNavigateWhileMounted();
  const [agentId, setAgentId] = useState(DEFAULT_AGENT_ID);
  const [pendingKey, setPendingKey] = useState<string | undefined>(undefined);
  const live = pendingKey === undefined ? undefined : turns.find((turn) => turn.key === pendingKey);

  const start = (request: ChatRequest): void => {
    if (live !== undefined) store.dismiss(live.key);
    const key = store.send(request);
    setPendingKey(key);
    void store.conversationOf(key).then((conversationId) => {
      if (conversationId !== undefined) goTo(`/c/${conversationId}`);
    });
  };
  const send = (message: ComposerMessage): void => {
    start(requestOf(message, { agent_id: agentId }));
  };

  if (live === undefined) {
    return (
      <Box h={PAGE_HEIGHT} style={{ display: 'flex', flexDirection: 'column', justifyContent: 'center' }}>
        <Column>
          <Stack gap="lg" pb="10vh">
            <Title order={1} ta="center" size="h2">
              How can I help?
            </Title>
            <Group justify="center">
              <AgentPicker value={agentId} onChange={setAgentId} />
            </Group>
            <Composer onSend={send} autoFocus />
          </Stack>
        </Column>
      </Box>
    );
  }
  // The first answer streams here until the stream names the new conversation, then the page moves there.
  const running = !isTurnEnded(live.state);
  const request = live.request;
  return (
    <Box h={PAGE_HEIGHT} style={{ display: 'flex', flexDirection: 'column' }}>
      <ChatScroller
        footer={
          <ComposerFooter>
            <Composer
              onSend={send}
              running={running}
              stopping={live.cancelling}
              onStop={() => {
                void store.cancel(live.key);
              }}
            />
          </ComposerFooter>
        }
      >
        <Column>
          <Thread blocks={conversationBlocks([], live, 0)} running={running} busy={false} />
          <TurnError
            live={live}
            onRetry={
              request === undefined
                ? undefined
                : () => {
                    start(request);
                  }
            }
          />
        </Column>
      </ChatScroller>
    </Box>
  );
}

/** `/c/:conversationId`: the stored messages, the live turn, pending approvals and the composer. */
function ConversationScreen({ conversationId }: { conversationId: string }) {
  const store = useLiveTurnStore();
  const live = liveTurnOf(useLiveTurns(), conversationId);
  const markdownReady = useMarkdownReady();
  const queryClient = useQueryClient();
  const goTo = useNavigateWhileMounted();
  const conversation = useQuery({
    queryKey: chatKeys.conversation(conversationId),
    queryFn: ({ signal }) => getConversation(conversationId, signal),
  });
  const approvals = useQuery({
    queryKey: chatKeys.approvals,
    queryFn: ({ signal }) => listPendingApprovals(signal),
  });
  const running = live !== undefined && !isTurnEnded(live.state);
  const blocks = conversationBlocks(conversation.data?.messages ?? [], live, conversation.dataUpdatedAt);
  const agentId = conversation.data?.agent_id ?? live?.state.agentId ?? live?.request?.agent_id;

  const liveApprovals = new Set(
    live?.state.parts.flatMap((part) =>
      part.kind === 'tool' && part.approval !== undefined ? [part.approval.approvalId] : [],
    ) ?? [],
  );
  const pendingApprovals = (approvals.data ?? []).filter(
    (approval) =>
      approval.conversation_id === conversationId &&
      approval.status === 'pending' &&
      !liveApprovals.has(approval.id),
  );

  // After a reload, a turn still running (or one that failed) is followed from its stream.
  const unfinished =
    conversation.data === undefined
      ? undefined
      : (unfinishedTurn(conversation.data.messages) ?? pendingApprovals[0]?.turn_id);
  useEffect(() => {
    if (live === undefined && unfinished !== undefined) store.attach(conversationId, unfinished);
  }, [live, unfinished, store, conversationId]);

  const act = useMutation({
    mutationFn: async (action: ThreadAction): Promise<string> => {
      if (action.kind === 'fork') {
        const fork = await forkConversation(conversationId, action.messageId);
        return fork.id;
      }
      const before = blockMessageId(blocks[action.index - 1]);
      if (before !== undefined) {
        const fork = await forkConversation(conversationId, before);
        store.send({ conversation_id: fork.id, message: action.content });
        return fork.id;
      }
      // The first message: nothing to fork, so a new conversation with the same agent.
      const key = store.send({ agent_id: agentId ?? DEFAULT_AGENT_ID, message: action.content });
      const started = await store.conversationOf(key);
      if (started !== undefined) return started;
      const failure = store.getSnapshot().find((turn) => turn.key === key)?.state.error;
      store.dismiss(key);
      throw new ApiError(0, failure?.code ?? 'unknown', failure?.message ?? '');
    },
    onSuccess: async (target) => {
      await queryClient.invalidateQueries({ queryKey: chatKeys.conversations });
      goTo(`/c/${target}`);
    },
  });

  const retry = ((): (() => void) | undefined => {
    const failure = live?.state.error;
    if (live === undefined || failure === undefined) return undefined;
    const turnId = live.state.turnId;
    if (turnId !== undefined && failure.code === 'network_error') {
      return () => {
        store.attach(conversationId, turnId, { again: true });
      };
    }
    const request = live.request;
    if (turnId === undefined && request !== undefined) {
      return () => {
        store.dismiss(live.key);
        store.send(request);
      };
    }
    const index = blocks.findIndex(
      (block) => block.kind === 'user' && block.turnId === turnId && block.messageId !== undefined,
    );
    const asked = blocks[index];
    if (asked?.kind !== 'user') return undefined;
    return () => {
      act.mutate({ kind: 'resend', index, content: asked.content });
    };
  })();

  const title =
    live?.state.title ?? (conversation.data === undefined ? undefined : conversationTitle(conversation.data));
  const missing = conversation.isError && live === undefined;

  return (
    <Box h={PAGE_HEIGHT} style={{ display: 'flex', flexDirection: 'column' }}>
      <Group
        h={48}
        px="md"
        gap="sm"
        justify="space-between"
        wrap="nowrap"
        style={{ borderBottom: '1px solid var(--mantine-color-default-border)', flex: 'none' }}
      >
        {title === undefined ? (
          missing ? (
            <span />
          ) : (
            <Skeleton h={18} w={200} />
          )
        ) : (
          <Title order={1} size="h5" fw={600} lineClamp={1} style={{ minWidth: 0 }}>
            {title}
          </Title>
        )}
        {agentId !== undefined && <AgentBadge agentId={agentId} />}
      </Group>
      <ChatScroller
        footer={
          missing ? null : (
            <ComposerFooter>
              {act.error !== null && (
                <Box mb="xs">
                  <ErrorAlert error={act.error} />
                </Box>
              )}
              <Composer
                onSend={(message) => {
                  store.send(requestOf(message, { conversation_id: conversationId }));
                }}
                running={running || act.isPending}
                stopping={live?.cancelling ?? false}
                {...(live !== undefined && running
                  ? {
                      onStop: () => {
                        void store.cancel(live.key);
                      },
                    }
                  : {})}
              />
            </ComposerFooter>
          )
        }
      >
        <Column>
          {conversation.data?.forked_from != null && <ForkedFromNote from={conversation.data.forked_from} />}
          {missing ? (
            <Box my="xl">
              <ErrorAlert
                error={conversation.error}
                onRetry={() => {
                  void conversation.refetch();
                }}
              />
              <Anchor component={Link} to="/" size="sm" mt="sm" display="inline-block">
                Start a new chat
              </Anchor>
            </Box>
          ) : (conversation.isPending || !markdownReady) && live === undefined ? (
            <MessageSkeletons />
          ) : (
            <>
              <Thread
                blocks={blocks}
                live={live}
                running={running}
                busy={act.isPending}
                onAction={act.mutate}
              />
              {pendingApprovals.map((approval) => (
                <ApprovalCard
                  key={approval.id}
                  approvalId={approval.id}
                  tool={approval.tool}
                  args={approval.arguments}
                />
              ))}
              {live !== undefined && isTurnEnded(live.state) && <TurnError live={live} onRetry={retry} />}
            </>
          )}
        </Column>
      </ChatScroller>
    </Box>
  );
}

/** The chat: `/` for a new conversation, `/c/:conversationId` for one that exists. */
export function ChatPage() {
  const { conversationId } = useParams();
  return conversationId === undefined ? (
    <NewChat />
  ) : (
    <ConversationScreen key={conversationId} conversationId={conversationId} />
  );
}
