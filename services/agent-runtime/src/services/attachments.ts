import type { AttachmentBody } from '../dtos/chat.dto.js';
import { RuntimeError } from '../errors/runtime.error.js';
import type { ContentPart } from './conversation.js';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const TEXT_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/javascript',
  'application/typescript',
  'application/sql',
]);

/** The longest text attachment put into the prompt. */
export const MAX_TEXT_ATTACHMENT_BYTES = 1_048_576;

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Attachments as content parts of the user's message: images as image parts (the model sees them), text
 * files inline as text. Other kinds (PDF, office files) need the knowledge service and are refused.
 */
export function attachmentParts(attachments: readonly AttachmentBody[]): ContentPart[] {
  return attachments.map((attachment) => {
    const type = mediaType(attachment.content_type);
    if (IMAGE_TYPES.has(type)) {
      if (attachment.url !== undefined) {
        if (!/^https?:\/\//i.test(attachment.url)) {
          throw new RuntimeError(
            'attachment_unsupported',
            `${attachment.name}: an image URL must be http(s)`,
          );
        }
        return { type: 'image_url', image_url: { url: attachment.url } };
      }
      return { type: 'image_url', image_url: { url: `data:${type};base64,${attachment.data ?? ''}` } };
    }
    if (type.startsWith('text/') || TEXT_TYPES.has(type)) {
      if (attachment.data === undefined) {
        throw new RuntimeError('attachment_unsupported', `${attachment.name}: a text file is sent as data`);
      }
      const bytes = Buffer.from(attachment.data, 'base64');
      if (bytes.length > MAX_TEXT_ATTACHMENT_BYTES) {
        throw new RuntimeError(
          'attachment_unsupported',
          `${attachment.name}: text attachments are limited to ${MAX_TEXT_ATTACHMENT_BYTES} bytes`,
        );
      }
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      return { type: 'text', text: `Attached file ${attachment.name} (${type}):\n\n${text}` };
    }
    throw new RuntimeError('attachment_unsupported', `${attachment.name}: ${type} files cannot be read here`);
  });
}
