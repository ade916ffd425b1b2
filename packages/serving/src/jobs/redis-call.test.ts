import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError } from '../errors/http-error';
import type { JobsParts } from './create-jobs';
import { redisCall } from './job-routes';

const up = { redis: { ready: true } } as unknown as Pick<JobsParts, 'redis'>;
const slow = async () => {
  await sleep(60);
  return 'done';
};

describe('redisCall: the jobs routes\' bound on Redis work', () => {
  it('answers 503 jobs_unavailable when a bounded call outlives its bound', async () => {
    const error = await redisCall(up, slow, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 503, code: 'jobs_unavailable' });
  });

  it('leaves a streamed upload (bound null) unbounded however long it takes', async () => {
    await expect(redisCall(up, slow, null)).resolves.toBe('done');
  });
});
