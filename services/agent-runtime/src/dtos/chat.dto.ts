import { z } from 'zod';

const MAX_TEXT = 1_048_576;

const imageUrl = z
  .string()
  .max(24 * 1_048_576)
  .refine(
    (url) => /^https?:\/\//i.test(url) || /^data:image\/(png|jpeg|gif|webp);base64,/i.test(url),
    'must be an http(s) URL or a base64 data URL of a PNG, JPEG, GIF or WebP image',
  );

export const contentPart = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string().max(MAX_TEXT) }).strict(),
  z
    .object({
      type: z.literal('image_url'),
      image_url: z.object({ url: imageUrl, detail: z.enum(['auto', 'low', 'high']).optional() }).strict(),
    })
    .strict(),
]);

const content = z.union([z.string().min(1).max(MAX_TEXT), z.array(contentPart).min(1).max(64)]);

export const attachment = z
  .object({
    name: z.string().min(1).max(255),
    content_type: z.string().min(1).max(255),
    /** The file, base64. */
    data: z
      .string()
      .max(24 * 1_048_576)
      .optional(),
    /** Or, for an image, where the model can fetch it. */
    url: z.url().max(4_096).optional(),
  })
  .strict()
  .refine((value) => (value.data === undefined) !== (value.url === undefined), 'give either data or url');

export const chatBody = z
  .object({
    conversation_id: z.uuid().optional(),
    agent_id: z.string().min(1).max(64).optional(),
    message: content.optional(),
    messages: z
      .array(z.object({ role: z.enum(['user', 'assistant']), content }).strict())
      .min(1)
      .max(200)
      .optional(),
    attachments: z.array(attachment).max(16).optional(),
  })
  .strict()
  .refine((body) => (body.message === undefined) !== (body.messages === undefined), {
    message: 'give either message or messages',
  })
  .refine((body) => body.messages === undefined || body.messages.at(-1)?.role === 'user', {
    message: "the last of messages must be the user's",
  });

export type ChatBody = z.infer<typeof chatBody>;
export type AttachmentBody = z.infer<typeof attachment>;

export const approvalDecisionBody = z
  .object({
    decision: z.enum(['approve', 'deny']),
    reason: z.string().max(2_000).optional(),
  })
  .strict();

export type ApprovalDecisionBody = z.infer<typeof approvalDecisionBody>;
