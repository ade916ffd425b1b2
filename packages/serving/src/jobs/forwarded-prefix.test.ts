import express from 'express';
import request from 'supertest';
import { forwardedPrefix } from './job-routes';

/** An app answering with the prefix its job URLs would carry, under a given `trust proxy` (as TRUST_PROXY sets it). */
function app(trustProxy: boolean | string) {
  const a = express();
  a.set('trust proxy', trustProxy);
  a.get('/prefix', (req, res) => {
    res.json({ prefix: forwardedPrefix(req) });
  });
  return a;
}

describe('X-Forwarded-Prefix on job URLs', () => {
  it('is honoured from a trusted proxy (supertest connects from loopback)', async () => {
    for (const trust of ['loopback', 'uniquelocal, loopback', true] as const) {
      const res = await request(app(trust)).get('/prefix').set('X-Forwarded-Prefix', '/taxi-eta').expect(200);
      expect({ trust, prefix: res.body.prefix }).toEqual({ trust, prefix: '/taxi-eta' });
    }
    await request(app('loopback')).get('/prefix').set('X-Forwarded-Prefix', '/edge/taxi-eta').expect(200, { prefix: '/edge/taxi-eta' });
  });

  it('is ignored from an untrusted peer, and when it is not plain path segments', async () => {
    // 'uniquelocal' (private ranges) does not include loopback: the peer is not a trusted proxy.
    for (const trust of [false, 'uniquelocal', '10.0.0.0/8'] as const) {
      const res = await request(app(trust)).get('/prefix').set('X-Forwarded-Prefix', '/taxi-eta').expect(200);
      expect({ trust, prefix: res.body.prefix }).toEqual({ trust, prefix: '' });
    }
    for (const bad of ['taxi-eta', '/', '//evil.example.com', '/a b', '/x?y=1', 'https://evil.example.com/x', '/a/../b', '/..', '/x%2fy']) {
      const res = await request(app('loopback')).get('/prefix').set('X-Forwarded-Prefix', bad).expect(200);
      expect({ bad, prefix: res.body.prefix }).toEqual({ bad, prefix: '' });
    }
    await request(app('loopback')).get('/prefix').expect(200, { prefix: '' });
  });
});
