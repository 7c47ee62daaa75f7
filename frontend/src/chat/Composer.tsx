import {
  ActionIcon,
  Box,
  CloseButton,
  FileButton,
  Group,
  Image,
  Paper,
  Text,
  Textarea,
  Tooltip,
} from '@mantine/core';
import { IconArrowUp, IconFileText, IconPaperclip, IconPlayerStopFilled } from '@tabler/icons-react';
import { useRef, useState, type ClipboardEvent, type DragEvent, type KeyboardEvent } from 'react';

import { describeError } from '../api/error-messages.js';
import { base64Size, classifyFile, MAX_ATTACHMENTS, MAX_TOTAL_BASE64, readBase64 } from './attachments.js';
import type { Attachment } from './chat-api.js';

export interface ComposerMessage {
  readonly text: string;
  readonly attachments: readonly Attachment[];
}

interface Refusal {
  readonly name: string;
  readonly code: string;
}

/** Reads the files the runtime can take; the others are refused with their error code. */
async function readFiles(files: readonly File[]): Promise<{ read: Attachment[]; refused: Refusal[] }> {
  const outcomes = await Promise.all(
    files.map(async (file): Promise<Attachment | Refusal> => {
      const verdict = classifyFile(file);
      if (!verdict.ok) return { name: file.name, code: verdict.code };
      try {
        return { name: file.name, content_type: verdict.contentType, data: await readBase64(file) };
      } catch {
        return { name: file.name, code: 'attachment_unsupported' };
      }
    }),
  );
  return {
    read: outcomes.filter((outcome): outcome is Attachment => 'data' in outcome),
    refused: outcomes.filter((outcome): outcome is Refusal => 'code' in outcome),
  };
}

/** Adds what fits in one request: at most 16 files, and a body under the runtime's 32 MiB. */
function addWithinLimits(
  current: readonly Attachment[],
  read: readonly Attachment[],
): { next: Attachment[]; refused: Refusal[] } {
  const next = [...current];
  const refused: Refusal[] = [];
  for (const attachment of read) {
    if (next.length >= MAX_ATTACHMENTS || base64Size([...next, attachment]) > MAX_TOTAL_BASE64) {
      refused.push({ name: attachment.name, code: 'payload_too_large' });
    } else {
      next.push(attachment);
    }
  }
  return { next, refused };
}

function AttachmentChip({ attachment, onRemove }: { attachment: Attachment; onRemove: () => void }) {
  const image = attachment.content_type.startsWith('image/');
  return (
    <Paper withBorder radius="md" px={6} py={4} component="li" style={{ listStyle: 'none' }} maw={220}>
      <Group gap={6} wrap="nowrap">
        {image ? (
          <Image
            src={`data:${attachment.content_type};base64,${attachment.data}`}
            alt={attachment.name}
            w={32}
            h={32}
            radius="sm"
            fit="cover"
          />
        ) : (
          <IconFileText size={20} aria-hidden />
        )}
        <Text size="xs" truncate="end" title={attachment.name}>
          {attachment.name}
        </Text>
        <CloseButton size="sm" aria-label={`Remove ${attachment.name}`} onClick={onRemove} />
      </Group>
    </Paper>
  );
}

/**
 * Where a message is written: Enter sends, Shift+Enter breaks the line (and Enter during an IME composition
 * only confirms it). Images and text files can be pasted, dropped or picked; others are refused here, with
 * the runtime's sentence, before anything is sent.
 */
export function Composer({
  onSend,
  onStop,
  running = false,
  stopping = false,
  autoFocus = false,
}: {
  onSend: (message: ComposerMessage) => void;
  onStop?: () => void;
  /** A turn of this conversation is running: nothing is sent until it ends. */
  running?: boolean;
  stopping?: boolean;
  autoFocus?: boolean;
}) {
  const [text, setText] = useState('');
  const [attachments, setAttachmentsState] = useState<readonly Attachment[]>([]);
  // The list as of the last change, for handlers that finish after other changes (files read in parallel).
  const attachmentsNow = useRef<readonly Attachment[]>([]);
  const setAttachments = (next: readonly Attachment[]): void => {
    attachmentsNow.current = next;
    setAttachmentsState(next);
  };
  const [refusals, setRefusals] = useState<readonly Refusal[]>([]);
  const [reading, setReading] = useState(0);
  const [dragging, setDragging] = useState(false);

  const canSend = text.trim() !== '' && !running && reading === 0;

  const send = (): void => {
    if (!canSend) return;
    onSend({ text: text.trim(), attachments });
    setText('');
    setAttachments([]);
    setRefusals([]);
  };

  const addFiles = async (files: readonly File[]): Promise<void> => {
    if (files.length === 0) return;
    setReading((count) => count + 1);
    try {
      const { read, refused } = await readFiles(files);
      const added = addWithinLimits(attachmentsNow.current, read);
      setAttachments(added.next);
      setRefusals([...refused, ...added.refused]);
    } finally {
      setReading((count) => count - 1);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key !== 'Enter' || event.shiftKey || event.nativeEvent.isComposing) return;
    // Safari sends the Enter that ends a composition after it ended, marked only by keyCode 229.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    if (event.keyCode === 229) return;
    event.preventDefault();
    send();
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>): void => {
    const files = Array.from(event.clipboardData.files);
    if (files.length === 0) return;
    // A copied picture often comes with its name as text; keep the text out of the message.
    event.preventDefault();
    void addFiles(files);
  };

  const hasFiles = (event: DragEvent): boolean => Array.from(event.dataTransfer.types).includes('Files');

  return (
    <Box>
      {refusals.length > 0 && (
        <Paper withBorder radius="md" p="xs" mb="xs" role="alert">
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <Box>
              {Array.from(new Set(refusals.map((refusal) => refusal.code))).map((code) => (
                <Text size="sm" key={code}>
                  <Text span fw={600} size="sm">
                    {refusals
                      .filter((refusal) => refusal.code === code)
                      .map((refusal) => refusal.name)
                      .join(', ')}
                    :
                  </Text>{' '}
                  {describeError(code).message}
                </Text>
              ))}
            </Box>
            <CloseButton
              size="sm"
              aria-label="Dismiss"
              onClick={() => {
                setRefusals([]);
              }}
            />
          </Group>
        </Paper>
      )}
      <Paper
        withBorder
        radius="lg"
        p="xs"
        shadow="xs"
        onDragOver={(event: DragEvent) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => {
          setDragging(false);
        }}
        onDrop={(event: DragEvent) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          setDragging(false);
          void addFiles(Array.from(event.dataTransfer.files));
        }}
        style={
          dragging
            ? { outline: '2px dashed var(--mantine-primary-color-filled)', outlineOffset: 2 }
            : undefined
        }
      >
        {attachments.length > 0 && (
          <Group component="ul" gap={6} p={0} m={0} mb={6} aria-label="Attachments">
            {attachments.map((attachment, index) => (
              <AttachmentChip
                key={`${attachment.name}-${index}`}
                attachment={attachment}
                onRemove={() => {
                  setAttachments(attachmentsNow.current.filter((_, at) => at !== index));
                }}
              />
            ))}
          </Group>
        )}
        <Textarea
          aria-label="Message"
          placeholder="Message aibox"
          variant="unstyled"
          autosize
          minRows={1}
          maxRows={12}
          value={text}
          autoFocus={autoFocus}
          onChange={(event) => {
            setText(event.currentTarget.value);
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          styles={{ input: { paddingInline: 6, fontSize: 'var(--mantine-font-size-md)' } }}
        />
        <Group justify="space-between" mt={4}>
          <FileButton
            multiple
            onChange={(files) => {
              void addFiles(files);
            }}
          >
            {(props) => (
              <Tooltip label="Attach images or text files">
                <ActionIcon
                  {...props}
                  variant="subtle"
                  color="gray"
                  size="lg"
                  radius="xl"
                  aria-label="Attach files"
                >
                  <IconPaperclip size={20} />
                </ActionIcon>
              </Tooltip>
            )}
          </FileButton>
          {running ? (
            <Tooltip label="Stop the answer">
              <ActionIcon
                size="lg"
                radius="xl"
                variant="filled"
                aria-label="Stop"
                loading={stopping}
                disabled={onStop === undefined}
                onClick={onStop}
              >
                <IconPlayerStopFilled size={16} />
              </ActionIcon>
            </Tooltip>
          ) : (
            <Tooltip label="Send (Enter)">
              <ActionIcon
                size="lg"
                radius="xl"
                variant="filled"
                aria-label="Send"
                disabled={!canSend}
                onClick={send}
              >
                <IconArrowUp size={20} />
              </ActionIcon>
            </Tooltip>
          )}
        </Group>
      </Paper>
    </Box>
  );
}
