import type { Redis } from 'ioredis';
import { inputBaseKey } from './keys';

export interface ChunkWriterOptions {
  connection: Redis;
  prefix: string;
  queue: string;
  jobId: string;
  chunkRows: number;
  /** The input expires after this (it is deleted when the job completes). */
  ttlSeconds: number;
}

/**
 * Writes an input to Redis as it arrives, chunk by chunk (`<prefix>:<queue>:input:<jobId>:<n>`, NDJSON), so a
 * large input is never held whole: at most one chunk waits in memory. Rows are JSON text, one per line.
 */
export class ChunkWriter {
  private lines: string[] = [];
  private written = 0;
  private rows = 0;
  readonly key: string;

  constructor(private readonly options: ChunkWriterOptions) {
    this.key = inputBaseKey(options.prefix, options.queue, options.jobId);
  }

  /** Adds one row (its JSON text, without a newline); resolves once any full chunk is stored. */
  async add(json: string): Promise<void> {
    this.lines.push(json);
    this.rows++;
    if (this.lines.length >= this.options.chunkRows) await this.flush();
  }

  get rowCount(): number {
    return this.rows;
  }

  private async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    const body = this.lines.join('\n');
    this.lines = [];
    await this.options.connection.set(`${this.key}:${this.written}`, body, 'EX', this.options.ttlSeconds);
    this.written++;
  }

  /** Stores the last chunk; the job's `chunks` input. */
  async finish(): Promise<{ kind: 'chunks'; key: string; chunks: number; rows: number; chunk_rows: number }> {
    await this.flush();
    return { kind: 'chunks', key: this.key, chunks: this.written, rows: this.rows, chunk_rows: this.options.chunkRows };
  }

  /** Deletes what was stored (a body that turned out invalid). */
  async abort(): Promise<void> {
    this.lines = [];
    const keys = Array.from({ length: this.written }, (_, n) => `${this.key}:${n}`);
    if (keys.length > 0) await this.options.connection.del(...keys).catch(() => undefined);
  }
}
