import { bytesEqual, concatBytes, utf8 } from './bytes.js';

/** SHA-256 through WebCrypto (browsers and Node alike). A string is hashed as UTF-8. */
export async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<Uint8Array> {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/** RFC 9162 §2.1.1: the hash of a leaf, `SHA-256(0x00 ‖ data)`. */
export function leafHash(data: Uint8Array | string): Promise<Uint8Array> {
  return sha256(concatBytes(LEAF, typeof data === 'string' ? utf8(data) : data));
}

/** RFC 9162 §2.1.1: the hash of an interior node, `SHA-256(0x01 ‖ left ‖ right)`. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(concatBytes(NODE, left, right));
}

/** RFC 9162 §2.1.1 MTH over leaf hashes; the empty tree's root is `SHA-256("")`. */
export async function merkleRoot(leafHashes: readonly Uint8Array[]): Promise<Uint8Array> {
  if (leafHashes.length === 0) return sha256(new Uint8Array());
  let level = [...leafHashes];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let index = 0; index + 1 < level.length; index += 2) {
      next.push(await nodeHash(level[index] ?? new Uint8Array(), level[index + 1] ?? new Uint8Array()));
    }
    // An odd last node is promoted unchanged: that is MTH's split at the largest power of two.
    if (level.length % 2 === 1) next.push(level.at(-1) ?? new Uint8Array());
    level = next;
  }
  return level[0] ?? new Uint8Array();
}

function isSize(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Exact for every safe integer (`Math.log2` rounds: log2(2^50 + 1) is exactly 50 in doubles). */
function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** RFC 9162 §2.1.3.2: verifies an inclusion proof of `leaf` at `index` in the tree of `treeSize` with `root`. */
export async function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Promise<boolean> {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2: verifies that the tree of `size2` with `root2` extends the tree of `size1` with
 * `root1`. Equal sizes need an empty proof and equal roots; `size1` must be at least 1.
 */
export async function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): Promise<boolean> {
  if (!isSize(size1) || !isSize(size2) || size1 < 1 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && bytesEqual(root1, root2);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] ?? new Uint8Array();
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return bytesEqual(fr, root1) && bytesEqual(sr, root2) && sn === 0;
}
