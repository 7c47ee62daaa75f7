import { linePrefix, renderLogLine, stripColour } from './log-format.js';

/** The name the runner's own lines are prefixed with. */
export const RUNNER_NAME = 'dev';

/** Lines of each service kept for the report when it dies. */
export const TAIL_LINES = 20;

/** Receives each finished output line, without a trailing newline. */
export type LineWriter = (line: string) => void;

/**
 * The runner's single output: every line prefixed with the name of the service that printed it (or `dev` for
 * the runner itself), pino lines rendered compactly, and the last lines of each service kept for reports.
 */
export class MeshOutput {
  private readonly width: number;
  private readonly prefixes = new Map<string, string>();
  private readonly tails = new Map<string, string[]>();

  constructor(
    private readonly write: LineWriter,
    serviceNames: readonly string[],
    private readonly options: { colour: boolean; raw: boolean },
  ) {
    this.width = Math.max(RUNNER_NAME.length, ...serviceNames.map((name) => name.length));
    this.prefixes.set(RUNNER_NAME, linePrefix(RUNNER_NAME, this.width, -1, options.colour));
    serviceNames.forEach((name, index) => {
      this.prefixes.set(name, linePrefix(name, this.width, index, options.colour));
      this.tails.set(name, []);
    });
  }

  /** A line of the runner itself; several lines may be given in one string. */
  runner(text: string): void {
    const prefix = this.prefixes.get(RUNNER_NAME) ?? '';
    for (const line of text.split('\n')) {
      this.write(`${prefix}${line}`);
    }
  }

  /** One raw output line of a service. */
  service(name: string, raw: string): void {
    const prefix = this.prefixes.get(name) ?? linePrefix(name, this.width, -1, this.options.colour);
    const lines = renderLogLine(raw, { colour: this.options.colour, raw: this.options.raw });
    const tail = this.tails.get(name);
    for (const line of lines) {
      this.write(`${prefix}${line}`);
      if (tail !== undefined) {
        tail.push(this.options.colour ? stripColour(line) : line);
        if (tail.length > TAIL_LINES) {
          tail.shift();
        }
      }
    }
  }

  /** The last lines a service printed (at most `TAIL_LINES`), as shown, without colour. */
  lastLines(name: string): string[] {
    return [...(this.tails.get(name) ?? [])];
  }
}
