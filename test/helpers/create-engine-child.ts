// Child process for tests: Engine.create with the options in argv[2] (JSON); prints the outcome as one JSON line.
import { Engine } from '../../src/engine/engine.js';

try {
  const engine = await Engine.create(JSON.parse(process.argv[2]!) as Parameters<typeof Engine.create>[0]);
  await engine.close();
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: (e as Error).name, message: (e as Error).message }));
}
