import type { Attachment } from './chat-api.js';

/** The image kinds a model is given as images (agent-runtime's list). */
const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Non-`text/*` kinds agent-runtime puts into the message as text. */
const TEXT_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/javascript',
  'application/typescript',
  'application/sql',
]);

/** Browsers often give no type (or a generic one) for source files: the extension tells what they are. */
const TYPE_BY_EXTENSION: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  html: 'text/html',
  css: 'text/css',
  json: 'application/json',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  js: 'application/javascript',
  mjs: 'application/javascript',
  cjs: 'application/javascript',
  ts: 'application/typescript',
  tsx: 'application/typescript',
  jsx: 'application/javascript',
  sql: 'application/sql',
  py: 'text/x-python',
  sh: 'text/x-shellscript',
  go: 'text/x-go',
  rs: 'text/x-rust',
  java: 'text/x-java',
  c: 'text/x-c',
  h: 'text/x-c',
  cpp: 'text/x-c++',
  rb: 'text/x-ruby',
  toml: 'text/x-toml',
  ini: 'text/plain',
  log: 'text/plain',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

/** agent-runtime's limit for a text file put into the message. */
export const MAX_TEXT_BYTES = 1_048_576;
/** An attachment's base64 may be at most 24 MiB: 18 MiB of file. */
export const MAX_IMAGE_BYTES = 18 * 1_048_576;
/** The request body may be at most 32 MiB; the rest is the message and JSON. */
export const MAX_TOTAL_BASE64 = 30 * 1_048_576;
export const MAX_ATTACHMENTS = 16;

export type FileVerdict =
  | { readonly ok: true; readonly kind: 'image' | 'text'; readonly contentType: string }
  | { readonly ok: false; readonly code: 'attachment_unsupported' | 'payload_too_large' };

function mediaType(file: File): string {
  const given = (file.type.split(';')[0] ?? '').trim().toLowerCase();
  if (given !== '' && given !== 'application/octet-stream') return given;
  const extension = file.name.includes('.') ? (file.name.split('.').pop() ?? '').toLowerCase() : '';
  return TYPE_BY_EXTENSION[extension] ?? given;
}

/** Whether agent-runtime can take this file, decided before sending (its own rules, its own limits). */
export function classifyFile(file: File): FileVerdict {
  const type = mediaType(file);
  if (IMAGE_TYPES.has(type)) {
    return file.size > MAX_IMAGE_BYTES
      ? { ok: false, code: 'payload_too_large' }
      : { ok: true, kind: 'image', contentType: type };
  }
  if (type.startsWith('text/') || TEXT_TYPES.has(type)) {
    // A longer text file is refused by the runtime as attachment_unsupported.
    return file.size > MAX_TEXT_BYTES
      ? { ok: false, code: 'attachment_unsupported' }
      : { ok: true, kind: 'text', contentType: type };
  }
  return { ok: false, code: 'attachment_unsupported' };
}

export function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = typeof reader.result === 'string' ? reader.result : '';
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => {
      reject(reader.error ?? new Error(`${file.name} could not be read`));
    };
    reader.readAsDataURL(file);
  });
}

export function base64Size(attachments: readonly Attachment[]): number {
  return attachments.reduce((total, attachment) => total + attachment.data.length, 0);
}
