// usage: node tok.mjs encode in.json out.json   (in: array of strings) -> array of id arrays (no special tokens added)
//        node tok.mjs decode in.json out.json   (in: array of id arrays) -> array of strings
import { readFileSync, writeFileSync } from 'node:fs';
import { ModelTokenizer } from '../../dist/tokenizer/tokenizer.js';
const tok = await ModelTokenizer.load(new URL('../../models/arbor-tiny', import.meta.url).pathname);
const [mode, inp, out] = process.argv.slice(2);
const data = JSON.parse(readFileSync(inp, 'utf8'));
const res = mode === 'encode' ? data.map((s) => tok.encode(s, { addSpecialTokens: false })) : data.map((ids) => tok.decode(ids));
writeFileSync(out, JSON.stringify(res));
