import { nodeHash, nodeKeyString, type NodeKey, type NodeReader } from '@aibox/audit-proof';

/**
 * A {@link NodeReader} over leaf hashes held in memory (a turn's events, or a whole log being re-verified):
 * node (level, idx) is computed from the leaves on first use and remembered.
 */
export function memoryNodeReader(leaves: readonly Uint8Array[]): NodeReader {
  const memo = new Map<string, Uint8Array>();
  const node = async (level: number, index: number): Promise<Uint8Array | undefined> => {
    if (level === 0) return leaves[index];
    const key = nodeKeyString({ level, index });
    const known = memo.get(key);
    if (known !== undefined) return known;
    if ((index + 1) * 2 ** level > leaves.length) return undefined;
    const left = await node(level - 1, index * 2);
    const right = await node(level - 1, index * 2 + 1);
    if (left === undefined || right === undefined) return undefined;
    const hash = await nodeHash(left, right);
    memo.set(key, hash);
    return hash;
  };
  return async (keys: readonly NodeKey[]) => {
    const found = new Map<string, Uint8Array>();
    for (const key of keys) {
      const hash = await node(key.level, key.index);
      if (hash !== undefined) found.set(nodeKeyString(key), hash);
    }
    return found;
  };
}
