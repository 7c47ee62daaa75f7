import {
  ActionIcon,
  Box,
  Button,
  Group,
  Menu,
  Modal,
  NavLink,
  Skeleton,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue, useInViewport } from '@mantine/hooks';
import {
  IconBraces,
  IconDots,
  IconMarkdown,
  IconPencil,
  IconPlus,
  IconSearch,
  IconTrash,
} from '@tabler/icons-react';
import { keepPreviousData, useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type SubmitEvent } from 'react';
import { Link, matchPath, useLocation, useNavigate } from 'react-router';

import { saveBlob } from '../api/client.js';
import { ErrorAlert } from '../api/ErrorAlert.js';
import {
  chatKeys,
  deleteConversation,
  exportConversation,
  listConversations,
  renameConversation,
  type ConversationSummary,
  type ExportFormat,
} from './chat-api.js';

export function conversationTitle(conversation: Pick<ConversationSummary, 'title'>): string {
  return conversation.title === null || conversation.title.trim() === ''
    ? 'New conversation'
    : conversation.title;
}

const DAY_MS = 86_400_000;

/** The heading a conversation falls under, by when it last changed (local time). */
function periodOf(updatedAt: string, now: Date): string {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const at = new Date(updatedAt).getTime();
  if (at >= startOfToday) return 'Today';
  if (at >= startOfToday - DAY_MS) return 'Yesterday';
  if (at >= startOfToday - 7 * DAY_MS) return 'Previous 7 days';
  if (at >= startOfToday - 30 * DAY_MS) return 'Previous 30 days';
  return 'Older';
}

function groupByPeriod(
  conversations: readonly ConversationSummary[],
): { period: string; items: ConversationSummary[] }[] {
  const now = new Date();
  const groups: { period: string; items: ConversationSummary[] }[] = [];
  for (const conversation of conversations) {
    const period = periodOf(conversation.updated_at, now);
    const last = groups.at(-1);
    if (last?.period === period) last.items.push(conversation);
    else groups.push({ period, items: [conversation] });
  }
  return groups;
}

type Dialog =
  | { readonly kind: 'rename' | 'delete'; readonly conversation: ConversationSummary }
  /** An export that failed: the menu has closed, so its error gets a dialog like the other actions'. */
  | {
      readonly kind: 'export';
      readonly conversation: ConversationSummary;
      readonly format: ExportFormat;
      readonly error: unknown;
    };

interface ExportRequest {
  readonly conversation: ConversationSummary;
  readonly format: ExportFormat;
}

function RenameDialog({ conversation, onClose }: { conversation: ConversationSummary; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [title, setTitle] = useState(conversation.title ?? '');
  const rename = useMutation({
    mutationFn: (next: string) => renameConversation(conversation.id, next),
    onSuccess: async () => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: chatKeys.conversations }),
        queryClient.invalidateQueries({ queryKey: chatKeys.conversation(conversation.id) }),
      ]);
      onClose();
    },
  });
  const submit = (event: SubmitEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (title.trim() !== '') rename.mutate(title.trim());
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput
          label="Title"
          value={title}
          maxLength={200}
          data-autofocus
          onChange={(event) => {
            setTitle(event.currentTarget.value);
          }}
        />
        {rename.error !== null && <ErrorAlert error={rename.error} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={rename.isPending} disabled={title.trim() === ''}>
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function DeleteDialog({
  conversation,
  active,
  onClose,
}: {
  conversation: ConversationSummary;
  active: boolean;
  onClose: () => void;
}) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: () => deleteConversation(conversation.id),
    onSuccess: async () => {
      if (active) await navigate('/');
      queryClient.removeQueries({ queryKey: chatKeys.conversation(conversation.id) });
      await queryClient.invalidateQueries({ queryKey: chatKeys.conversations });
      onClose();
    },
  });
  return (
    <Stack>
      <Text size="sm">
        “{conversationTitle(conversation)}” and its messages will be deleted. This cannot be undone.
      </Text>
      {remove.error !== null && <ErrorAlert error={remove.error} />}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose} data-autofocus>
          Cancel
        </Button>
        <Button
          color="red"
          loading={remove.isPending}
          onClick={() => {
            remove.mutate();
          }}
        >
          Delete
        </Button>
      </Group>
    </Stack>
  );
}

function ExportFailed({
  error,
  onRetry,
  onClose,
}: {
  error: unknown;
  onRetry: () => void;
  onClose: () => void;
}) {
  return (
    <Stack>
      <ErrorAlert error={error} onRetry={onRetry} />
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose} data-autofocus>
          Close
        </Button>
      </Group>
    </Stack>
  );
}

function ConversationItem({
  conversation,
  active,
  exporting,
  onDialog,
  onExport,
}: {
  conversation: ConversationSummary;
  active: boolean;
  exporting: boolean;
  onDialog: (dialog: Dialog) => void;
  onExport: (format: ExportFormat) => void;
}) {
  const title = conversationTitle(conversation);
  return (
    <Group gap={0} wrap="nowrap" component="li" style={{ listStyle: 'none' }}>
      <NavLink
        component={Link}
        to={`/c/${conversation.id}`}
        label={title}
        active={active}
        aria-current={active ? 'page' : undefined}
        variant="light"
        styles={{
          root: { borderRadius: 'var(--mantine-radius-md)', flex: 1, minWidth: 0 },
          label: { whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' },
        }}
      />
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <ActionIcon
            variant="subtle"
            color="gray"
            aria-label={`Options for ${title}`}
            loading={exporting}
            loaderProps={{ size: 14 }}
          >
            <IconDots size={16} />
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item
            leftSection={<IconPencil size={14} />}
            onClick={() => {
              onDialog({ kind: 'rename', conversation });
            }}
          >
            Rename
          </Menu.Item>
          <Menu.Item
            leftSection={<IconMarkdown size={14} />}
            onClick={() => {
              onExport('markdown');
            }}
          >
            Export as Markdown
          </Menu.Item>
          <Menu.Item
            leftSection={<IconBraces size={14} />}
            onClick={() => {
              onExport('json');
            }}
          >
            Export as JSON
          </Menu.Item>
          <Menu.Item
            color="red"
            leftSection={<IconTrash size={14} />}
            onClick={() => {
              onDialog({ kind: 'delete', conversation });
            }}
          >
            Delete
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
    </Group>
  );
}

/**
 * The side panel: a new chat, a title search (on the server), and the user's conversations newest first,
 * loading more as the list is scrolled to its end.
 */
export function ConversationList() {
  const location = useLocation();
  const navigate = useNavigate();
  const activeId = matchPath('/c/:conversationId', location.pathname)?.params.conversationId;
  const [search, setSearch] = useState('');
  const [query] = useDebouncedValue(search.trim(), 300);
  const [dialog, setDialog] = useState<Dialog | undefined>(undefined);
  const list = useInfiniteQuery({
    queryKey: chatKeys.conversationList(query),
    queryFn: ({ pageParam, signal }) => listConversations(query, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
  const { ref: endRef, inViewport: endInView } = useInViewport<HTMLButtonElement>();
  const { hasNextPage, isFetchingNextPage, isFetchNextPageError, fetchNextPage } = list;
  useEffect(() => {
    // A page that failed is retried by its button, not in a loop.
    if (endInView && hasNextPage && !isFetchingNextPage && !isFetchNextPageError) void fetchNextPage();
  }, [endInView, hasNextPage, isFetchingNextPage, isFetchNextPageError, fetchNextPage]);

  const exporter = useMutation({
    mutationFn: async ({ conversation, format }: ExportRequest): Promise<void> => {
      const file = await exportConversation(conversation.id, format);
      saveBlob(file.blob, file.filename);
    },
    onError: (error, request) => {
      setDialog({ kind: 'export', ...request, error });
    },
  });

  const conversations = list.data?.pages.flatMap((page) => page.data) ?? [];
  const close = (): void => {
    setDialog(undefined);
  };

  return (
    <Stack h="100%" gap="xs" p="sm" style={{ minHeight: 0 }}>
      <Button
        leftSection={<IconPlus size={16} />}
        variant="default"
        fullWidth
        justify="flex-start"
        onClick={() => {
          void navigate('/');
        }}
      >
        New chat
      </Button>
      <TextInput
        aria-label="Search conversations"
        placeholder="Search"
        leftSection={<IconSearch size={16} />}
        value={search}
        onChange={(event) => {
          setSearch(event.currentTarget.value);
        }}
      />
      <Box component="nav" aria-label="Conversations" style={{ flex: 1, minHeight: 0, overflowY: 'auto' }}>
        {list.isPending ? (
          <Stack gap={6} aria-label="Loading conversations">
            {Array.from({ length: 8 }, (_, index) => (
              <Skeleton key={index} h={34} radius="md" />
            ))}
          </Stack>
        ) : list.isError && conversations.length === 0 ? (
          <ErrorAlert
            error={list.error}
            onRetry={() => {
              void list.refetch();
            }}
          />
        ) : conversations.length === 0 ? (
          <Text size="sm" c="dimmed" p="xs">
            {query === '' ? 'No conversations yet.' : `No conversation matches “${query}”.`}
          </Text>
        ) : (
          <>
            {groupByPeriod(conversations).map((group) => (
              <Box key={group.period} mb="xs">
                <Text size="xs" c="dimmed" fw={600} px="xs" py={4}>
                  {group.period}
                </Text>
                <Box component="ul" m={0} p={0}>
                  {group.items.map((conversation) => (
                    <ConversationItem
                      key={conversation.id}
                      conversation={conversation}
                      active={conversation.id === activeId}
                      exporting={exporter.isPending && exporter.variables.conversation.id === conversation.id}
                      onDialog={setDialog}
                      onExport={(format) => {
                        exporter.mutate({ conversation, format });
                      }}
                    />
                  ))}
                </Box>
              </Box>
            ))}
            {isFetchNextPageError && (
              <ErrorAlert
                error={list.error}
                onRetry={() => {
                  void fetchNextPage();
                }}
              />
            )}
            {hasNextPage && (
              <Button
                ref={endRef}
                variant="subtle"
                size="xs"
                fullWidth
                loading={isFetchingNextPage}
                onClick={() => {
                  void fetchNextPage();
                }}
              >
                Load more
              </Button>
            )}
          </>
        )}
      </Box>
      <Modal opened={dialog?.kind === 'rename'} onClose={close} title="Rename conversation" centered>
        {dialog?.kind === 'rename' && <RenameDialog conversation={dialog.conversation} onClose={close} />}
      </Modal>
      <Modal opened={dialog?.kind === 'delete'} onClose={close} title="Delete conversation?" centered>
        {dialog?.kind === 'delete' && (
          <DeleteDialog
            conversation={dialog.conversation}
            active={dialog.conversation.id === activeId}
            onClose={close}
          />
        )}
      </Modal>
      <Modal opened={dialog?.kind === 'export'} onClose={close} title="Export failed" centered>
        {dialog?.kind === 'export' && (
          <ExportFailed
            error={dialog.error}
            onRetry={() => {
              close();
              exporter.mutate({ conversation: dialog.conversation, format: dialog.format });
            }}
            onClose={close}
          />
        )}
      </Modal>
    </Stack>
  );
}
