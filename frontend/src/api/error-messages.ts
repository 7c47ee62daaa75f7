/** What the UI says about an error code: a sentence a user understands, and where to go about it. */
export interface ErrorDescription {
  readonly title: string;
  readonly message: string;
  /** A link that helps; `adminOnly` links are shown to admins only. */
  readonly action?: { readonly label: string; readonly to: string; readonly adminOnly: boolean };
  /** Whether trying the same thing again may work. */
  readonly retryable: boolean;
}

const SETUP_MODELS = { label: 'Set up models', to: '/admin/inference', adminOnly: true } as const;

/**
 * `serverWorded`: the server's sentence names what to fix (the URL it could not reach, the field it refused),
 * which a fixed sentence cannot, so it replaces ours when the answer carries one.
 */
const MESSAGES: Readonly<
  Record<string, Omit<ErrorDescription, 'retryable'> & { retryable?: boolean; serverWorded?: boolean }>
> = {
  role_not_configured: {
    title: 'No model yet',
    message: 'An administrator has not set up a model yet.',
    action: SETUP_MODELS,
  },
  role_no_backend: {
    title: 'No model available',
    message: 'None of the models set up for this assistant is available right now.',
    action: SETUP_MODELS,
    retryable: true,
  },
  provider_key_missing: {
    title: 'Model provider not ready',
    message: 'The model provider has no API key. An administrator needs to add one.',
    action: SETUP_MODELS,
  },
  model_unknown: {
    title: 'Unknown model',
    message: 'The model this assistant uses no longer exists. An administrator needs to pick another.',
    action: SETUP_MODELS,
  },
  upstream_error: {
    title: 'The model failed',
    message: 'The model provider answered with an error. Try again in a moment.',
    retryable: true,
  },
  backend_unavailable: {
    title: 'Service unavailable',
    message: 'A part of aibox is not reachable right now. Try again in a moment.',
    retryable: true,
  },
  budget_exceeded: {
    title: 'Budget reached',
    message: 'The spending limit for models has been reached. Ask an administrator to raise it.',
    action: { label: 'Usage and budgets', to: '/admin/inference', adminOnly: true },
  },
  rate_limited: {
    title: 'Slow down',
    message: 'Too many requests in a short time. Wait a moment and try again.',
    retryable: true,
  },
  turn_cancelled: { title: 'Stopped', message: 'You stopped this answer.', retryable: true },
  turn_token_limit: {
    title: 'Answer too long',
    message: 'This answer reached the length limit for one turn. Ask for less, or split the question.',
  },
  runtime_restarted: {
    title: 'Interrupted',
    message: 'The service restarted while this answer was being written. Send it again.',
    retryable: true,
  },
  attachment_unsupported: {
    title: 'File not supported',
    message: 'Only images and text files can be attached to a message.',
  },
  payload_too_large: {
    title: 'Too large',
    message: 'That is more than can be sent at once. Send smaller files.',
  },
  conversation_unknown: { title: 'Not found', message: 'This conversation does not exist or was deleted.' },
  agent_unknown: { title: 'Not found', message: 'This agent does not exist or is not shared with you.' },
  skill_unknown: { title: 'Not found', message: 'This skill does not exist or is not shared with you.' },
  message_unknown: { title: 'Not found', message: 'That message is no longer in this conversation.' },
  turn_unknown: { title: 'Not found', message: 'That answer could not be found.' },
  receipt_pending: {
    title: 'Receipt not ready',
    message: 'The audit log has not sealed this answer yet. Try again in a moment.',
    retryable: true,
  },
  receipt_unverifiable: {
    title: 'Cannot verify here',
    message:
      "This browser cannot check the receipt's signature. Use a current browser, or download the proof and check it with aibox verify.",
  },
  turn_not_running: { title: 'Already finished', message: 'That answer has already finished.' },
  approval_decided: {
    title: 'Already decided',
    message: 'This request was already approved, denied or has expired.',
  },
  approval_unknown: { title: 'Not found', message: 'This approval request no longer exists.' },
  replay_unavailable: {
    title: 'Cannot replay',
    message: 'This answer cannot be replayed: it is a replay itself, or its messages were not kept.',
  },
  agent_name_taken: { title: 'Name taken', message: 'You already have an agent with this name.' },
  skill_name_taken: { title: 'Name taken', message: 'You already have a skill with this name.' },
  skill_invalid: {
    title: 'Invalid skill',
    message: 'The skill is missing a name or description, or its header is malformed.',
    serverWorded: true,
  },
  mcp_forbidden: { title: 'Not allowed', message: 'Only administrators can connect MCP servers to agents.' },
  forbidden: { title: 'Not allowed', message: 'You do not have permission to do that.' },
  capability_missing: { title: 'Not allowed', message: 'This action is not allowed in this context.' },
  unauthenticated: { title: 'Signed out', message: 'Your session has ended. Sign in again.' },
  token_missing: { title: 'Signed out', message: 'Your session has ended. Sign in again.' },
  token_expired: { title: 'Signed out', message: 'Your session has expired. Sign in again.' },
  signature_invalid: { title: 'Signed out', message: 'Your session is no longer valid. Sign in again.' },
  issuer_unavailable: {
    title: 'Sign-in service unavailable',
    message: 'The sign-in service cannot be reached. Try again in a moment.',
    retryable: true,
  },
  provider_in_use: {
    title: 'Provider in use',
    message: 'A model role still uses this provider. Remove it from the roles first.',
  },
  provider_exists: { title: 'Name taken', message: 'A provider with this name already exists.' },
  provider_unreachable: {
    title: 'Provider unreachable',
    message: 'The provider did not answer when its model list was requested. Check the URL and key.',
    serverWorded: true,
  },
  provider_redirect: {
    title: 'Provider redirects',
    message: 'The provider answered with a redirect, which is never followed. Use the URL it redirects to.',
    serverWorded: true,
  },
  provider_rejected: {
    title: 'Provider refused',
    message: 'The provider did not answer with a model list. Check the URL and key.',
    serverWorded: true,
  },
  base_url_invalid: {
    title: 'Unusable URL',
    message: 'The base URL must be an http(s) address without credentials, query or fragment.',
    serverWorded: true,
  },
  provider_not_found: { title: 'Not found', message: 'This provider no longer exists.' },
  role_unknown: { title: 'Not found', message: 'There is no such model role.' },
  budget_not_found: { title: 'Not found', message: 'This budget no longer exists.' },
  credential_unreadable: {
    title: 'Stored key unreadable',
    message:
      "A provider's stored key cannot be decrypted (the credentials key changed?). Enter the key again.",
  },
  log_empty: {
    title: 'No checkpoint yet',
    message: 'The audit log has no sealed turn yet, so no checkpoint.',
  },
  event_unknown: { title: 'Not found', message: 'That event is not part of this turn.' },
  artifact_unknown: { title: 'Not found', message: 'This captured body or artifact does not exist.' },
  artifact_lost: {
    title: 'Artifact damaged',
    message: 'The stored copy is gone or no longer matches its hash, so it is not served.',
  },
  artifact_store_unavailable: {
    title: 'Storage unavailable',
    message: 'The object store cannot be reached. Try again in a moment.',
    retryable: true,
  },
  query_invalid: { title: 'Invalid filter', message: 'The filters or the page cursor were not accepted.' },
  sandbox_unknown: { title: 'Not found', message: 'This sandbox does not exist or is not visible to you.' },
  sandbox_not_ready: {
    title: 'Not now',
    message: 'The sandbox cannot do that in its current state. Wait for it to settle and try again.',
    retryable: true,
  },
  exec_unknown: { title: 'Not found', message: 'This exec does not exist in the sandbox.' },
  exec_not_running: { title: 'Already ended', message: 'This exec had already ended.', serverWorded: true },
  runtime_unavailable: {
    title: 'Sandbox runtime unavailable',
    message: 'This machine cannot run that sandbox runtime right now.',
  },
  network_error: {
    title: 'Offline',
    message: 'aibox cannot be reached. Check your connection; it will reconnect when it can.',
    retryable: true,
  },
  not_found: { title: 'Not found', message: 'That could not be found.' },
  route_unknown: { title: 'Not available', message: 'This feature is not available on this server.' },
  invalid_request: { title: 'Invalid request', message: 'The request was not accepted.', serverWorded: true },
};

/**
 * The user-facing description of an error code. Unknown codes fall back to the server's own sentence, so a
 * new code still says something true.
 */
export function describeError(code: string, serverMessage?: string): ErrorDescription {
  const known = MESSAGES[code];
  if (known !== undefined) {
    const { serverWorded, ...description } = known;
    return serverWorded === true && serverMessage !== undefined && serverMessage !== ''
      ? { retryable: false, ...description, message: serverMessage }
      : { retryable: false, ...description };
  }
  return {
    title: 'Something went wrong',
    message: serverMessage !== undefined && serverMessage !== '' ? serverMessage : 'The request failed.',
    retryable: true,
  };
}
