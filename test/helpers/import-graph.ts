import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One import of a source file: its target (repo-relative .ts path or a package name) and whether it is type-only. */
export interface ImportEdge {
  readonly target: string;
  readonly typeOnly: boolean;
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The static import graph of every .ts file under `srcDir`, keyed by path relative to `root`. */
export function importGraph(root: string, srcDir: string): Map<string, ImportEdge[]> {
  const graph = new Map<string, ImportEdge[]>();
  for (const file of tsFiles(srcDir)) {
    const edges: ImportEdge[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[3]!;
      const target = spec.startsWith('.') ? relative(root, resolve(dirname(file), spec)).replace(/\.js$/, '.ts') : spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
      edges.push({ target, typeOnly: m[2] !== undefined });
    }
    graph.set(relative(root, file), edges);
  }
  return graph;
}

/** Files reachable from `start` through runtime (non-type) imports, packages included. */
export function runtimeClosure(graph: Map<string, ImportEdge[]>, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length) {
    for (const e of graph.get(todo.pop()!) ?? []) {
      if (e.typeOnly || seen.has(e.target)) continue;
      seen.add(e.target);
      todo.push(e.target);
    }
  }
  return seen;
}

/** Every import cycle among the graph's files (type-only imports count), each as a list of files. */
export function importCycles(graph: Map<string, ImportEdge[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const { target } of graph.get(f) ?? []) {
      if (!graph.has(target)) continue;
      if (state.get(target) === 'open') cycles.push(stack.slice(stack.indexOf(target)));
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return cycles;
}
