import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { renderWithProviders } from '../test-utils.js';
import { Composer, type ComposerMessage } from './Composer.js';

/** A 1×1 transparent PNG. */
const PNG = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='),
  (char) => char.charCodeAt(0),
);

function setup({ running = false } = {}) {
  const sent: ComposerMessage[] = [];
  const onStop = vi.fn();
  renderWithProviders(
    <Composer
      running={running}
      onStop={onStop}
      onSend={(message) => {
        sent.push(message);
      }}
    />,
  );
  return { sent, onStop, textbox: screen.getByRole('textbox', { name: 'Message' }), user: userEvent.setup() };
}

function paste(target: HTMLElement, files: File[]): void {
  fireEvent.paste(target, { clipboardData: { files, types: ['Files'], getData: () => '' } });
}

describe('Composer', { timeout: 20_000 }, () => {
  it('sends on Enter and clears the box', async () => {
    const { sent, textbox, user } = setup();
    await user.type(textbox, 'Hello there{Enter}');
    expect(sent).toEqual([{ text: 'Hello there', attachments: [] }]);
    expect(textbox).toHaveValue('');
  });

  it('inserts a new line on Shift+Enter instead of sending', async () => {
    const { sent, textbox, user } = setup();
    await user.type(textbox, 'first{Shift>}{Enter}{/Shift}second');
    expect(sent).toEqual([]);
    expect(textbox).toHaveValue('first\nsecond');
    await user.click(screen.getByRole('button', { name: 'Send' }));
    expect(sent).toEqual([{ text: 'first\nsecond', attachments: [] }]);
  });

  it('does not send an empty or blank message', async () => {
    const { sent, textbox, user } = setup();
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled();
    await user.type(textbox, '   {Enter}');
    expect(sent).toEqual([]);
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled();
  });

  it('does not send while an IME composition is active', () => {
    const { sent, textbox } = setup();
    fireEvent.change(textbox, { target: { value: 'にほん' } });
    fireEvent.keyDown(textbox, { key: 'Enter', isComposing: true });
    expect(sent).toEqual([]);
    fireEvent.keyDown(textbox, { key: 'Enter' });
    expect(sent).toEqual([{ text: 'にほん', attachments: [] }]);
  });

  it('shows Stop instead of Send while a turn runs, and sends nothing then', async () => {
    const { sent, onStop, textbox, user } = setup({ running: true });
    await user.type(textbox, 'next question{Enter}');
    expect(sent).toEqual([]);
    expect(screen.queryByRole('button', { name: 'Send' })).not.toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Stop' }));
    expect(onStop).toHaveBeenCalledOnce();
  });

  it('turns a pasted image into a removable attachment chip that is sent with the message', async () => {
    const { sent, textbox, user } = setup();
    paste(textbox, [new File([PNG], 'screenshot.png', { type: 'image/png' })]);
    const thumbnail = await screen.findByRole('img', { name: 'screenshot.png' });
    expect(thumbnail.getAttribute('src')).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
    expect(screen.getByRole('button', { name: 'Remove screenshot.png' })).toBeInTheDocument();
    await user.type(textbox, 'What is this?{Enter}');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.attachments).toEqual([
      { name: 'screenshot.png', content_type: 'image/png', data: btoa(String.fromCharCode(...PNG)) },
    ]);
    expect(screen.queryByRole('img', { name: 'screenshot.png' })).not.toBeInTheDocument();
  });

  it('removes a chip with its button', async () => {
    const { textbox, user } = setup();
    paste(textbox, [new File(['a,b\n1,2\n'], 'table.csv', { type: 'text/csv' })]);
    await user.click(await screen.findByRole('button', { name: 'Remove table.csv' }));
    expect(screen.queryByText('table.csv')).not.toBeInTheDocument();
  });

  it('refuses an unsupported file with the attachment_unsupported sentence before sending', async () => {
    const { sent, textbox, user } = setup();
    paste(textbox, [
      new File(['%PDF-1.7'], 'report.pdf', { type: 'application/pdf' }),
      new File(['print(1)'], 'script.py', { type: '' }),
    ]);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('report.pdf');
    expect(alert).toHaveTextContent('Only images and text files can be attached to a message.');
    // The Python file (no type from the browser) is recognised as text by its name.
    expect(await screen.findByText('script.py')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Remove report.pdf' })).not.toBeInTheDocument();
    await user.type(textbox, 'Summarise{Enter}');
    await waitFor(() => {
      expect(sent).toHaveLength(1);
    });
    expect(sent[0]?.attachments.map((attachment) => attachment.name)).toEqual(['script.py']);
  });
});
