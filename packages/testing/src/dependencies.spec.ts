import { describe, expect, it } from 'vitest';
import { needs, probe, requiredDependencies } from './dependencies.js';

describe('requiredDependencies', () => {
  it('reads a comma-separated list and ignores blanks', () => {
    expect([...requiredDependencies({ AIBOX_TEST_REQUIRE: 'docker, gvisor,,chromium' })]).toEqual([
      'docker',
      'gvisor',
      'chromium',
    ]);
    expect(requiredDependencies({}).size).toBe(0);
  });

  it('refuses a name it does not know, so a typo cannot silently skip', () => {
    expect(() => requiredDependencies({ AIBOX_TEST_REQUIRE: 'postgress' })).toThrow(/postgress/);
  });
});

describe('needs', () => {
  it('fails instead of skipping when a required dependency is absent', async () => {
    // A Redis URL on a port nothing listens on (port 1 is privileged and unused on loopback).
    const previous = process.env['REDIS_URL'];
    process.env['REDIS_URL'] = 'redis://127.0.0.1:1';
    try {
      const presence = await probe('redis');
      if (presence.present) return; // something odd listens on :1; nothing to assert
      await expect(needs('redis', { AIBOX_TEST_REQUIRE: 'redis' })).rejects.toThrow(
        /required test dependency redis/,
      );
      await expect(needs('redis', {})).resolves.toBe(false);
    } finally {
      if (previous === undefined) delete process.env['REDIS_URL'];
      else process.env['REDIS_URL'] = previous;
    }
  });
});
