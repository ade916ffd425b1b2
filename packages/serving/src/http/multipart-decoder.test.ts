import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { RawHttpClient } from '../testing/raw-http';
import { multipartDecoder, type MultipartBody } from './multipart-decoder';

const BOUNDARY = 'test-boundary-5c1e';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function form(files: Buffer[]): Buffer {
  const parts = files.map((f, i) =>
    Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="f${i}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`), f, Buffer.from('\r\n')]),
  );
  return Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
}

describe('multipartDecoder: the files as sent, whether they arrive in one chunk or many', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    const decoder = multipartDecoder({ fileFields: ['image'], maxFiles: 2, maxFileBytes: 1024 * 1024 });
    const app = express();
    app.post('/up', decoder.decode, (req, res) => {
      const { files } = req.body as MultipartBody;
      res.json(files.map((f) => ({ bytes: f.data.length, sha256: sha(f.data) })));
    });
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Posts `body` in `pieces` writes with a pause between them (so the server reads several chunks). */
  async function post(body: Buffer, pieces: number): Promise<{ bytes: number; sha256: string }[]> {
    const client = await RawHttpClient.connect(port);
    try {
      await client.write(`POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${body.length}\r\n\r\n`);
      const size = Math.ceil(body.length / pieces);
      for (let at = 0; at < body.length; at += size) {
        await client.write(body.subarray(at, at + size));
        if (pieces > 1) await new Promise((r) => setTimeout(r, 5));
      }
      const res = await client.response();
      expect(res.status).toBe(200);
      return JSON.parse(res.body) as { bytes: number; sha256: string }[];
    } finally {
      client.destroy();
    }
  }

  it('a small file written at once (one chunk) is its exact bytes', async () => {
    const file = randomBytes(2000);
    expect(await post(form([file]), 1)).toEqual([{ bytes: 2000, sha256: sha(file) }]);
  });

  it('a file written in many pieces (many chunks, some split inside the boundary) is its exact bytes', async () => {
    const file = randomBytes(300_000);
    expect(await post(form([file]), 97)).toEqual([{ bytes: 300_000, sha256: sha(file) }]);
  });

  it('two files, one chunk each, are kept apart', async () => {
    const [a, b] = [randomBytes(1500), randomBytes(700)];
    expect(await post(form([a, b]), 1)).toEqual([
      { bytes: 1500, sha256: sha(a) },
      { bytes: 700, sha256: sha(b) },
    ]);
  });
});
