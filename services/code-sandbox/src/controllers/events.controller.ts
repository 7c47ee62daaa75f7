import { Controller, Get, Headers, Inject, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, PlatformError, RequireCapability, ZodPipe } from '@aibox/platform';

import { eventsQuery } from '../dtos/sandbox.dto.js';
import type { SandboxEvent } from '../repositories/sandbox.repository.js';
import { EventStream } from '../services/event-stream.js';
import { uuidParam } from './params.js';
import { openSse } from './sse.js';

function resumeFrom(lastEventId: string | undefined, after: string | undefined): number {
  const raw = (lastEventId ?? after)?.trim();
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,9}$/.test(raw)) {
    throw new PlatformError('invalid_request', {
      detail: 'Last-Event-ID / after must be an event sequence number',
    });
  }
  return Number(raw);
}

/** A sandbox's events as SSE: a snapshot of its state first, then every event after the one named, live. */
@RequireCapability('sandbox:manage')
@Controller('sandboxes/:id/events')
export class EventsController {
  constructor(@Inject(EventStream) private readonly events: EventStream) {}

  @Get()
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query(new ZodPipe(eventsQuery)) query: { after?: string },
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const subscription = await this.events.subscribe(principal, id, resumeFrom(lastEventId, query.after));
    const sse = openSse(reply);
    // The snapshot has no id: resuming goes by the events' sequence numbers alone.
    sse.send('snapshot', subscription.snapshot);
    const send = (event: SandboxEvent): void => {
      sse.send(event.type, { ...event.data, seq: event.seq, at: event.at.toISOString() }, event.seq);
    };
    for (const event of subscription.history) send(event);
    sse.onClose(subscription.follow(send));
  }
}
