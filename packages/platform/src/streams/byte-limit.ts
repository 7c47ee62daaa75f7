import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes bytes through until more than `limit` have gone by, then fails the stream with `tooLarge()`: a body
 * is refused while it streams, never buffered whole to be measured.
 */
export class ByteLimit extends Transform {
  private seen = 0;

  constructor(
    private readonly limit: number,
    private readonly tooLarge: (limit: number) => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(this.tooLarge(this.limit));
      return;
    }
    callback(null, chunk);
  }
}
