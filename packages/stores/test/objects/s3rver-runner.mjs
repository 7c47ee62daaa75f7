// Runs s3rver (a fake S3 for tests) on a loopback port and prints `{"port":N}` once it listens.
// Started by s3rver.ts with `--openssl-legacy-provider`: s3rver 3.7.1 encrypts ListObjectsV2
// continuation tokens with DES, which OpenSSL 3 (Node >= 17) only offers through the legacy provider.
// It also corrects two ways s3rver's ListObjects differs from S3, so the adapter is tested against S3's
// behaviour rather than the fake's:
// - s3rver ignores `encoding-type=url` ("currently unimplemented") while minio-js always asks for it and
//   URL-decodes every listed key, so keys holding `%`, `+` or `'` came back mangled;
// - s3rver lists in the order it walks its directories, so key `a/b` came before key `a`; S3 lists in
//   UTF-8 byte order, and start-after and max-keys follow that order.
// It stops on SIGTERM or when its parent closes stdin (also when the parent dies).
import { Buffer } from 'node:buffer';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';

import S3rver from 's3rver';

const directory = await mkdtemp(join(tmpdir(), 'aibox-s3rver-'));
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });

// encodeURIComponent leaves !'()* alone; S3's URL encoding does not.
const urlEncode = (text) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

async function encodeListedKeys(ctx, next) {
  await next();
  const result = ctx.body?.ListBucketResult;
  if (ctx.query['encoding-type'] !== 'url' || result === undefined) return;
  result.EncodingType = 'url';
  for (const item of result.Contents ?? []) item.Key = urlEncode(item.Key);
  for (const item of result.CommonPrefixes ?? []) item.Prefix = urlEncode(item.Prefix);
}

const byteOrder = (left, right) => Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
const walkingList = server.store.listObjects.bind(server.store);
server.store.listObjects = async (bucket, options) => {
  if (options.delimiter) return walkingList(bucket, options);
  const { startAfter = '', maxKeys = Infinity } = options;
  const everything = await walkingList(bucket, { ...options, startAfter: '', maxKeys: Infinity });
  const objects = everything.objects
    .filter((object) => byteOrder(object.key, startAfter) > 0)
    .sort((left, right) => byteOrder(left.key, right.key));
  return { objects: objects.slice(0, maxKeys), commonPrefixes: [], isTruncated: objects.length > maxKeys };
};
// Koa runs middleware in array order: after the logger and the XML renderer (so it sees the result
// object before rendering), before the router.
server.middleware.splice(2, 0, encodeListedKeys);
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.close();
  await rm(directory, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
