// The floor for `pnpm bench`: the least an Express JSON endpoint can do — parse a JSON body, answer JSON.
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.post('/echo', express.json(), (req, res) => {
  res.json({ ok: true, fields: Object.keys(req.body as object).length });
});
const port = Number(process.env['PORT'] ?? 9000);
app.listen(port, '127.0.0.1');
