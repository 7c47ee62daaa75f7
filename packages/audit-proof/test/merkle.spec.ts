import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  completedNodes,
  consistencyProof,
  fromHex,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  nodeKeyString,
  rootAt,
  toHex,
  verifyConsistency,
  verifyInclusion,
  type NodeKey,
  type NodeReader,
} from '../src/index.js';

// The Certificate Transparency reference vectors (RFC 6962 = RFC 9162 §2.1 hashing): leaves and the roots
// of the trees of their first 1…8 leaves.
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

// --- A reference written straight from RFC 6962 §2.1 with node:crypto, independent of the package. ---
const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const refLeaf = (data: Buffer): Buffer => sha(Buffer.of(0), data);
const largestPow2Below = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function mth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return refLeaf(d[0] ?? Buffer.alloc(0));
  const k = largestPow2Below(d.length);
  return sha(Buffer.of(1), mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = largestPow2Below(d.length);
  return m < k
    ? [...path(m, d.slice(0, k)), mth(d.slice(k))]
    : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = largestPow2Below(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

const data = (count: number): Buffer[] =>
  Array.from({ length: count }, (_, index) => Buffer.from(`leaf ${index}`));

/** A reader over the stored nodes of a tree built by appending, counting reads and keys read. */
async function storedTree(
  leaves: readonly Buffer[],
): Promise<{ read: NodeReader; reads: () => number; keysRead: () => number }> {
  const nodes = new Map<string, Uint8Array>();
  for (const [index, leaf] of leaves.entries()) {
    let hash = await leafHash(leaf);
    for (const node of completedNodes(index)) {
      if (node.level > 0) {
        const left = nodes.get(nodeKeyString({ level: node.level - 1, index: node.index * 2 }));
        if (left === undefined) throw new Error('missing left sibling');
        hash = await nodeHash(left, hash);
      }
      nodes.set(nodeKeyString(node), hash);
    }
  }
  let reads = 0;
  let keysRead = 0;
  return {
    read: (keys: readonly NodeKey[]) => {
      reads += 1;
      keysRead += keys.length;
      return Promise.resolve(
        new Map(
          keys.flatMap((key) => {
            const hash = nodes.get(nodeKeyString(key));
            return hash === undefined ? [] : [[nodeKeyString(key), hash] as const];
          }),
        ),
      );
    },
    reads: () => reads,
    keysRead: () => keysRead,
  };
}

describe('RFC 9162 hashing', () => {
  it('matches the Certificate Transparency known answers for trees of 1 to 8 leaves, and the empty tree', async () => {
    const leaves = await Promise.all(LEAVES.map((hex) => leafHash(fromHex(hex))));
    for (let size = 1; size <= 8; size += 1) {
      expect(toHex(await merkleRoot(leaves.slice(0, size))), `size ${size}`).toBe(ROOTS[size - 1]);
    }
    expect(toHex(await merkleRoot([]))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(toHex(await leafHash(new Uint8Array()))).toBe(ROOTS[0]);
    expect(toHex(await nodeHash(leaves[0] ?? new Uint8Array(), leaves[1] ?? new Uint8Array()))).toBe(
      ROOTS[1],
    );
  });

  it('agrees with the reference MTH for every size up to 64, from stored nodes and from leaves', async () => {
    const leaves = data(64);
    const stored = await storedTree(leaves);
    for (let size = 1; size <= 64; size += 1) {
      const expected = mth(leaves.slice(0, size)).toString('hex');
      expect(toHex(await rootAt(size, stored.read)), `size ${size}`).toBe(expected);
      expect(
        toHex(await merkleRoot(await Promise.all(leaves.slice(0, size).map((leaf) => leafHash(leaf))))),
      ).toBe(expected);
    }
  });
});

describe('inclusion proofs', () => {
  it('equal the reference PATH and verify, for every (index, size) up to 64', async () => {
    const leaves = data(64);
    const stored = await storedTree(leaves);
    for (let size = 1; size <= 64; size += 1) {
      const root = mth(leaves.slice(0, size));
      for (let index = 0; index < size; index += 1) {
        const before = stored.reads();
        const proof = await inclusionProof(index, size, stored.read);
        expect(stored.reads() - before).toBeLessThanOrEqual(1);
        expect(proof.map(toHex), `${index}/${size}`).toEqual(
          path(index, leaves.slice(0, size)).map((hash) => hash.toString('hex')),
        );
        expect(
          await verifyInclusion(refLeaf(leaves[index] ?? Buffer.alloc(0)), index, size, proof, root),
        ).toBe(true);
      }
    }
  });

  it('refuse a flipped bit, another index or size, a short or long proof, swapped elements', async () => {
    const leaves = data(13);
    const root = mth(leaves);
    const leaf = refLeaf(leaves[5] ?? Buffer.alloc(0));
    const proof = path(5, leaves);
    const flipped = proof.map((hash, position) => {
      const copy = Buffer.from(hash);
      if (position === 1) copy[3] = (copy[3] ?? 0) ^ 0x10;
      return copy;
    });
    expect(await verifyInclusion(leaf, 5, 13, proof, root)).toBe(true);
    expect(await verifyInclusion(leaf, 5, 13, flipped, root)).toBe(false);
    expect(await verifyInclusion(leaf, 4, 13, proof, root)).toBe(false);
    // (A size whose path has the same shape, e.g. 14, proves the same root: the signed checkpoint binds the size.)
    expect(await verifyInclusion(leaf, 5, 6, proof, root)).toBe(false);
    expect(await verifyInclusion(leaf, 5, 13, proof.slice(0, -1), root)).toBe(false);
    expect(await verifyInclusion(leaf, 5, 13, [...proof, root], root)).toBe(false);
    expect(
      await verifyInclusion(leaf, 5, 13, [proof[1] ?? root, proof[0] ?? root, ...proof.slice(2)], root),
    ).toBe(false);
    expect(await verifyInclusion(leaf, 13, 13, proof, root)).toBe(false);
    expect(await verifyInclusion(leaf, -1, 13, proof, root)).toBe(false);
  });
});

describe('consistency proofs', () => {
  it('equal the reference PROOF and verify, for every 1 ≤ size1 ≤ size2 ≤ 64', async () => {
    const leaves = data(64);
    const stored = await storedTree(leaves);
    for (let size2 = 1; size2 <= 64; size2 += 1) {
      const root2 = mth(leaves.slice(0, size2));
      for (let size1 = 1; size1 <= size2; size1 += 1) {
        const proof = await consistencyProof(size1, size2, stored.read);
        const expected = size1 === size2 ? [] : subproof(size1, leaves.slice(0, size2), true);
        expect(proof.map(toHex), `${size1}→${size2}`).toEqual(expected.map((hash) => hash.toString('hex')));
        expect(
          await verifyConsistency(size1, size2, proof, mth(leaves.slice(0, size1)), root2),
          `${size1}→${size2}`,
        ).toBe(true);
      }
    }
  });

  it('refuse tampering, wrong sizes and wrong roots', async () => {
    const leaves = data(20);
    const root1 = mth(leaves.slice(0, 7));
    const root2 = mth(leaves);
    const proof = subproof(7, leaves, true);
    expect(await verifyConsistency(7, 20, proof, root1, root2)).toBe(true);
    const flipped = proof.map((hash, position) =>
      position === 0 ? Buffer.from(hash.map((byte, at) => (at === 0 ? byte ^ 1 : byte))) : hash,
    );
    expect(await verifyConsistency(7, 20, flipped, root1, root2)).toBe(false);
    expect(await verifyConsistency(6, 20, proof, root1, root2)).toBe(false);
    expect(await verifyConsistency(7, 33, proof, root1, root2)).toBe(false);
    expect(await verifyConsistency(7, 20, proof.slice(1), root1, root2)).toBe(false);
    expect(await verifyConsistency(7, 20, [...proof, root1], root1, root2)).toBe(false);
    expect(await verifyConsistency(7, 20, proof, root2, root2)).toBe(false);
    expect(await verifyConsistency(7, 20, [], root1, root2)).toBe(false);
    expect(await verifyConsistency(0, 20, proof, root1, root2)).toBe(false);
    expect(await verifyConsistency(20, 7, proof, root2, root1)).toBe(false);
    expect(await verifyConsistency(7, 7, [], root1, root1)).toBe(true);
  });
});

describe('proof cost', () => {
  it('reads O(log n) stored nodes in one read, for a tree of a million leaves', async () => {
    const size = 1_000_000;
    // Only the shape of the reads matters here: every node of the virtual tree hashes its own key.
    const node = (level: number, index: number): Uint8Array =>
      createHash('sha256').update(`${level}/${index}`).digest();
    let reads = 0;
    let keys = 0;
    const read: NodeReader = (wanted) => {
      reads += 1;
      keys += wanted.length;
      return Promise.resolve(
        new Map(wanted.map((key) => [nodeKeyString(key), node(key.level, key.index)] as const)),
      );
    };
    const bound = 2 * Math.ceil(Math.log2(size)) + 2;
    for (const index of [0, 1, 524_287, 524_288, 999_999]) {
      reads = 0;
      keys = 0;
      const proof = await inclusionProof(index, size, read);
      expect(reads).toBe(1);
      expect(keys).toBeLessThanOrEqual(bound);
      expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(size)));
    }
    reads = 0;
    keys = 0;
    await consistencyProof(333_333, size, read);
    expect(reads).toBe(1);
    expect(keys).toBeLessThanOrEqual(bound);
  });
});
