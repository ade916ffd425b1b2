import { StringDecoder } from 'node:string_decoder';
import { HttpError } from '../errors/http-error';

/** Why a streamed job body was refused. */
export class BodyFormatError extends HttpError {
  override name = 'BodyFormatError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(400, 'invalid_json', message, details ? { details } : {});
  }
}

const OPENING = /^\s*\{\s*"instances"\s*:\s*\[/;

/**
 * Splits `{"instances": [v, v, …]}` into the JSON text of each element as the bytes arrive, without building the
 * whole document: a depth counter outside strings finds each top-level element, which is then checked with
 * JSON.parse on its own. The object's only key must be `instances`. Feed it text with `push`, then `end()`.
 */
export class JsonInstancesSplitter {
  private state: 'opening' | 'elements' | 'after-array' | 'done' = 'opening';
  private head = '';
  private current = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private count = 0;
  /** After a value, only ',' or ']' may follow. */
  private expectSeparator = false;

  constructor(private readonly onElement: (json: string) => void) {}

  push(text: string): void {
    let i = 0;
    if (this.state === 'opening') {
      this.head += text;
      const match = OPENING.exec(this.head);
      if (!match) {
        if (this.head.trimStart().length > 64) {
          throw new BodyFormatError('the JSON body must be an object whose only key is "instances": {"instances": [...]}');
        }
        return;
      }
      text = this.head.slice(match[0].length);
      this.head = '';
      this.state = 'elements';
    }
    let start = 0;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.state === 'after-array') {
        if (c === 0x7d /* } */) this.state = 'done';
        else if (!isSpace(c)) throw new BodyFormatError('the JSON body must be an object whose only key is "instances"');
        continue;
      }
      if (this.state === 'done') {
        if (!isSpace(c)) throw new BodyFormatError('unexpected text after the JSON body');
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (c === 0x22) {
        this.inString = true;
      } else if (c === 0x7b || c === 0x5b) {
        this.depth++;
      } else if ((c === 0x7d || c === 0x5d) && this.depth > 0) {
        this.depth--;
      } else if (this.depth === 0 && (c === 0x2c /* , */ || c === 0x5d /* ] */)) {
        this.current += text.slice(start, i);
        start = i + 1;
        this.finishElement(c === 0x5d);
        if (c === 0x5d) this.state = 'after-array';
      }
    }
    if (this.state === 'elements') this.current += text.slice(start);
  }

  private finishElement(closing: boolean): void {
    const json = this.current.trim();
    this.current = '';
    if (json === '') {
      // `[]` or a trailing `]` after nothing: fine only for an empty array.
      if (closing && this.count === 0 && !this.expectSeparator) return;
      throw new BodyFormatError(`instances[${this.count}] is missing (a stray comma?)`, { instance: this.count });
    }
    try {
      JSON.parse(json);
    } catch (error) {
      throw new BodyFormatError(`instances[${this.count}] is not valid JSON: ${(error as Error).message}`, { instance: this.count });
    }
    this.onElement(json);
    this.count++;
    this.expectSeparator = !closing;
  }

  /** The body has ended: it must have been a whole document. */
  end(): void {
    if (this.state !== 'done') throw new BodyFormatError('the JSON body ended early: expected {"instances": [...]}');
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Splits NDJSON into lines as bytes arrive; each non-blank line is checked with JSON.parse. */
export class NdjsonSplitter {
  private rest = '';
  private line = 0;

  constructor(private readonly onElement: (json: string) => void) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.take(l);
  }

  private take(raw: string): void {
    this.line++;
    const json = raw.trim();
    if (json === '') return;
    try {
      JSON.parse(json);
    } catch (error) {
      throw new BodyFormatError(`NDJSON line ${this.line} is not valid JSON: ${(error as Error).message}`, { line: this.line });
    }
    this.onElement(json);
  }

  end(): void {
    this.take(this.rest);
    this.rest = '';
  }
}

/** Text of a byte stream, UTF-8, chunk by chunk (a character split across chunks is kept whole). */
export function utf8Chunks(): { decode(chunk: Buffer): string; end(): string } {
  const decoder = new StringDecoder('utf8');
  return { decode: (chunk) => decoder.write(chunk), end: () => decoder.end() };
}
