import { StringDecoder } from 'node:string_decoder';
import type { Request } from 'express';
import { HttpError } from '../errors/http-error';
import { PayloadTooLargeError } from '../errors/payload-too-large-error';
import { declaredLength } from './body-limit';
import { settleInto, type OpenApiSchema, type RequestDecoder } from './request-decoder';

export interface NdjsonOptions {
  limitBytes: number;
  /** Most lines (instances) accepted. */
  maxLines: number;
}

/**
 * `application/x-ndjson`: one JSON value per line, blank lines skipped. Read as it streams with a byte cap
 * (413 from Content-Length before reading, or the moment a streamed body passes it) and a line cap; a line that is not JSON is a 400 naming its line number.
 * The body decodes to `{instances: [...]}` so NDJSON and JSON batch routes validate alike.
 */
export function ndjsonDecoder(options: NdjsonOptions): RequestDecoder {
  return {
    mediaType: 'application/x-ndjson',
    decode: settleInto((req: Request) =>
      new Promise((resolve, reject) => {
        const declared = declaredLength(req);
        if (declared !== undefined && declared > options.limitBytes) {
          reject(new PayloadTooLargeError(options.limitBytes));
          return;
        }
        const instances: unknown[] = [];
        const decoder = new StringDecoder('utf8');
        let rest = '';
        let bytes = 0;
        let line = 0;
        let failed = false;
        const fail = (error: HttpError) => {
          if (failed) return;
          failed = true;
          req.unpipe();
          req.pause();
          reject(error);
        };
        const take = (text: string) => {
          line++;
          if (text.trim() === '') return;
          if (instances.length >= options.maxLines) {
            fail(new HttpError(413, 'payload_too_large', `at most ${options.maxLines} NDJSON lines per request`, { details: { max_lines: options.maxLines } }));
            return;
          }
          try {
            instances.push(JSON.parse(text));
          } catch (error) {
            fail(new HttpError(400, 'invalid_json', `NDJSON line ${line} is not valid JSON: ${(error as Error).message}`, { details: { line } }));
          }
        };
        req.on('data', (chunk: Buffer) => {
          if (failed) return;
          bytes += chunk.length;
          if (bytes > options.limitBytes) {
            fail(new PayloadTooLargeError(options.limitBytes));
            return;
          }
          const lines = (rest + decoder.write(chunk)).split('\n');
          rest = lines.pop() ?? '';
          for (const text of lines) if (!failed) take(text);
        });
        req.on('end', () => {
          if (failed) return;
          take(rest + decoder.end());
          if (!failed) resolve({ instances });
        });
        req.on('error', (error) => fail(new HttpError(400, 'bad_request', `request body could not be read: ${error.message}`)));
      })),
    openapi: (bodySchema: OpenApiSchema | undefined) => {
      const items = (bodySchema?.['properties'] as Record<string, OpenApiSchema> | undefined)?.['instances']?.['items'];
      return {
        type: 'string',
        description: `newline-delimited JSON: one instance per line (at most ${options.maxLines})${items ? '; each line as the JSON body\'s instances[]' : ''}`,
        ...(items ? { 'x-ndjson-line': items } : {}),
      };
    },
  };
}
