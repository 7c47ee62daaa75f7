import { describe, expect, it } from 'vitest';

import {
  AuditProofError,
  auditJwk,
  formatCheckpoint,
  fromBase64,
  generateNoteSigner,
  noteKeyId,
  noteSignerFromSeed,
  noteVerifiersFromJwks,
  parseCheckpoint,
  parseNote,
  signNote,
  toHex,
  verifyNote,
} from '../src/index.js';

// golang.org/x/mod/sumdb/note's example: the key `PeterNeumann+c74f20a3+…` and the note it signs.
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
// The same test file's second signer: `EnochRoot+af0cfe78+…`, over the same text.
const ENOCH_PUBLIC = fromBase64('ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop').slice(1);
const ENOCH_LINE =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
const SEED = fromBase64('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz').slice(1);
const PUBLIC = fromBase64('ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW').slice(1);

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error: unknown) {
    return error instanceof AuditProofError ? error.code : String(error);
  }
}

describe('signed notes (C2SP signed-note, Ed25519)', () => {
  it('reproduces the Go sumdb example exactly: key id, public key, signature', async () => {
    expect(toHex(await noteKeyId('PeterNeumann', PUBLIC))).toBe('c74f20a3');
    const signer = await noteSignerFromSeed('PeterNeumann', SEED);
    expect(toHex(signer.publicKey)).toBe(toHex(PUBLIC));
    expect(await signNote(TEXT, [signer])).toBe(NOTE);
    const verifiers = await noteVerifiersFromJwks({ keys: [await auditJwk('PeterNeumann', PUBLIC)] });
    expect(await verifyNote(NOTE, verifiers)).toEqual({ text: TEXT, verifiedBy: ['PeterNeumann'] });
  });

  it('verifies the Go note signed by two keys, each key alone or both', async () => {
    const note = `${NOTE}${ENOCH_LINE}`;
    const peter = await auditJwk('PeterNeumann', PUBLIC);
    const enoch = await auditJwk('EnochRoot', ENOCH_PUBLIC);
    expect(enoch.kid).toBe('af0cfe78');
    expect(parseNote(note).signatures.map((signature) => signature.name)).toEqual([
      'PeterNeumann',
      'EnochRoot',
    ]);
    expect(
      (await verifyNote(note, await noteVerifiersFromJwks({ keys: [peter, enoch] }))).verifiedBy,
    ).toEqual(['PeterNeumann', 'EnochRoot']);
    expect((await verifyNote(note, await noteVerifiersFromJwks({ keys: [enoch] }))).verifiedBy).toEqual([
      'EnochRoot',
    ]);
    // A known key whose signature fails spoils the note even when another known key's verifies.
    // 'rwz+eBzm' → 'rwz+eBzn': the key id (af0cfe78) stays, the signature's second byte changes.
    const forged = `${NOTE}${ENOCH_LINE.replace('rwz+eBzm', 'rwz+eBzn')}`;
    expect(await codeOf(verifyNote(forged, await noteVerifiersFromJwks({ keys: [peter, enoch] })))).toBe(
      'note_signature_invalid',
    );
  });

  it('refuses a changed text, an unknown key, a wrong key id and malformed notes', async () => {
    const verifiers = await noteVerifiersFromJwks({ keys: [await auditJwk('PeterNeumann', PUBLIC)] });
    expect(await codeOf(verifyNote(NOTE.replace('cryptography', 'cryptographY'), verifiers))).toBe(
      'note_signature_invalid',
    );
    const other = await generateNoteSigner('PeterNeumann');
    const otherVerifiers = await noteVerifiersFromJwks({
      keys: [await auditJwk('PeterNeumann', other.publicKey)],
    });
    expect(await codeOf(verifyNote(NOTE, otherVerifiers))).toBe('note_key_unknown');
    expect(await codeOf(verifyNote(NOTE.replace('PeterNeumann x08', 'PeterNeumann y08'), verifiers))).toBe(
      'note_key_unknown',
    );
    for (const bad of [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n- PeterNeumann abc=\n`,
      `${TEXT}\n— PeterNeumann !!!\n`,
      `${TEXT}\n— PeterNeumann\n`,
      NOTE.slice(0, -1),
    ]) {
      expect(() => parseNote(bad)).toThrow(AuditProofError);
    }
  });

  it('ignores signatures by unknown keys but needs one known signer', async () => {
    const mine = await generateNoteSigner('aibox.local/audit');
    const stranger = await generateNoteSigner('stranger');
    const note = await signNote('hello\n', [stranger, mine]);
    const verifiers = await noteVerifiersFromJwks({ keys: [await auditJwk(mine.name, mine.publicKey)] });
    expect((await verifyNote(note, verifiers)).verifiedBy).toEqual(['aibox.local/audit']);
  });

  it('refuses key sets whose kid is not the key id of their name and key', async () => {
    const jwk = await auditJwk('PeterNeumann', PUBLIC);
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, kid: '00000000' }] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, note_key_name: 'Other' }] }))).toBe(
      'keys_invalid',
    );
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, x: 'AAAA' }] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, alg: 'ES256' }] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, use: 'enc' }] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, crv: 'X25519' }] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks({ keys: [{ ...jwk, x: `${jwk.x}=` }] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks({ keys: [] }))).toBe('keys_invalid');
    expect(await codeOf(noteVerifiersFromJwks('nope'))).toBe('keys_invalid');
  });
});

describe('note keys', () => {
  it('generates signers whose notes verify, and refuses text without a final newline', async () => {
    const signer = await generateNoteSigner('aibox.local/audit');
    expect(signer.publicKey).toHaveLength(32);
    const note = await signNote('aibox.local/audit/t1\n1\nAAAA\n', [signer]);
    expect(note).toMatch(/^aibox\.local\/audit\/t1\n1\nAAAA\n\n— aibox\.local\/audit [A-Za-z0-9+/]{91}=\n$/);
    const verifiers = await noteVerifiersFromJwks({ keys: [await auditJwk(signer.name, signer.publicKey)] });
    expect(await verifyNote(note, verifiers)).toEqual({
      text: 'aibox.local/audit/t1\n1\nAAAA\n',
      verifiedBy: ['aibox.local/audit'],
    });
    expect(await codeOf(signNote('no newline', [signer]))).toBe('note_malformed');
    expect(await codeOf(signNote('x\n', [await generateNoteSigner('has space')]))).toBe('note_malformed');
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  it('round-trips and parses strictly', () => {
    const root = new Uint8Array(32).fill(7);
    const text = formatCheckpoint({ origin: 'aibox.local/audit/t1', size: 42, rootHash: root });
    expect(text).toBe(`aibox.local/audit/t1\n42\n${'BwcH'.repeat(10)}Bwc=\n`);
    expect(parseCheckpoint(text)).toEqual({
      origin: 'aibox.local/audit/t1',
      size: 42,
      rootHash: root,
      extensions: [],
    });
    const withExtensions = formatCheckpoint({
      origin: 'o',
      size: 0,
      rootHash: root,
      extensions: ['— not a signature, an extension', 'x'],
    });
    expect(parseCheckpoint(withExtensions)).toMatchObject({
      size: 0,
      extensions: ['— not a signature, an extension', 'x'],
    });
    for (const bad of [
      { origin: '', size: 1, rootHash: root },
      { origin: 'a\nb', size: 1, rootHash: root },
      { origin: 'o', size: -1, rootHash: root },
      { origin: 'o', size: 1.5, rootHash: root },
      { origin: 'o', size: 1, rootHash: root.slice(1) },
      { origin: 'o', size: 1, rootHash: root, extensions: [''] },
    ]) {
      expect(() => formatCheckpoint(bad), JSON.stringify(bad)).toThrow(AuditProofError);
    }
    for (const bad of [
      '',
      'o\n42\n',
      `o\n+1\n${'BwcH'.repeat(10)}Bwc=\n`,
      `o\n1e3\n${'BwcH'.repeat(10)}Bwc=\n`,
      `o\n9007199254740993\n${'BwcH'.repeat(10)}Bwc=\n`,
      `o\n1\n${'BwcH'.repeat(10)}Bwc=\n\n`,
      'o\n042\nAAAA\n',
      'o\n-1\nAAAA\n',
      `o\n1\n${'A'.repeat(42)}==\n`,
      `\n1\n${'BwcH'.repeat(10)}Bwc=\n`,
      `o\n1\n${'BwcH'.repeat(10)}Bwc=`,
    ]) {
      expect(() => parseCheckpoint(bad), JSON.stringify(bad)).toThrow(AuditProofError);
    }
  });
});
