import busboy from 'busboy';
import type { Request } from 'express';
import { HttpError } from '../errors/http-error';
import { settleInto, type OpenApiSchema, type RequestDecoder } from './request-decoder';

export interface UploadedFile {
  field: string;
  filename: string | undefined;
  /** As the client declared it: never trust it for the format (sniff the bytes). */
  mimeType: string;
  data: Buffer;
}

/** `req.body` after multipart decoding: text fields and the files, all held in memory. */
export interface MultipartBody {
  fields: Record<string, string>;
  files: UploadedFile[];
}

export interface MultipartOptions {
  /** The form field(s) that carry files, e.g. `image`. */
  fileFields: readonly string[];
  maxFiles: number;
  maxFileBytes: number;
  /** Text fields accepted besides the files (others are refused). */
  textFields?: readonly string[];
}

/**
 * `multipart/form-data` through busboy, in memory only (uploads are never written to disk): at most
 * `maxFiles` files of at most `maxFileBytes` each, in the named fields. A file past the byte cap is a 413
 * the moment it is passed (the rest is not buffered); an unknown field, too many files or a malformed form
 * is a 400 naming it.
 */
export function multipartDecoder(options: MultipartOptions): RequestDecoder {
  const textFields = new Set(options.textFields ?? []);
  const fileFields = new Set(options.fileFields);
  return {
    mediaType: 'multipart/form-data',
    decode: settleInto((req: Request) =>
      new Promise((resolve, reject) => {
        let parser: busboy.Busboy;
        try {
          parser = busboy({
            headers: req.headers,
            limits: { files: options.maxFiles, fileSize: options.maxFileBytes, fields: 32, fieldSize: 64 * 1024, parts: options.maxFiles + 32 },
          });
        } catch (error) {
          reject(new HttpError(400, 'bad_request', `multipart body cannot be read: ${(error as Error).message}`));
          return;
        }
        const body: MultipartBody = { fields: {}, files: [] };
        let failed = false;
        const fail = (error: HttpError) => {
          if (failed) return;
          failed = true;
          req.unpipe(parser);
          req.resume(); // discard the rest rather than stall the socket
          reject(error);
        };
        parser.on('file', (field, stream, info) => {
          if (!fileFields.has(field)) {
            stream.resume();
            fail(new HttpError(400, 'validation_error', `unexpected file field '${field}'`, { details: [{ path: field, message: `files go in ${[...fileFields].join(', ')}`, code: 'unrecognized_keys' }] }));
            return;
          }
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('limit', () =>
            fail(new HttpError(413, 'payload_too_large', `file in '${field}' exceeds the limit of ${options.maxFileBytes} bytes`, { details: { field, limit_bytes: options.maxFileBytes } })),
          );
          stream.on('close', () => {
            // A file that arrived in one chunk is kept as that chunk (busboy copies any bytes it would reuse), so an
            // upload is not copied a second time; several chunks are joined.
            const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
            if (!failed) body.files.push({ field, filename: info.filename, mimeType: info.mimeType, data });
          });
        });
        parser.on('field', (name, value) => {
          if (!textFields.has(name)) {
            fail(new HttpError(400, 'validation_error', `unexpected form field '${name}'`, { details: [{ path: name, message: 'unknown form field', code: 'unrecognized_keys' }] }));
            return;
          }
          body.fields[name] = value;
        });
        parser.on('filesLimit', () =>
          fail(new HttpError(413, 'payload_too_large', `at most ${options.maxFiles} files per request`, { details: { max_files: options.maxFiles } })),
        );
        parser.on('partsLimit', () => fail(new HttpError(413, 'payload_too_large', 'too many parts in the multipart body')));
        parser.on('error', (error: Error) => fail(new HttpError(400, 'bad_request', `multipart body cannot be read: ${error.message}`)));
        parser.on('close', () => {
          if (!failed) resolve(body);
        });
        req.pipe(parser);
      })),
    openapi: () => {
      const properties: Record<string, OpenApiSchema> = {};
      for (const f of options.fileFields) {
        properties[f] =
          options.maxFiles > 1 ? { type: 'array', items: { type: 'string', format: 'binary' }, maxItems: options.maxFiles } : { type: 'string', format: 'binary' };
      }
      for (const f of options.textFields ?? []) properties[f] = { type: 'string' };
      return { type: 'object', properties, required: [...options.fileFields] };
    },
  };
}
