import type { Principal } from '@aibox/identity';
import type { Logger } from '@aibox/platform';

import type { ConversationRepository } from '../repositories/conversation.repository.js';
import type { RouterClient } from '../repositories/router-client.js';
import type { TurnStream } from './turn-stream.js';

const TITLE_PROMPT =
  'Write a short title (at most six words) for a conversation that starts with the message below. ' +
  'Answer with the title only: no quotes, no final period.';
const MAX_TITLE_CHARS = 80;

/** A title from the first words of the message, when the `title` role gave none. */
export function fallbackTitle(text: string): string {
  const words = text.replace(/\s+/g, ' ').trim();
  if (words.length <= 60) return words === '' ? 'New conversation' : words;
  const cut = words.slice(0, 60);
  const space = cut.lastIndexOf(' ');
  return `${space > 20 ? cut.slice(0, space) : cut}…`;
}

function cleanTitle(raw: string): string {
  const line = raw.trim().split('\n')[0] ?? '';
  return line
    .replace(/^["'“”‘’«»]+|["'“”‘’«»]+$/g, '')
    .replace(/^title:\s*/i, '')
    .replace(/[.\s]+$/, '')
    .slice(0, MAX_TITLE_CHARS)
    .trim();
}

/**
 * Names a new conversation with the `title` role while its first turn runs (never delaying the answer);
 * if that role is not set up or fails, the first words of the message are the title.
 */
export class TitleWriter {
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly router: RouterClient,
    private readonly conversations: ConversationRepository,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  write(
    principal: Principal,
    identity: { capToken: string | undefined },
    turnId: string,
    conversationId: string,
    firstText: string,
    stream: TurnStream,
  ): Promise<void> {
    const work = this.generate(principal, identity, turnId, firstText).then(async (title) => {
      const stored = await this.conversations.setTitle(principal.tid, conversationId, title, {
        onlyIfEmpty: true,
      });
      if (stored) stream.emit('title', { conversation_id: conversationId, title });
    });
    const settled = work.catch((error: unknown) => {
      this.logger.warn({ err: error, turn_id: turnId }, 'a conversation title could not be stored');
    });
    this.pending.set(turnId, settled);
    void settled.finally(() => this.pending.delete(turnId));
    return settled;
  }

  /** Resolves once the title work of `turnId` (if any) ended: its model call's events belong to the turn. */
  settled(turnId: string): Promise<void> {
    return this.pending.get(turnId) ?? Promise.resolve();
  }

  private async generate(
    principal: Principal,
    identity: { capToken: string | undefined },
    turnId: string,
    firstText: string,
  ): Promise<string> {
    try {
      const answer = await this.router.complete(
        { principal, turnId, capToken: identity.capToken },
        {
          role: 'title',
          messages: [
            { role: 'system', content: TITLE_PROMPT },
            { role: 'user', content: firstText.slice(0, 4_000) },
          ],
          maxTokens: 32,
        },
        AbortSignal.timeout(this.timeoutMs),
      );
      const title = cleanTitle(answer.text);
      return title === '' ? fallbackTitle(firstText) : title;
    } catch (error: unknown) {
      this.logger.info(
        { turn_id: turnId, code: (error as { code?: unknown }).code },
        'the title role gave no title; the first words are used',
      );
      return fallbackTitle(firstText);
    }
  }
}
