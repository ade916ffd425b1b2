// The store-backed floor for iit-risk's `pnpm bench`: parse a JSON body, one Redis GET, answer JSON.
import express from 'express';
import { Redis } from 'ioredis';

const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
const key = `${process.env['REDIS_KEY_PREFIX'] ?? 'bench:'}iit-risk:features:${process.env['BENCH_PATIENT'] ?? 'bench-patient'}`;
const app = express();
app.disable('x-powered-by');
app.post('/get', express.json(), async (req, res) => {
  const value = await redis.get(key);
  res.json({ ok: value !== null, fields: Object.keys(req.body as object).length });
});
app.listen(Number(process.env['PORT'] ?? 9000), '127.0.0.1');
