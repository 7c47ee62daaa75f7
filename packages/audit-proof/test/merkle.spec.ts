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

// The same reference's inclusion and consistency proofs over those leaves (CT `merkle_tree_test`, also in
// transparency-dev/merkle's testonly data).
const INCLUSION_KAT: readonly (readonly [number, number, readonly string[]])[] = [
  [0, 1, []],
  [
    0,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];
const CONSISTENCY_KAT: readonly (readonly [number, number, readonly string[]])[] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
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

  it('gives the Certificate Transparency inclusion and consistency proofs, which verify', async () => {
    const leaves = LEAVES.map((hex) => Buffer.from(hex, 'hex'));
    const stored = await storedTree(leaves);
    const root = (size: number): Uint8Array => fromHex(ROOTS[size - 1] ?? '');
    for (const [index, size, expected] of INCLUSION_KAT) {
      const proof = await inclusionProof(index, size, stored.read);
      expect(proof.map(toHex), `${index}/${size}`).toEqual(expected);
      expect(await verifyInclusion(await leafHash(leaves[index] ?? ''), index, size, proof, root(size))).toBe(
        true,
      );
    }
    for (const [size1, size2, expected] of CONSISTENCY_KAT) {
      const proof = await consistencyProof(size1, size2, stored.read);
      expect(proof.map(toHex), `${size1}→${size2}`).toEqual(expected);
      expect(await verifyConsistency(size1, size2, proof, root(size1), root(size2))).toBe(true);
    }
  });

  it('agrees with the reference MTH for every size up to 64, from stored nodes and from leaves', async () => {
    const leaves = data(64);
    const stored = await storedTree(leaves);
    for (let size = 1; size <= 64; size += 1) {
      const expected = mth(leaves.slice(0, size)).toString('hex');
      const before = stored.reads();
      expect(toHex(await rootAt(size, stored.read)), `size ${size}`).toBe(expected);
      expect(stored.reads() - before).toBe(1);
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
        // One store read per proof; none when there is nothing to read (a tree of one leaf).
        expect(stored.reads() - before).toBe(size === 1 ? 0 : 1);
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
        const before = stored.reads();
        const proof = await consistencyProof(size1, size2, stored.read);
        expect(stored.reads() - before).toBe(size1 === size2 ? 0 : 1);
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

/**
 * A tree of any size without storing it: leaf i is `leaf ${i mod 16}`, so a perfect subtree of 16 or more
 * leaves has the same hash wherever it stands, and smaller ones depend on where they start. Every node is
 * looked up, never recomputed over its leaves.
 */
async function periodicTree(): Promise<{
  read: NodeReader;
  leaf: (index: number) => Uint8Array;
  stats: Stats;
}> {
  const PERIOD_LEVEL = 4;
  const period = 2 ** PERIOD_LEVEL;
  const levels: Uint8Array[][] = [
    await Promise.all(Array.from({ length: period }, (_, index) => leafHash(`leaf ${index}`))),
  ];
  for (let level = 1; level <= 53; level += 1) {
    const below = levels[level - 1] ?? [];
    const width = Math.max(1, below.length / 2);
    const row: Uint8Array[] = [];
    for (let index = 0; index < width; index += 1) {
      // Above the period, the left and right halves are the same subtree.
      const left = below[(2 * index) % below.length] ?? new Uint8Array();
      const right = below[(2 * index + 1) % below.length] ?? new Uint8Array();
      row.push(await nodeHash(left, right));
    }
    levels.push(row);
  }
  const node = (level: number, index: number): Uint8Array => {
    const row = levels[level] ?? [];
    return row[index % row.length] ?? new Uint8Array();
  };
  const stats: Stats = { reads: 0, keys: 0 };
  return {
    read: (keys) => {
      stats.reads += 1;
      stats.keys += keys.length;
      return Promise.resolve(
        new Map(keys.map((key) => [nodeKeyString(key), node(key.level, key.index)] as const)),
      );
    },
    leaf: (index) => node(0, index),
    stats,
  };
}
interface Stats {
  reads: number;
  keys: number;
}

describe('proofs of large trees', () => {
  it('read O(log n) stored nodes in one read, for a tree of a million leaves, and verify', async () => {
    const tree = await periodicTree();
    const size = 1_000_000;
    const bound = 2 * Math.log2(size) + 2;
    const root = await rootAt(size, tree.read);
    for (const index of [0, 1, 17, 524_287, 524_288, 999_999]) {
      tree.stats.reads = 0;
      tree.stats.keys = 0;
      const proof = await inclusionProof(index, size, tree.read);
      expect(tree.stats).toMatchObject({ reads: 1 });
      expect(tree.stats.keys).toBeLessThanOrEqual(bound);
      expect(await verifyInclusion(tree.leaf(index), index, size, proof, root), `leaf ${index}`).toBe(true);
      expect(await verifyInclusion(tree.leaf(index), index ^ 1, size, proof, root)).toBe(false);
    }
    for (const size1 of [1, 333_333, 524_288, 999_999]) {
      tree.stats.reads = 0;
      tree.stats.keys = 0;
      const proof = await consistencyProof(size1, size, tree.read);
      expect(tree.stats).toMatchObject({ reads: 1 });
      expect(tree.stats.keys).toBeLessThanOrEqual(bound);
      const root1 = await rootAt(size1, tree.read);
      expect(await verifyConsistency(size1, size, proof, root1, root), `${size1}→${size}`).toBe(true);
    }
  });

  it('prove and verify at sizes near 2^50 and up to 2^53 - 1, where Math.log2 rounds', async () => {
    const tree = await periodicTree();
    for (const size of [2 ** 49 - 1, 2 ** 50 - 1, 2 ** 50 + 1, Number.MAX_SAFE_INTEGER]) {
      const root = await rootAt(size, tree.read);
      for (const index of [0, 5, size - 2, size - 1]) {
        tree.stats.keys = 0;
        const proof = await inclusionProof(index, size, tree.read);
        expect(tree.stats.keys).toBeLessThanOrEqual(2 * Math.log2(size) + 2);
        expect(await verifyInclusion(tree.leaf(index), index, size, proof, root), `${index}/${size}`).toBe(
          true,
        );
      }
    }
    for (const [size1, size2] of [
      [2 ** 50 + 1, 2 ** 50 + 2 ** 20 + 7],
      [2 ** 49 - 1, 2 ** 52 - 3],
      [2 ** 50, Number.MAX_SAFE_INTEGER],
    ] as const) {
      const proof = await consistencyProof(size1, size2, tree.read);
      const [root1, root2] = [await rootAt(size1, tree.read), await rootAt(size2, tree.read)];
      expect(await verifyConsistency(size1, size2, proof, root1, root2), `${size1}→${size2}`).toBe(true);
    }
  });
});
