import { sql, type Selectable, type Transaction } from 'kysely';

import { newTurnId } from '@aibox/identity';
import { PlatformError } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import { RuntimeError } from '../errors/runtime.error.js';
import type {
  ContentPart,
  Conversation,
  NewMessage,
  StoredMessage,
  ToolCall,
  ToolOutcome,
} from '../services/conversation.js';
import type { RuntimeTables } from './runtime-schema.js';
import { insertTurnRows, type TurnStart } from './turn.repository.js';

type ConversationRow = Selectable<RuntimeTables['conversations']>;
type MessageRow = Selectable<RuntimeTables['messages']>;

export interface NewConversation {
  readonly id: string;
  readonly userId: string;
  readonly agentId: string;
  readonly title?: string | null;
  readonly forkedFrom?: { readonly conversationId: string; readonly messageId: string } | null;
}

export interface ConversationListOptions {
  readonly limit: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** A case-insensitive substring of the title. */
  readonly query?: string;
}

export interface ConversationPage {
  readonly items: Conversation[];
  readonly nextCursor: string | null;
}

/** Rows per insert when copying messages: far below PostgreSQL's 65,535 bind parameters per statement. */
const INSERT_BATCH = 500;

/** A purge waits this long for the table lock it needs before giving up until its next sweep. */
const PURGE_LOCK_TIMEOUT = '5s';

/** `updated_at` at full (microsecond) precision: a JavaScript Date would round it and repeat rows across pages. */
const CURSOR_INSTANT = sql<string>`to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const INSTANT_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

interface CursorKey {
  readonly updatedAt: string;
  readonly id: string;
}

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.updatedAt, key.id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): CursorKey {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (
    Array.isArray(decoded) &&
    decoded.length === 2 &&
    typeof decoded[0] === 'string' &&
    INSTANT_TEXT.test(decoded[0]) &&
    typeof decoded[1] === 'string' &&
    decoded[1].length > 0 &&
    decoded[1].length <= 200
  ) {
    return { updatedAt: decoded[0], id: decoded[1] };
  }
  throw new PlatformError('invalid_request', { detail: 'the cursor is not one this service handed out' });
}

/** `%`, `_` and the escape character itself match literally. */
function likePattern(query: string): string {
  return `%${query.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

function toForkedFrom(value: unknown): Conversation['forkedFrom'] {
  if (typeof value !== 'object' || value === null) return null;
  const { conversation_id: conversationId, message_id: messageId } = value as Record<string, unknown>;
  return typeof conversationId === 'string' && typeof messageId === 'string'
    ? { conversationId, messageId }
    : null;
}

function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    userId: row.user_id,
    agentId: row.agent_id,
    title: row.title,
    forkedFrom: toForkedFrom(row.forked_from),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A stored outcome, or undefined for a row from before outcomes were kept (or one of another shape). */
function toToolOutcome(value: unknown): ToolOutcome | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { ok, code } = value as Record<string, unknown>;
  return typeof ok === 'boolean' && (typeof code === 'string' || code === null) ? { ok, code } : undefined;
}

function toMessage(row: MessageRow): StoredMessage {
  // The runtime is the only writer of these columns, and it writes them from the same types.
  const content = row.content as string | readonly ContentPart[];
  const toolCalls = row.tool_calls as readonly ToolCall[] | null;
  const toolOutcome = toToolOutcome(row.tool_outcome);
  return {
    id: row.id,
    conversationId: row.conversation_id,
    turnId: row.turn_id,
    seq: row.seq,
    role: row.role,
    content,
    ...(toolCalls === null ? {} : { toolCalls }),
    ...(row.tool_call_id === null ? {} : { toolCallId: row.tool_call_id }),
    ...(toolOutcome === undefined ? {} : { toolOutcome }),
    status: row.status,
    createdAt: row.created_at,
  };
}

// PostgreSQL text cannot hold NUL, and jsonb refuses it and unpaired UTF-16 surrogates (which a model's
// cut-off stream or a pasted binary can produce): a turn must not fail to store its messages over them.
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function storableText(text: string): string {
  return text.replace(NUL, '').replace(LONE_SURROGATE, '\uFFFD');
}

/** `value` as jsonb text; strings are made storable (see above), everything else is kept as it is. */
function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'string' ? storableText(item) : item,
  );
}

function messageValues(tenantId: string, conversationId: string, message: NewMessage, seq: number) {
  return {
    id: message.id,
    tenant_id: tenantId,
    conversation_id: conversationId,
    turn_id: message.turnId,
    seq,
    role: message.role,
    content: storableJson(message.content),
    tool_calls: message.toolCalls === undefined ? null : storableJson(message.toolCalls),
    tool_call_id: message.toolCallId === undefined ? null : storableText(message.toolCallId),
    tool_outcome:
      message.toolOutcome === undefined
        ? null
        : storableJson({ ok: message.toolOutcome.ok, code: message.toolOutcome.code }),
    status: message.status,
  };
}

function insertConversation(trx: Transaction<RuntimeTables>, tenantId: string, input: NewConversation) {
  return trx
    .insertInto('conversations')
    .values({
      id: input.id,
      tenant_id: tenantId,
      user_id: input.userId,
      agent_id: input.agentId,
      title: input.title == null ? null : storableText(input.title),
      forked_from:
        input.forkedFrom == null
          ? null
          : JSON.stringify({
              conversation_id: input.forkedFrom.conversationId,
              message_id: input.forkedFrom.messageId,
            }),
      deleted_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Inserts `messages` after the conversation's last one and moves its `updated_at`; the caller holds the
 * conversation's row lock, so concurrent appends take turns. `created`: the conversation was inserted in
 * this transaction, so it has no message yet and its `updated_at` is already now.
 */
async function appendLocked(
  trx: Transaction<RuntimeTables>,
  tenantId: string,
  conversationId: string,
  messages: readonly NewMessage[],
  created = false,
): Promise<MessageRow[]> {
  if (messages.length === 0) return [];
  const last = created
    ? undefined
    : await trx
        .selectFrom('messages')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('conversation_id', '=', conversationId)
        .executeTakeFirst();
  const base = last?.seq ?? 0;
  const inserted = await trx
    .insertInto('messages')
    .values(
      messages.map((message, index) => messageValues(tenantId, conversationId, message, base + 1 + index)),
    )
    .returningAll()
    .execute();
  if (!created) {
    await trx
      .updateTable('conversations')
      .set({ updated_at: sql`now()` })
      .where('id', '=', conversationId)
      .execute();
  }
  return inserted.sort((a, b) => a.seq - b.seq);
}

/**
 * Conversations and their messages. Every method but `purge` works inside one tenant's transaction, so
 * row-level security scopes it; soft-deleted conversations are invisible to all of them but `purge`.
 */
export class ConversationRepository {
  constructor(private readonly sql: SqlStore<RuntimeTables>) {}

  async create(tenantId: string, input: NewConversation): Promise<Conversation> {
    const row = await this.sql
      .forTenant(tenantId)
      .transaction((trx) => insertConversation(trx, tenantId, input));
    return toConversation(row);
  }

  /**
   * Opens a chat turn in one transaction (the turn's first token waits for it): the conversation — created
   * when `conversation` is new, else the caller's own, locked — the turn's rows, and the user's messages
   * appended. Returns the conversation and its whole history, the new messages included.
   */
  async openTurn(
    tenantId: string,
    input: {
      readonly conversation:
        { readonly create: NewConversation } | { readonly id: string; readonly userId: string };
      readonly turn: TurnStart;
      readonly messages: readonly NewMessage[];
    },
  ): Promise<{ conversation: Conversation; history: StoredMessage[] }> {
    return this.sql.forTenant(tenantId).transaction(async (trx) => {
      const created = 'create' in input.conversation;
      const row =
        'create' in input.conversation
          ? await insertConversation(trx, tenantId, input.conversation.create)
          : await trx
              .selectFrom('conversations')
              .selectAll()
              .where('id', '=', input.conversation.id)
              .where('user_id', '=', input.conversation.userId)
              .where('deleted_at', 'is', null)
              .forUpdate()
              .executeTakeFirst();
      if (row === undefined) throw new RuntimeError('conversation_unknown');
      await insertTurnRows(trx, tenantId, { ...input.turn, conversationId: row.id });
      const inserted = await appendLocked(trx, tenantId, row.id, input.messages, created);
      const history = created
        ? inserted
        : await trx
            .selectFrom('messages')
            .selectAll()
            .where('conversation_id', '=', row.id)
            .orderBy('seq')
            .execute();
      return { conversation: toConversation(row), history: history.map(toMessage) };
    });
  }

  /** The user's own conversation; someone else's answers like a missing one. */
  async get(tenantId: string, userId: string, id: string): Promise<Conversation | undefined> {
    const row = await this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .selectFrom('conversations')
          .selectAll()
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .where('deleted_at', 'is', null)
          .executeTakeFirst(),
      );
    return row === undefined ? undefined : toConversation(row);
  }

  /** The conversation's messages in order; none once it is deleted. */
  async messages(tenantId: string, conversationId: string): Promise<StoredMessage[]> {
    const rows = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', conversationId)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('conversations')
              .select('id')
              .where('id', '=', conversationId)
              .where('deleted_at', 'is', null),
          ),
        )
        .orderBy('seq')
        .execute(),
    );
    return rows.map(toMessage);
  }

  /**
   * Appends messages after the last one. The conversation row is locked first, so concurrent appends to one
   * conversation take turns and each gets the next free sequence numbers.
   */
  async append(
    tenantId: string,
    conversationId: string,
    messages: readonly NewMessage[],
  ): Promise<StoredMessage[]> {
    if (messages.length === 0) return [];
    const rows = await this.sql.forTenant(tenantId).transaction(async (trx) => {
      await this.#lockLive(trx, conversationId);
      return appendLocked(trx, tenantId, conversationId, messages);
    });
    return rows.map(toMessage);
  }

  /** Rewrites a stored message's content, tool calls and status (a partial answer becoming complete). */
  async replaceMessage(tenantId: string, conversationId: string, message: NewMessage): Promise<void> {
    await this.sql.forTenant(tenantId).transaction(async (trx) => {
      const updated = await trx
        .updateTable('messages')
        .set({
          content: storableJson(message.content),
          tool_calls: message.toolCalls === undefined ? null : storableJson(message.toolCalls),
          status: message.status,
        })
        .where('id', '=', message.id)
        .where('conversation_id', '=', conversationId)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) throw new RuntimeError('message_unknown');
      await trx
        .updateTable('conversations')
        .set({ updated_at: sql`now()` })
        .where('id', '=', conversationId)
        .where('deleted_at', 'is', null)
        .execute();
    });
  }

  /**
   * Sets the title; with `onlyIfEmpty`, only while the conversation has none (a generated title never
   * overwrites one the user chose). `updated_at` stays: it orders conversations by their last message.
   */
  async setTitle(
    tenantId: string,
    id: string,
    title: string,
    options: { readonly onlyIfEmpty: boolean },
  ): Promise<boolean> {
    const result = await this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx
        .updateTable('conversations')
        .set({ title: storableText(title) })
        .where('id', '=', id)
        .where('deleted_at', 'is', null);
      if (options.onlyIfEmpty)
        query = query.where((eb) => eb.or([eb('title', 'is', null), eb('title', '=', '')]));
      return query.executeTakeFirst();
    });
    return result.numUpdatedRows > 0n;
  }

  /** The user's conversations, most recently active first, a page at a time. */
  async list(tenantId: string, userId: string, options: ConversationListOptions): Promise<ConversationPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const rows = await this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx
        .selectFrom('conversations')
        .selectAll()
        .select(CURSOR_INSTANT.as('cursor_instant'))
        .where('user_id', '=', userId)
        .where('deleted_at', 'is', null);
      if (options.query !== undefined && options.query !== '') {
        query = query.where(sql<boolean>`title ilike ${likePattern(options.query)} escape '\\'`);
      }
      if (after !== undefined) {
        query = query.where(sql<boolean>`(updated_at, id) < (${after.updatedAt}::timestamptz, ${after.id})`);
      }
      return query
        .orderBy('updated_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit + 1)
        .execute();
    });
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      items: page.map(toConversation),
      nextCursor:
        rows.length > options.limit && last !== undefined
          ? encodeCursor({ updatedAt: last.cursor_instant, id: last.id })
          : null,
    };
  }

  async rename(
    tenantId: string,
    userId: string,
    id: string,
    title: string,
  ): Promise<Conversation | undefined> {
    const row = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .updateTable('conversations')
        .set({ title: storableText(title) })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : toConversation(row);
  }

  /** Hides the conversation at once; `purge` removes it (and its messages) later. */
  async softDelete(tenantId: string, userId: string, id: string): Promise<boolean> {
    const result = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .updateTable('conversations')
        .set({ deleted_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }

  /**
   * Deletes, across all tenants, the conversations soft-deleted before `deletedBefore`; their messages go
   * with them (`on delete cascade`). Returns how many conversations were deleted.
   *
   * The tables force row-level security, which hides every row from a connection that does not bypass it.
   * So the tenants with something to purge are found first — in one query when the service's database
   * role is a superuser or has BYPASSRLS (embedded PGlite, PostgreSQL as `postgres`), otherwise by the
   * table owner lifting `force row level security` inside a transaction that restores it before it
   * commits; this needs the role to own the tables, as the role that migrated them does — and each tenant's
   * rows are then deleted in that tenant's own transaction. The cascade to `messages` works there too:
   * PostgreSQL runs referential actions as the table's owner, exempt from forced row-level security.
   */
  async purge(deletedBefore: Date): Promise<number> {
    let purged = 0;
    for (const tenantId of await this.#tenantsWithDeletions(deletedBefore)) {
      purged += await this.sql.forTenant(tenantId).transaction(async (trx) => {
        const deleted = await trx
          .deleteFrom('conversations')
          .where('deleted_at', '<', deletedBefore)
          .executeTakeFirst();
        return Number(deleted.numDeletedRows);
      });
    }
    return purged;
  }

  /**
   * Copies the user's conversation up to and including `messageId` into a new conversation `newId`; the
   * copies get new ids and keep their turn ids, order and times.
   */
  async fork(
    tenantId: string,
    userId: string,
    sourceId: string,
    messageId: string,
    newId: string,
  ): Promise<Conversation> {
    const row = await this.sql.forTenant(tenantId).transaction(async (trx) => {
      const source = await trx
        .selectFrom('conversations')
        .selectAll()
        .where('id', '=', sourceId)
        .where('user_id', '=', userId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (source === undefined) throw new RuntimeError('conversation_unknown');
      const until = await trx
        .selectFrom('messages')
        .select('seq')
        .where('conversation_id', '=', sourceId)
        .where('id', '=', messageId)
        .executeTakeFirst();
      if (until === undefined) throw new RuntimeError('message_unknown');
      const copied = await trx
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', sourceId)
        .where('seq', '<=', until.seq)
        .orderBy('seq')
        .execute();
      const created = await trx
        .insertInto('conversations')
        .values({
          id: newId,
          tenant_id: tenantId,
          user_id: userId,
          agent_id: source.agent_id,
          title: source.title === null ? null : `${source.title} (fork)`,
          forked_from: JSON.stringify({ conversation_id: sourceId, message_id: messageId }),
          deleted_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      for (let start = 0; start < copied.length; start += INSERT_BATCH) {
        await trx
          .insertInto('messages')
          .values(
            copied.slice(start, start + INSERT_BATCH).map((message) => ({
              id: newTurnId(),
              tenant_id: tenantId,
              conversation_id: newId,
              turn_id: message.turn_id,
              seq: message.seq,
              role: message.role,
              content: JSON.stringify(message.content),
              tool_calls: message.tool_calls === null ? null : JSON.stringify(message.tool_calls),
              tool_call_id: message.tool_call_id,
              tool_outcome: message.tool_outcome === null ? null : JSON.stringify(message.tool_outcome),
              status: message.status,
              created_at: message.created_at,
            })),
          )
          .execute();
      }
      return created;
    });
    return toConversation(row);
  }

  async #lockLive(trx: Transaction<RuntimeTables>, conversationId: string): Promise<void> {
    const live = await trx
      .selectFrom('conversations')
      .select('id')
      .where('id', '=', conversationId)
      .where('deleted_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (live === undefined) throw new RuntimeError('conversation_unknown');
  }

  async #tenantsWithDeletions(deletedBefore: Date): Promise<string[]> {
    const db = this.sql.db;
    const role = await sql<{ bypasses: boolean }>`
      select rolsuper or rolbypassrls as bypasses from pg_roles where rolname = current_user`.execute(db);
    const tenants = (trx: typeof db) =>
      trx
        .selectFrom('conversations')
        .select('tenant_id')
        .distinct()
        .where('deleted_at', '<', deletedBefore)
        .execute();
    if (role.rows[0]?.bypasses === true) return (await tenants(db)).map((row) => row.tenant_id);
    const rows = await db.transaction().execute(async (trx) => {
      // `alter table` needs an exclusive lock, and requests queue behind it while it waits: it waits briefly
      // and this sweep gives up (until the next) rather than stall the service behind a long transaction.
      // The change is rolled back or undone before commit, so no other transaction ever sees it.
      await sql`set local lock_timeout = ${sql.lit(PURGE_LOCK_TIMEOUT)}`.execute(trx);
      await sql`alter table conversations no force row level security`.execute(trx);
      const found = await tenants(trx);
      await sql`alter table conversations force row level security`.execute(trx);
      return found;
    });
    return rows.map((row) => row.tenant_id);
  }
}
