import { describe, expect, it } from 'vitest';
import { DEPENDENCIES, probe, requiredDependencies } from '../src/index.js';

// CI lists every real dependency in AIBOX_TEST_REQUIRE; this suite makes a missing one a failure even
// before any feature test asks for it, and names what is wrong.
describe('test environment', () => {
  const required = requiredDependencies();
  for (const dependency of DEPENDENCIES) {
    it.runIf(required.has(dependency))(`${dependency} is usable, as AIBOX_TEST_REQUIRE demands`, async () => {
      const presence = await probe(dependency);
      expect(presence, presence.reason).toMatchObject({ present: true });
    });
  }
});
