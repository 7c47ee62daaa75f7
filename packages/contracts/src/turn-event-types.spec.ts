import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { PROTO_ROOT } from './proto-paths.js';
import { TURN_EVENT_TYPES, isTurnEventType } from './turn-event-types.js';

describe('TURN_EVENT_TYPES', () => {
  it('lists the same 16 types that turn_events.proto documents for TurnEvent.type', () => {
    const proto = readFileSync(join(PROTO_ROOT, 'aibox/v1/turn_events.proto'), 'utf8');
    const comment = /one of the closed set:([\s\S]*?)Audit rejects anything else\./.exec(proto)?.[1] ?? '';
    const documented = comment
      .replace(/\/\//g, ' ')
      .split(/[\s,.]+/)
      .filter((word) => word !== '');

    expect(TURN_EVENT_TYPES).toHaveLength(16);
    expect(documented).toEqual([...TURN_EVENT_TYPES]);
  });

  it('accepts the known types and refuses anything else', () => {
    expect(isTurnEventType('turn_sealed')).toBe(true);
    expect(isTurnEventType('Turn_Sealed')).toBe(false);
    expect(isTurnEventType('turn_deleted')).toBe(false);
    expect(isTurnEventType('')).toBe(false);
  });
});
