import { describe, expect, it } from 'vitest';

import { GRPC_METADATA, HEADER, isSpoofableHeader, stripSpoofableHeaders } from './headers.js';

describe('isSpoofableHeader', () => {
  it.each([
    'X-Tenant-ID',
    'x-tenant-id',
    'X_TENANT_ID',
    'X-User-ID',
    'X_User_ID',
    'x-user-email',
    'X-User-Roles',
    'x-user-anything-new',
    'X-Aibox-Principal',
    'x-aibox-anything',
    'X_AIBOX_CAP_TOKEN',
    'X-Forwarded-User',
    'x_forwarded_email',
    'X-Forwarded-Preferred-Username',
    'X-Auth-Request-Email',
    'x-auth-request-user',
    'X_Auth_Request_Groups',
    'X-Remote-User',
    'Remote-User',
    'REMOTE_USER',
  ])('strips %s', (name) => {
    expect(isSpoofableHeader(name)).toBe(true);
  });

  it.each([
    'Authorization',
    'Content-Type',
    'X-Request-Id',
    'X-Forwarded-For',
    'X-Forwarded-Proto',
    'Cookie',
    'X-Tenant',
    'X-Users',
    'User-Agent',
    'X-Remote-Addr',
  ])('keeps %s', (name) => {
    expect(isSpoofableHeader(name)).toBe(false);
  });

  it('strips every identity header the gateway stamps, so none can be forged inbound', () => {
    for (const name of Object.values(HEADER)) {
      expect(isSpoofableHeader(name), name).toBe(true);
    }
  });
});

describe('stripSpoofableHeaders', () => {
  it('returns a copy without identity headers and names what it removed', () => {
    const inbound = {
      authorization: 'Bearer abc',
      'content-type': 'application/json',
      'x-request-id': 'r-1',
      'x-user-id': 'admin',
      X_User_ID: 'admin',
      'X-Aibox-Principal': 'v1.forged',
      'x-auth-request-email': 'eve@example.com',
      'remote-user': 'root',
    };
    const { headers, stripped } = stripSpoofableHeaders(inbound);
    expect(headers).toEqual({
      authorization: 'Bearer abc',
      'content-type': 'application/json',
      'x-request-id': 'r-1',
    });
    expect(stripped).toEqual([
      'x-user-id',
      'X_User_ID',
      'X-Aibox-Principal',
      'x-auth-request-email',
      'remote-user',
    ]);
    expect(inbound['x-user-id']).toBe('admin');
  });

  it('keeps multi-valued headers and the null prototype Node uses', () => {
    const inbound = Object.assign(Object.create(null) as Record<string, string | string[]>, {
      'set-cookie': ['a=1', 'b=2'],
      'x-tenant-id': ['t1', 't2'],
    });
    const { headers, stripped } = stripSpoofableHeaders(inbound);
    expect(Object.getPrototypeOf(headers)).toBeNull();
    expect({ ...headers }).toEqual({ 'set-cookie': ['a=1', 'b=2'] });
    expect(stripped).toEqual(['x-tenant-id']);
  });

  it('reports nothing stripped for a clean request', () => {
    expect(stripSpoofableHeaders({ accept: '*/*' })).toEqual({ headers: { accept: '*/*' }, stripped: [] });
  });
});

describe('header names', () => {
  it('are lower-case, as Node presents them', () => {
    for (const name of [...Object.values(HEADER), ...Object.values(GRPC_METADATA)]) {
      expect(name).toBe(name.toLowerCase());
    }
  });

  it('use gRPC metadata keys gRPC does not reserve or treat as binary', () => {
    for (const name of Object.values(GRPC_METADATA)) {
      expect(name).toMatch(/^[a-z0-9._-]+$/);
      expect(name.startsWith('grpc-')).toBe(false);
      expect(name.endsWith('-bin')).toBe(false);
    }
  });
});
