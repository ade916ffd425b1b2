import { JsonInstancesSplitter, NdjsonSplitter } from './instance-stream';

/** Feeds `text` in pieces of `size` characters; answers the elements or the error message. */
function split(text: string, size: number, kind: 'json' | 'ndjson' = 'json'): string[] | string {
  const out: string[] = [];
  const splitter = kind === 'json' ? new JsonInstancesSplitter((e) => out.push(e)) : new NdjsonSplitter((e) => out.push(e));
  try {
    for (let i = 0; i < text.length; i += size) splitter.push(text.slice(i, i + size));
    splitter.end();
  } catch (error) {
    return (error as Error).message;
  }
  return out;
}

describe('JsonInstancesSplitter', () => {
  const body = '  {"instances" : [ {"a": "x,]}\\"["}, [1, [2]], "s,t", 3.5e2 ,null,{"b":{"c":[]}} ] } \n';
  const elements = ['{"a": "x,]}\\"["}', '[1, [2]]', '"s,t"', '3.5e2', 'null', '{"b":{"c":[]}}'];

  test.each([1, 2, 3, 7, 1000])('splits top-level elements however the text is cut (pieces of %i)', (size) => {
    expect(split(body, size)).toEqual(elements);
  });

  test('each element is checked on its own, naming its position', () => {
    expect(split('{"instances": [{"a": 1}, {"b": }]}', 4)).toMatch(/^instances\[1\] is not valid JSON/);
    expect(split('{"instances": [1,,2]}', 4)).toMatch(/^instances\[1\] is missing/);
    expect(split('{"instances": [1, 2]', 4)).toMatch(/ended early/);
    expect(split('{"instances": [1], "x": 2}', 4)).toMatch(/only key is "instances"/);
    expect(split('{"other": [1]}', 4)).toMatch(/ended early|only key/);
    expect(split('[1, 2]', 1)).toMatch(/ended early|only key/);
  });

  test('an empty array has no elements', () => {
    expect(split('{"instances": []}', 3)).toEqual([]);
  });
});

describe('NdjsonSplitter', () => {
  test('one element per non-blank line, CRLF and a missing final newline included', () => {
    expect(split('{"a":1}\r\n\n[2]\n"x"', 3, 'ndjson')).toEqual(['{"a":1}', '[2]', '"x"']);
  });

  test('a line that is not JSON names its line number', () => {
    expect(split('{"a":1}\n{nope}\n', 5, 'ndjson')).toMatch(/^NDJSON line 2 is not valid JSON/);
  });
});
