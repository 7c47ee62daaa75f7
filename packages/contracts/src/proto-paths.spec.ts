import { readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';

import { PROTO_FILES, PROTO_INCLUDE_DIRS, PROTO_ROOT } from './proto-paths.js';

describe('PROTO_ROOT / PROTO_FILES', () => {
  it('points at the repository proto folder', () => {
    expect(isAbsolute(PROTO_ROOT)).toBe(true);
    expect(readFileSync(join(PROTO_ROOT, 'buf.yaml'), 'utf8')).toContain('version: v2');
  });

  it('lists every aibox/v1 proto that declares a service', () => {
    const withService = readdirSync(join(PROTO_ROOT, 'aibox/v1'))
      .filter((name) => name.endsWith('.proto'))
      .map((name) => `aibox/v1/${name}`)
      .filter((file) => /^service\s/m.test(readFileSync(join(PROTO_ROOT, file), 'utf8')))
      .sort();

    expect([...PROTO_FILES].sort()).toEqual(withService);
  });

  it('loads with @grpc/proto-loader, well-known types included, as NestJS does at run time', () => {
    const definition = loadSync([...PROTO_FILES], { includeDirs: [...PROTO_INCLUDE_DIRS] });

    expect(Object.keys(definition)).toEqual(
      expect.arrayContaining([
        'aibox.v1.TurnEventService',
        'aibox.v1.AuditService',
        'google.protobuf.Timestamp',
      ]),
    );
    const service = definition['aibox.v1.TurnEventService'] as Record<string, { path: string }>;
    expect(service['Publish']?.path).toBe('/aibox.v1.TurnEventService/Publish');
    expect(service['PutArtifact']?.path).toBe('/aibox.v1.TurnEventService/PutArtifact');
  });
});
