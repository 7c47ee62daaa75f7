/** The caller's side of a data-path call: a whole JSON answer, or a stream of Server-Sent Events. */
export interface ClientChannel {
  /** Aborted when the caller goes away before the answer ended. */
  readonly signal: AbortSignal;
  /** Sends a whole answer (status 200 unless said otherwise). */
  json(headers: Readonly<Record<string, string>>, body: Buffer | string): void;
  /** Sends the status line and headers of an event stream. */
  openStream(headers: Readonly<Record<string, string>>): void;
  /** Writes events; resolves when the caller can take more (backpressure), or at once if it is gone. */
  write(text: string): Promise<void>;
  end(): void;
}
