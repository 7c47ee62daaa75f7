import { AuditProofError } from './audit-proof.error.js';
import { nodeHash } from './merkle.js';

/** A perfect subtree of the log: node (level, index) is the MTH of leaves [index·2^level, (index+1)·2^level). */
export interface NodeKey {
  readonly level: number;
  readonly index: number;
}

/** `${level}/${index}`: how a {@link NodeReader} keys what it found. */
export function nodeKeyString(key: NodeKey): string {
  return `${key.level}/${key.index}`;
}

/** Fetches stored nodes, all in one store read; absent ones are simply missing from the answer. */
export type NodeReader = (keys: readonly NodeKey[]) => Promise<ReadonlyMap<string, Uint8Array>>;

/** A range of leaves [start, end). */
type Range = readonly [number, number];

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new AuditProofError('tree_invalid', `${name} must be a whole number`);
}

/**
 * The largest power of two that is at most `n` (n ≥ 1), by doubling: `Math.log2` rounds near powers of two
 * above 2^48, and `Math.clz32` stops at 2^32.
 */
function floorPow2(n: number): number {
  let k = 1;
  while (k * 2 <= n) k *= 2;
  return k;
}

/** log2 of a power of two, exactly. */
function levelOf(size: number): number {
  let level = 0;
  for (let k = 1; k < size; k *= 2) level += 1;
  return level;
}

/** The largest power of two strictly below `n` (n ≥ 2): MTH's split point. */
function splitPoint(n: number): number {
  const k = floorPow2(n);
  return k === n ? k / 2 : k;
}

/**
 * The perfect subtrees whose right fold is MTH of [start, end): the largest aligned power of two first, then
 * the rest. Ranges of RFC 9162 proofs always start aligned to their first piece.
 */
function pieces([start, end]: Range): NodeKey[] {
  const keys: NodeKey[] = [];
  let at = start;
  while (at < end) {
    const size = floorPow2(end - at);
    if (at % size !== 0) throw new AuditProofError('tree_invalid', `range ${start}..${end} is not aligned`);
    keys.push({ level: levelOf(size), index: at / size });
    at += size;
  }
  return keys;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[start:end]) as ranges, deepest first. */
function pathRanges(m: number, start: number, end: number): Range[] {
  const ranges: Range[] = [];
  let [s, e] = [start, end];
  const stack: Range[] = [];
  while (e - s > 1) {
    const k = splitPoint(e - s);
    if (m < s + k) {
      stack.push([s + k, e]);
      e = s + k;
    } else {
      stack.push([s, s + k]);
      s += k;
    }
  }
  while (stack.length > 0) {
    const range = stack.pop();
    if (range !== undefined) ranges.push(range);
  }
  return ranges;
}

/** RFC 9162 §2.1.4.1 SUBPROOF(m, D[start:end], b) as ranges, deepest first. */
function subproofRanges(m: number, start: number, end: number, whole: boolean): Range[] {
  const stack: Range[] = [];
  let [s, e, b, offset] = [start, end, whole, m];
  for (;;) {
    const n = e - s;
    if (offset === n) {
      if (!b) stack.push([s, e]);
      break;
    }
    const k = splitPoint(n);
    if (offset <= k) {
      stack.push([s + k, e]);
      e = s + k;
    } else {
      stack.push([s, s + k]);
      s += k;
      offset -= k;
      b = false;
    }
  }
  return stack.reverse();
}

/** Reads every piece of every range at once, then folds each range into its hash. */
async function hashRanges(ranges: readonly Range[], read: NodeReader): Promise<Uint8Array[]> {
  const perRange = ranges.map(pieces);
  const wanted = new Map<string, NodeKey>();
  for (const keys of perRange) for (const key of keys) wanted.set(nodeKeyString(key), key);
  const found = wanted.size === 0 ? new Map<string, Uint8Array>() : await read([...wanted.values()]);
  const hashes: Uint8Array[] = [];
  for (const keys of perRange) {
    const values = keys.map((key) => {
      const hash = found.get(nodeKeyString(key));
      if (hash === undefined)
        throw new AuditProofError('tree_invalid', `node ${nodeKeyString(key)} is not stored`);
      return hash;
    });
    let hash = values.at(-1) ?? new Uint8Array();
    for (let index = values.length - 2; index >= 0; index -= 1)
      hash = await nodeHash(values[index] ?? new Uint8Array(), hash);
    hashes.push(hash);
  }
  return hashes;
}

/** The nodes that become complete when leaf `leafIndex` is appended, from the leaf up. */
export function completedNodes(leafIndex: number): NodeKey[] {
  checkSize('leafIndex', leafIndex);
  const keys: NodeKey[] = [{ level: 0, index: leafIndex }];
  const count = leafIndex + 1;
  for (let level = 1; count % 2 ** level === 0; level += 1)
    keys.push({ level, index: count / 2 ** level - 1 });
  return keys;
}

/** RFC 9162 inclusion proof of leaf `index` in the tree of `treeSize`, from stored nodes (one read). */
export async function inclusionProof(
  index: number,
  treeSize: number,
  read: NodeReader,
): Promise<Uint8Array[]> {
  checkSize('index', index);
  checkSize('treeSize', treeSize);
  if (index >= treeSize)
    throw new AuditProofError('tree_invalid', `leaf ${index} is not in a tree of ${treeSize}`);
  return hashRanges(pathRanges(index, 0, treeSize), read);
}

/** RFC 9162 consistency proof from the tree of `size1` to the tree of `size2` (one read; empty when equal). */
export async function consistencyProof(
  size1: number,
  size2: number,
  read: NodeReader,
): Promise<Uint8Array[]> {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size1 < 1 || size1 > size2)
    throw new AuditProofError('tree_invalid', `no consistency proof from ${size1} to ${size2}`);
  if (size1 === size2) return [];
  return hashRanges(subproofRanges(size1, 0, size2, true), read);
}

/** The root of the tree of `treeSize` (one read); the empty tree is `SHA-256("")`. */
export async function rootAt(treeSize: number, read: NodeReader): Promise<Uint8Array> {
  checkSize('treeSize', treeSize);
  if (treeSize === 0)
    return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new Uint8Array()));
  const [root] = await hashRanges([[0, treeSize]], read);
  return root ?? new Uint8Array();
}
