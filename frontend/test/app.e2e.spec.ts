import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { CHROMIUM_PATH, needs } from '@aibox/testing';

import {
  lastUserText,
  startScriptedModel,
  type Json,
  type ScriptedModel,
} from '../../services/agent-runtime/test/support/scripted-model.js';
import { devLogins, signInWithCode } from '../../services/identity/test/support/identity-harness.js';
import { MESH_PORTS_WAIT_MS, startIsolatedMesh, type IsolatedMesh } from '../../tools/test/isolated-mesh.js';

/**
 * The web app in a real Chromium against the mesh as `make dev` runs it (the built services as processes on their
 * fixed ports, the built SPA served by the gateway, the built-in identity service), with a scripted
 * OpenAI-compatible model behind the router. Each step leaves a screenshot in `frontend/test-results/e2e/`.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GATEWAY = 'http://127.0.0.1:8080';
const ISSUER = 'http://127.0.0.1:8011';
const SHOTS = process.env['AIBOX_E2E_ARTIFACTS'] ?? join(ROOT, 'frontend', 'test-results', 'e2e');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** The browser globals the page scripts below touch (this file is type-checked for Node, without the DOM). */
interface PageGlobals {
  readonly sessionStorage: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
  };
  readonly document: {
    readonly documentElement: { readonly dataset: Record<string, string | undefined> };
    readonly activeElement: unknown;
    getAnimations(): {
      readonly playState: string;
      readonly effect: { getTiming(): { readonly iterations?: number } } | null;
    }[];
  };
  readonly PerformanceObserver: new (callback: (list: { getEntries(): unknown[] }) => void) => {
    observe(options: { type: string; buffered: boolean }): void;
  };
  layoutShift: number;
  readonly innerWidth: number;
  readonly axe: {
    run(
      context: unknown,
      options: { runOnly: { type: 'tag'; values: readonly string[] } },
    ): Promise<{ violations: AxeViolation[] }>;
  };
}

/** What axe-core reports of one broken rule. */
interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[]; readonly failureSummary?: string }[];
}

/** axe-core, the accessibility rules engine, injected into pages the app's CSP would otherwise keep it out of. */
const AXE_SCRIPT = join(ROOT, 'frontend', 'node_modules', 'axe-core', 'axe.min.js');
/** WCAG 2.1 levels A and AA: names and labels, contrast, structure, focus order. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] as const;

/** Waits for things a person would wait for: a streamed answer, a sealed receipt. */
const SLOW = { timeout: 45_000 };

/** What the scripted model answers: a slow streamed echo, or a `current_time` call for questions about time. */
function script(body: Json) {
  const messages = (body['messages'] as { role: string }[] | undefined) ?? [];
  const text = lastUserText(body);
  if (messages.at(-1)?.role === 'tool')
    return { text: 'The clock tool says it is late. Good night!', delayMs: 40 };
  if (/what time/i.test(text)) return { toolCalls: [{ name: 'current_time', arguments: '{}' }] };
  if (/long story/i.test(text)) return { text: 'Once upon a time '.repeat(60), delayMs: 100 };
  return {
    text: `You said: ${text}. Here is some code:\n\n\`\`\`python\nprint("hello")\n\`\`\`\n`,
    delayMs: 60,
  };
}

/** The sandbox step runs programs under bubblewrap, the dev mesh's sandbox runtime. */
const HAS_BUBBLEWRAP = await needs('bubblewrap');

describe.runIf(await needs('chromium'))('the web app in Chromium', () => {
  let mesh: IsolatedMesh | undefined;
  let model: ScriptedModel;
  let browser: Browser;
  let logins: { email: string; password: string; role: string }[] = [];
  let step = 0;
  /** The page a test worked in last, kept open when the test fails so its state can be seen. */
  let lastPage: Page | undefined;

  async function shot(page: Page, name: string): Promise<void> {
    step += 1;
    await page.screenshot({
      path: join(SHOTS, `${String(step).padStart(2, '0')}-${name}.png`),
      fullPage: true,
    });
  }

  function login(role: 'admin' | 'user') {
    const found = logins.find((entry) => entry.role === role);
    if (found === undefined) throw new Error(`no seeded ${role} login`);
    return found;
  }

  /** Signs in through the app: the sign-in page, the IdP's form, back to the app with code + PKCE. */
  async function signIn(context: BrowserContext, role: 'admin' | 'user'): Promise<Page> {
    const page = await context.newPage();
    lastPage = page;
    await page.goto(`${GATEWAY}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${ISSUER}/**`);
    const { email, password } = login(role);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await shot(page, `${role}-identity-sign-in`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${GATEWAY}/**`);
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    return page;
  }

  /** An API call as the seeded admin, outside the browser (setting up what a test then looks at). */
  let adminToken: Promise<string> | undefined;
  async function asAdmin(method: string, path: string, body?: unknown): Promise<Response> {
    const admin = login('admin');
    adminToken ??= signInWithCode(ISSUER, admin.email, admin.password).then((tokens) => tokens.access_token);
    return fetch(`${GATEWAY}${path}`, {
      method,
      headers: { authorization: `Bearer ${await adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async function send(page: Page, text: string): Promise<void> {
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill(text);
    await box.press('Enter');
  }

  /**
   * The page as it is now against WCAG 2.1 AA, by axe-core: each broken rule with the elements that break it,
   * and a screenshot of what was checked.
   */
  async function accessibilityViolations(page: Page, name: string): Promise<string[]> {
    // Colours are measured once drawers and menus have finished fading in (spinners spin on).
    await page.waitForFunction(() =>
      (globalThis as unknown as PageGlobals).document
        .getAnimations()
        .every(
          (animation) =>
            animation.playState !== 'running' || animation.effect?.getTiming().iterations === Infinity,
        ),
    );
    await page.addScriptTag({ path: AXE_SCRIPT });
    const violations = await page.evaluate(
      async (tags) =>
        (
          await (globalThis as unknown as PageGlobals).axe.run(
            (globalThis as unknown as PageGlobals).document,
            { runOnly: { type: 'tag', values: tags } },
          )
        ).violations,
      WCAG_AA,
    );
    await shot(page, `a11y-${name}`);
    return violations.map(
      (violation) =>
        `${name}: ${violation.id} (${violation.impact ?? 'unrated'}) ${violation.help}: ${violation.nodes
          .slice(0, 5)
          .map((node) => `${node.target.join(' ')} — ${node.failureSummary ?? ''}`)
          .join(' | ')}`,
    );
  }

  beforeAll(async () => {
    await rm(SHOTS, { recursive: true, force: true });
    await mkdir(SHOTS, { recursive: true });
    model = await startScriptedModel();
    model.fallback = script;
    mesh = await startIsolatedMesh({
      rootDir: ROOT,
      label: 'spa',
      env: { GATEWAY_STATIC_DIR: join(ROOT, 'frontend', 'dist') },
    });
    const { dataDir } = mesh;
    logins = await devLogins(dataDir);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  }, MESH_PORTS_WAIT_MS + 120_000);

  afterEach(async ({ task }) => {
    if (task.result?.state !== 'fail' || lastPage === undefined || lastPage.isClosed()) return;
    const alerts = await lastPage.getByRole('alert').allInnerTexts();
    process.stderr.write(`failed at ${lastPage.url()}; alerts on the page: ${JSON.stringify(alerts)}\n`);
    await shot(lastPage, `failed-${task.name.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`);
  });

  afterAll(async () => {
    await browser.close();
    await mesh?.stop();
    await model.close();
  }, 60_000);

  it('lets an admin sign in, see that no model is set up, add a provider and give it the default role', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'admin');
    await shot(page, 'admin-signed-in');

    await send(page, 'Is anybody there?');
    const alert = page.getByRole('alert').filter({ hasText: 'An administrator has not set up a model yet' });
    await alert.waitFor(SLOW);
    await shot(page, 'admin-no-model-error');
    await alert.getByRole('link', { name: 'Set up models' }).click();
    await page.waitForURL(`${GATEWAY}/admin/inference**`);

    await page.getByRole('button', { name: 'Add provider' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('scripted');
    await dialog.getByLabel('Base URL').fill(model.url);
    await shot(page, 'admin-add-provider');
    await dialog.getByRole('button', { name: 'Save' }).click();
    // The router probed the provider's model list before saving it.
    await page.getByText('scripted-1').first().waitFor(SLOW);
    await shot(page, 'admin-provider-probed');

    await page.getByRole('tab', { name: 'Roles' }).click();
    await page.getByRole('button', { name: 'Edit role default' }).click();
    const roleDialog = page.getByRole('dialog');
    const picker = roleDialog.getByLabel('Add a model');
    await picker.fill('scripted/scripted-1');
    await picker.press('Enter');
    await shot(page, 'admin-edit-role');
    await roleDialog.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('row', { name: /default/ })
      .getByText('scripted/scripted-1')
      .waitFor(SLOW);
    await shot(page, 'admin-role-saved');

    // The role change is live: the admin's next message is answered.
    await page.getByRole('link', { name: 'Chat', exact: true }).click();
    await page.getByRole('button', { name: 'New chat' }).click();
    await send(page, 'Now?');
    await page.getByRole('article', { name: 'Assistant' }).getByText('You said: Now?').waitFor(SLOW);
    await context.close();
  }, 120_000);

  it('streams an answer to a user, with a receipt verified in the browser and a proof to download', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      acceptDownloads: true,
    });
    const page = await signIn(context, 'user');
    // Layout shifts while the answer streams in (the Layout Instability API): text grows in place.
    await page.evaluate(() => {
      const record = globalThis as unknown as PageGlobals;
      record.layoutShift = 0;
      new record.PerformanceObserver((list) => {
        for (const entry of list.getEntries() as { value: number; hadRecentInput: boolean }[]) {
          if (!entry.hadRecentInput) record.layoutShift += entry.value;
        }
      }).observe({ type: 'layout-shift', buffered: false });
    });
    await send(page, 'Hello aibox');

    const answer = page.getByRole('article', { name: 'Assistant' }).last();
    // Watched while it streams: part of the answer is there before the whole of it.
    await answer.and(page.locator('[aria-busy="true"]')).waitFor(SLOW);
    await answer.getByText('You said').waitFor(SLOW);
    await shot(page, 'user-streaming');
    await answer.getByText('print("hello")').waitFor(SLOW);
    await page.waitForURL(`${GATEWAY}/c/**`);
    expect(await answer.getAttribute('aria-busy')).not.toBe('true');
    const shift = await page.evaluate(() => (globalThis as unknown as PageGlobals).layoutShift);
    expect(shift).toBeLessThan(0.05);

    const badge = answer.getByRole('button', { name: 'Receipt: verified' });
    await badge.waitFor({ timeout: 60_000 });
    await shot(page, 'user-receipt-verified');
    await badge.click();
    const drawer = page.getByRole('dialog', { name: 'Receipt' });
    await drawer.getByText('Verified in your browser', { exact: false }).waitFor();
    await drawer.getByText('Model called').first().waitFor();
    await shot(page, 'user-receipt-panel');

    const download = page.waitForEvent('download');
    await drawer.getByRole('button', { name: 'Download proof JSON' }).click();
    const file = await (await download).path();
    const proof = JSON.parse(await readFile(file, 'utf8')) as { turn_id: string; events: unknown[] };
    expect(proof.events.length).toBeGreaterThan(3);
    expect(page.url()).toContain('/c/');
    await context.close();
  }, 120_000);

  it('shows a proof tampered with in transit as failed', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'user');
    await page
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .click();
    await page.getByRole('button', { name: 'Receipt: verified' }).first().waitFor({ timeout: 60_000 });

    // The same proof, one event attribute changed between the server and the page.
    await page.route('**/v1/receipts/*/proof**', async (route) => {
      const response = await route.fetch();
      const proof = (await response.json()) as {
        events: { event: { attributes: Record<string, unknown> } }[];
      };
      const first = proof.events[0];
      if (first !== undefined) first.event.attributes['route'] = '/v1/somewhere-else';
      await route.fulfill({ response, json: proof });
    });
    await page.reload();
    const failed = page.getByRole('button', { name: 'Receipt: failed' }).first();
    await failed.waitFor({ timeout: 60_000 });
    await failed.click();
    await page
      .getByRole('dialog', { name: 'Receipt' })
      .getByText('Verification failed', { exact: false })
      .waitFor();
    await shot(page, 'user-receipt-tampered');
    await context.close();
  }, 120_000);

  it('pauses a tool that needs approval until the user approves it', async () => {
    // An agent whose clock tool needs approval, shared with the tenant by the admin.
    const created = await asAdmin('POST', '/v1/agents', {
      name: 'Clock',
      description: 'Tells the time, with your approval',
      tools: ['current_time'],
      approval: { tools: ['current_time'] },
      visibility: 'tenant',
    });
    expect(created.status).toBe(201);

    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'user');
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByRole('combobox', { name: 'Agent' }).click();
    await page.getByRole('option', { name: /Clock/ }).click();
    await send(page, 'What time is it?');

    const approve = page.getByRole('button', { name: 'Approve' });
    await approve.waitFor(SLOW);
    await page.getByText('current_time').first().waitFor();
    await shot(page, 'user-approval-card');
    await approve.click();
    await page.getByText('The clock tool says it is late.', { exact: false }).waitFor(SLOW);
    await shot(page, 'user-approved-answer');
    await context.close();
  }, 120_000);

  it('works from the keyboard alone: write, send, open the receipt and close it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'user');
    /** Presses Tab until the element is focused, as a keyboard user would. */
    async function tabTo(target: Locator): Promise<void> {
      for (let presses = 0; presses < 60; presses += 1) {
        await page.keyboard.press('Tab');
        const focused = await target.evaluate(
          (element) => element === (globalThis as unknown as PageGlobals).document.activeElement,
        );
        if (focused) return;
      }
      throw new Error(`Tab never reached ${String(target)}`);
    }
    await tabTo(page.getByRole('button', { name: 'New chat' }));
    await page.keyboard.press('Enter');
    await tabTo(page.getByRole('textbox', { name: 'Message' }));
    await page.keyboard.type('Typed without a mouse');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('on two lines');
    await page.keyboard.press('Enter');
    const answer = page.getByRole('article', { name: 'Assistant' }).last();
    await answer.getByText('You said: Typed without a mouse').waitFor(SLOW);
    await answer.getByRole('button', { name: 'Receipt: verified' }).waitFor({ timeout: 60_000 });
    await tabTo(answer.getByRole('button', { name: 'Receipt: verified' }));
    await page.keyboard.press('Enter');
    const drawer = page.getByRole('dialog', { name: 'Receipt' });
    await drawer.getByText('Verified in your browser', { exact: false }).waitFor();
    await shot(page, 'user-keyboard-receipt');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
    await context.close();
  }, 120_000);

  it('picks a dropped stream up where it broke off, with Last-Event-ID', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'user');
    // The connection breaks after the first answer words reach the browser: the body ends without `done`.
    await page.route('**/v1/chat/stream', async (route) => {
      const response = await route.fetch();
      const events = (await response.text()).split('\n\n');
      const firstDelta = events.findIndex((event) => event.includes('event: delta'));
      await route.fulfill({ response, body: `${events.slice(0, firstDelta + 1).join('\n\n')}\n\n` });
    });
    const resumed = page.waitForRequest((request) => /\/v1\/chat\/[^/]+\/stream/.test(request.url()));
    await page.getByRole('button', { name: 'New chat' }).click();
    await send(page, 'Tell me again');
    const lastEventId = (await resumed).headers()['last-event-id'];
    expect(Number(lastEventId)).toBeGreaterThan(1);
    const answer = page.getByRole('article', { name: 'Assistant' }).last();
    await answer.getByText('print("hello")').waitFor(SLOW);
    // Each word once: nothing doubled by the resume, nothing lost.
    expect((await answer.innerText()).match(/You said: Tell me again/g)).toHaveLength(1);
    await answer.getByRole('button', { name: 'Receipt: verified' }).waitFor({ timeout: 60_000 });
    await shot(page, 'user-stream-resumed');
    await context.close();
  }, 120_000);

  it('stops an answer mid-stream, and renames, finds and deletes conversations', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'user');
    await page.getByRole('button', { name: 'New chat' }).click();
    await send(page, 'Tell me a long story');
    const answer = page.getByRole('article', { name: 'Assistant' }).last();
    await answer.getByText('Once upon a time', { exact: false }).first().waitFor(SLOW);
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('alert').filter({ hasText: 'You stopped this answer.' }).waitFor(SLOW);
    await shot(page, 'user-answer-stopped');

    const list = page.getByRole('navigation', { name: 'Conversations' });
    await page.getByRole('button', { name: /^Options for Tell me a long story/ }).click();
    await page.getByRole('menuitem', { name: 'Rename' }).click();
    await page.getByRole('dialog').getByLabel('Title').fill('Bedtime');
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await list.getByRole('link', { name: 'Bedtime' }).waitFor(SLOW);

    const search = page.getByRole('textbox', { name: 'Search conversations' });
    await search.fill('bedtime');
    await list.getByRole('link', { name: 'Bedtime' }).waitFor(SLOW);
    await list.getByRole('link', { name: /Hello aibox/ }).waitFor({ state: 'detached', ...SLOW });
    await shot(page, 'user-conversation-search');
    await search.fill('');
    await list
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .waitFor(SLOW);

    await page.getByRole('button', { name: /^Options for Bedtime/ }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await list.getByRole('link', { name: 'Bedtime' }).waitFor({ state: 'detached', ...SLOW });
    // Gone on the server too, not just from the page.
    await page.reload();
    await list
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .waitFor(SLOW);
    expect(await list.getByRole('link', { name: 'Bedtime' }).count()).toBe(0);
    await context.close();
  }, 120_000);

  it('renews a rejected access token with the refresh token, and signs out at the IdP', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'user');
    // The stored access token stops being accepted (as when it expires early or its key is withdrawn); the
    // refresh token is intact, so the app renews silently and carries on without the sign-in page.
    await page.evaluate(() => {
      const { sessionStorage } = globalThis as unknown as PageGlobals;
      for (const key of Object.keys(sessionStorage)) {
        if (!key.startsWith('oidc.user:')) continue;
        const user = JSON.parse(sessionStorage.getItem(key) ?? '{}') as { access_token?: string };
        user.access_token = `${user.access_token ?? ''}x`;
        sessionStorage.setItem(key, JSON.stringify(user));
      }
    });
    const renewed = page.waitForResponse(
      (response) => response.url() === `${ISSUER}/token` && response.status() === 200,
    );
    await page.reload();
    await renewed;
    await page
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .waitFor(SLOW);
    expect(page.url()).not.toContain('/sign-in');

    const refreshToken = await page.evaluate(() => {
      const { sessionStorage } = globalThis as unknown as PageGlobals;
      const key = Object.keys(sessionStorage).find((name) => name.startsWith('oidc.user:'));
      return (JSON.parse(sessionStorage.getItem(key ?? '') ?? '{}') as { refresh_token?: string })
        .refresh_token;
    });
    expect(refreshToken).toBeTruthy();
    await page.getByRole('button', { name: /^Account/ }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL(`${ISSUER}/**`);
    await shot(page, 'user-sign-out-at-idp');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor(SLOW);
    expect(page.url().startsWith(GATEWAY)).toBe(true);
    // Signed out for real: the app does not find a session to go back to.
    await page.goto(`${GATEWAY}/`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot(page, 'user-signed-out');
    // The refresh token the tab held is dead after sign-out: it buys nobody a new access token.
    const reuse = await fetch(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken ?? '',
        client_id: 'aibox-spa',
      }),
    });
    expect(reuse.status).toBe(400);
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
    await context.close();
  }, 120_000);

  it('lets an admin verify the whole log and replay a turn', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await signIn(context, 'admin');
    await page.goto(`${GATEWAY}/admin/audit`);
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await page.getByRole('status').filter({ hasText: 'The log verifies' }).waitFor(SLOW);
    await shot(page, 'admin-audit-log-verified');
    await page
      .getByRole('link', { name: /^[0-9a-f]{8}/ })
      .first()
      .click();
    await page.waitForURL(`${GATEWAY}/admin/audit/turns/**`);
    await page.getByText('Turn started').first().waitFor(SLOW);
    await shot(page, 'admin-audit-turn-replay');
    await context.close();
  }, 120_000);

  it.runIf(HAS_BUBBLEWRAP)(
    'lets an admin inspect, stop and delete a sandbox, with its events and a program output',
    async () => {
      const created = await asAdmin('POST', '/v1/sandbox/sandboxes', { name: 'e2e-box' });
      expect(created.status).toBe(202);
      const { id } = (await created.json()) as { id: string };
      let ran: Response | undefined;
      for (let attempt = 0; attempt < 100 && ran?.status !== 200; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
        ran = await asAdmin('POST', `/v1/sandbox/sandboxes/${id}/execs?wait=true`, {
          argv: ['sh', '-c', 'printf "%s-%s\\n" made-in the-sandbox'],
        });
      }
      expect(ran?.status).toBe(200);

      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const page = await signIn(context, 'admin');
      await page.goto(`${GATEWAY}/admin/sandboxes`);
      const row = page.getByRole('row', { name: /e2e-box/ });
      await row.getByText('ready').waitFor(SLOW);
      await shot(page, 'admin-sandboxes');
      await row.getByRole('link').first().click();
      await page.waitForURL(`${GATEWAY}/admin/sandboxes/${id}`);
      await page.getByText('made-in-the-sandbox').waitFor(SLOW);
      await shot(page, 'admin-sandbox-inspected');
      await page.getByRole('button', { name: 'Stop e2e-box' }).click();
      await page.getByText('stopped').first().waitFor(SLOW);
      await page.getByRole('button', { name: 'Delete e2e-box' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      // The service converges: deleting, then deleted.
      let state = '';
      for (let attempt = 0; attempt < 100 && state !== 'deleted'; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
        const sandbox = await asAdmin('GET', `/v1/sandbox/sandboxes/${id}`);
        state = sandbox.status === 404 ? 'deleted' : ((await sandbox.json()) as { state: string }).state;
      }
      expect(state).toBe('deleted');
      await context.close();
    },
    120_000,
  );

  it('keeps a non-admin out of the admin pages', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await signIn(context, 'user');
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await page.goto(`${GATEWAY}/admin/inference`);
    await page.getByText('Administrators only').waitFor();
    expect(await page.getByRole('button', { name: 'Add provider' }).count()).toBe(0);
    await shot(page, 'user-admin-refused-phone');

    // The chat on a phone, in the dark theme: the conversations are a drawer behind the menu button.
    await page.getByRole('link', { name: 'Chat', exact: true }).click();
    await page.getByRole('button', { name: 'Switch to dark theme' }).click();
    await page.getByRole('button', { name: 'Toggle side panel' }).click();
    await page
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .click();
    await page.getByRole('button', { name: 'Receipt: verified' }).first().waitFor({ timeout: 60_000 });
    expect(
      await page.evaluate(
        () => (globalThis as unknown as PageGlobals).document.documentElement.dataset['mantineColorScheme'],
      ),
    ).toBe('dark');
    await shot(page, 'user-chat-phone-dark');
    await context.close();
  }, 120_000);

  it('meets WCAG 2.1 AA on every page, in both themes, and fits a phone without sideways scrolling', async () => {
    const found: string[] = [];
    // axe-core is injected as a script, which the app's CSP refuses: this context alone bypasses it.
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
    const signedOut = await context.newPage();
    lastPage = signedOut;
    await signedOut.goto(`${GATEWAY}/`);
    await signedOut.getByRole('button', { name: 'Sign in' }).waitFor();
    found.push(...(await accessibilityViolations(signedOut, 'sign-in')));
    await signedOut.close();

    const page = await signIn(context, 'user');
    await page
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .click();
    const badge = page.getByRole('button', { name: 'Receipt: verified' }).first();
    await badge.waitFor({ timeout: 60_000 });
    found.push(...(await accessibilityViolations(page, 'chat-light')));
    await badge.click();
    const drawer = page.getByRole('dialog', { name: 'Receipt' });
    await drawer.getByText('Verified in your browser', { exact: false }).waitFor();
    found.push(...(await accessibilityViolations(page, 'receipt-light')));
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Switch to dark theme' }).click();
    await page.getByRole('button', { name: 'Switch to light theme' }).waitFor();
    found.push(...(await accessibilityViolations(page, 'chat-dark')));
    await badge.click();
    await drawer.getByText('Verified in your browser', { exact: false }).waitFor();
    found.push(...(await accessibilityViolations(page, 'receipt-dark')));
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Switch to light theme' }).click();
    await context.close();

    // A context of its own: the IdP's session in the user's would sign the admin in as the user.
    const adminContext = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      bypassCSP: true,
    });
    const admin = await signIn(adminContext, 'admin');
    // Each page once what it shows has loaded.
    const adminPages: [string, string, Locator][] = [
      ['/admin/inference?tab=providers', 'admin-providers', admin.getByRole('row', { name: /scripted/ })],
      ['/admin/inference?tab=roles', 'admin-roles', admin.getByText('scripted/scripted-1')],
      ['/admin/inference?tab=usage', 'admin-usage', admin.getByRole('rowheader', { name: 'Total' })],
      ['/admin/audit', 'admin-audit', admin.getByRole('link', { name: /^[0-9a-f]{8}/ })],
      ['/admin/sandboxes', 'admin-sandboxes', admin.getByRole('heading', { name: 'Sandboxes' })],
      ['/admin/agents?tab=agents', 'admin-agents', admin.getByText('Clock')],
      ['/admin/agents?tab=skills', 'admin-skills', admin.getByRole('button', { name: /skill/i })],
    ];
    for (const [path, name, loaded] of adminPages) {
      await admin.goto(`${GATEWAY}${path}`);
      await loaded.first().waitFor(SLOW);
      found.push(...(await accessibilityViolations(admin, name)));
    }
    await admin.goto(`${GATEWAY}/admin/inference?tab=providers`);
    await admin.getByRole('button', { name: 'Switch to dark theme' }).click();
    await admin.getByRole('row', { name: /scripted/ }).waitFor(SLOW);
    found.push(...(await accessibilityViolations(admin, 'admin-providers-dark')));
    await admin.getByRole('button', { name: 'Switch to light theme' }).click();
    await adminContext.close();

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true });
    const small = await signIn(phone, 'user');
    await small.getByRole('button', { name: 'Toggle side panel' }).click();
    await small
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .click();
    await small.getByRole('button', { name: 'Receipt: verified' }).first().waitFor({ timeout: 60_000 });
    const widths = await small.evaluate(() => {
      const { document, innerWidth } = globalThis as unknown as PageGlobals & {
        document: { documentElement: { scrollWidth: number } };
      };
      return { page: document.documentElement.scrollWidth, screen: innerWidth };
    });
    expect(widths.page).toBeLessThanOrEqual(widths.screen);
    found.push(...(await accessibilityViolations(small, 'chat-phone')));
    await small.getByRole('button', { name: 'Toggle side panel' }).click();
    await small
      .getByRole('link', { name: /Hello aibox/ })
      .first()
      .waitFor();
    found.push(...(await accessibilityViolations(small, 'conversations-phone')));
    await phone.close();

    expect(found).toEqual([]);
  }, 240_000);
});
