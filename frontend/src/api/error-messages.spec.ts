import { describe, expect, it } from 'vitest';

import { describeError } from './error-messages.js';

/** The codes the chat can meet: the inference router's (passed through a turn) and agent-runtime's own. */
const ROUTER_CODES = [
  'role_not_configured',
  'role_no_backend',
  'provider_key_missing',
  'backend_unavailable',
  'budget_exceeded',
  'rate_limited',
  'model_unknown',
  'invalid_request',
  'upstream_error',
  'payload_too_large',
] as const;

const RUNTIME_CODES = [
  'conversation_unknown',
  'message_unknown',
  'turn_unknown',
  'turn_not_running',
  'agent_unknown',
  'skill_unknown',
  'agent_name_taken',
  'skill_name_taken',
  'skill_invalid',
  'approval_unknown',
  'approval_decided',
  'attachment_unsupported',
  'mcp_forbidden',
  'replay_unavailable',
  'turn_cancelled',
  'turn_token_limit',
  'runtime_restarted',
] as const;

describe('describeError', () => {
  it('says what an unset model role means, with the admin link to fix it', () => {
    const description = describeError('role_not_configured', 'No backend for role "default"');
    expect(description.message).toBe('An administrator has not set up a model yet.');
    expect(description.action).toEqual({ label: 'Set up models', to: '/admin/inference', adminOnly: true });
    expect(description.retryable).toBe(false);
  });

  it.each([...ROUTER_CODES, ...RUNTIME_CODES])('has its own sentence for %s', (code) => {
    const description = describeError(code);
    expect(description.title).not.toBe('Something went wrong');
    expect(description.message).not.toBe('The request failed.');
    expect(description.message).toMatch(/^[A-Z].*\.$/);
  });

  it.each(['role_not_configured', 'attachment_unsupported', 'turn_token_limit', 'upstream_error'])(
    'keeps its own sentence for %s when the server words it differently',
    (code) => {
      expect(describeError(code, 'The server’s own words.').message).toBe(describeError(code).message);
    },
  );

  it.each([
    ['attachment_unsupported', 'Only images and text files can be attached to a message.'],
    ['approval_decided', 'This request was already approved, denied or has expired.'],
    ['budget_exceeded', 'The spending limit for models has been reached. Ask an administrator to raise it.'],
    ['turn_cancelled', 'You stopped this answer.'],
    ['network_error', 'aibox cannot be reached. Check your connection; it will reconnect when it can.'],
  ])('%s reads “%s”', (code, sentence) => {
    expect(describeError(code).message).toBe(sentence);
  });

  it('marks as retryable only what may work the second time', () => {
    for (const code of [
      'rate_limited',
      'backend_unavailable',
      'upstream_error',
      'network_error',
      'role_no_backend',
    ]) {
      expect(describeError(code).retryable, code).toBe(true);
    }
    for (const code of [
      'role_not_configured',
      'attachment_unsupported',
      'approval_decided',
      'turn_token_limit',
    ]) {
      expect(describeError(code).retryable, code).toBe(false);
    }
  });

  it('falls back to the server’s sentence for a code it does not know', () => {
    const description = describeError('quota_of_the_future', 'The future quota was reached.');
    expect(description.message).toBe('The future quota was reached.');
    expect(description.title).toBe('Something went wrong');
    expect(description.action).toBeUndefined();
  });

  it('says something even when an unknown code comes without a sentence', () => {
    expect(describeError('quota_of_the_future').message).toBe('The request failed.');
    expect(describeError('quota_of_the_future', '').message).toBe('The request failed.');
  });
});
