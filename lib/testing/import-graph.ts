import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { repoRoot } from "./paths.js";

/**
 * A static view of the project's imports, for the tests that guard its shape
 * (layering, production dependencies). Imports are read with the TypeScript
 * compiler's own pre-processor (`ts.preProcessFile`), which reports every
 * `import … from "x"`, `import "x"`, `export … from "x"`, `import x = require("x")`
 * and dynamic `import("x")` with a string literal, type-only ones included,
 * without parsing types or resolving anything. Dynamic imports whose specifier
 * is not a literal cannot be followed; `unresolvableDynamicImports` finds them
 * so a test can refuse them.
 */

/** One import of one file: the specifier as written and what it points at. */
export interface ImportEdge {
  /** The specifier as written in the source. */
  readonly specifier: string;
  /** For a relative import: the repo-relative path of the file it resolves to (posix separators). */
  readonly file?: string;
  /** For a bare import: the package name (`@scope/name` or `name`). */
  readonly packageName?: string;
  /** For `node:x` and bare builtin names. */
  readonly builtin?: boolean;
}

const builtins = new Set(builtinModules);

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

/** Every specifier a file imports or re-exports, in source order, type-only ones included. */
function importSpecifiers(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/**
 * Resolves a relative specifier of `fromFile` (absolute) the way nodenext does for
 * this project: `./x.js` is `./x.ts` in the sources and `./x.js` in dist/.
 */
function resolveRelative(fromFile: string, specifier: string, extensions: readonly string[]): string {
  const target = resolve(dirname(fromFile), specifier);
  const stem = target.replace(/\.(js|ts|mjs|cjs)$/, "");
  for (const ext of extensions) {
    const candidate = `${stem}${ext}`;
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${toPosix(relative(repoRoot, fromFile))}: cannot resolve import "${specifier}"`);
}

/** The imports of one file (absolute path), classified. */
function importsOf(file: string, root: string, extensions: readonly string[]): ImportEdge[] {
  const source = readFileSync(file, "utf8");
  return importSpecifiers(source).map((specifier): ImportEdge => {
    if (specifier.startsWith(".") || specifier.startsWith("/")) {
      return { specifier, file: toPosix(relative(root, resolveRelative(file, specifier, extensions))) };
    }
    if (specifier.startsWith("node:") || builtins.has(specifier)) return { specifier, builtin: true };
    return { specifier, packageName: packageOf(specifier) };
  });
}

/** Dynamic `import(expr)` calls whose argument is not a string literal (they cannot be followed statically). */
export function unresolvableDynamicImports(source: string): number {
  const sf = ts.createSourceFile("x.ts", source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  let count = 0;
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      !(node.arguments.length === 1 && ts.isStringLiteralLike(node.arguments[0] as ts.Expression))
    ) {
      count++;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return count;
}

/** Every file with one of `extensions` under `dir` (absolute), skipping node_modules, dist and declaration files. */
export function listFiles(dir: string, extensions: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue;
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (extensions.some((ext) => entry.name.endsWith(ext)) && !entry.name.endsWith(".d.ts")) {
        out.push(path);
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/** The import graph of a set of files: repo-relative path → its imports. */
export type ImportGraph = ReadonlyMap<string, readonly ImportEdge[]>;

/** Builds the graph of every file with `extensions` under the given top-level folders of `root`. */
export function buildGraph(
  root: string,
  folders: readonly string[],
  extensions: readonly string[],
): ImportGraph {
  const graph = new Map<string, ImportEdge[]>();
  for (const folder of folders) {
    for (const file of listFiles(join(root, folder), extensions)) {
      graph.set(toPosix(relative(root, file)), importsOf(file, root, extensions));
    }
  }
  return graph;
}

/**
 * Walks the graph from `entry` (repo-relative, under `root`), reading files on
 * demand, and returns every file reached (entry included) with the edges that
 * reached it and every package reached with one file that imports it.
 */
export function reachableFrom(
  root: string,
  entry: string,
  extensions: readonly string[],
): { files: Map<string, string | null>; packages: Map<string, string> } {
  const files = new Map<string, string | null>([[entry, null]]);
  const packages = new Map<string, string>();
  const queue = [entry];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const edge of importsOf(join(root, next), root, extensions)) {
      if (edge.file !== undefined && !files.has(edge.file)) {
        files.set(edge.file, next);
        queue.push(edge.file);
      } else if (edge.packageName !== undefined && !packages.has(edge.packageName)) {
        packages.set(edge.packageName, next);
      }
    }
  }
  return { files, packages };
}

/** The chain of files by which `file` was reached, entry first (from `reachableFrom`'s `files`). */
export function pathTo(files: ReadonlyMap<string, string | null>, file: string): string[] {
  const chain: string[] = [];
  for (let at: string | null | undefined = file; at != null; at = files.get(at)) chain.unshift(at);
  return chain;
}

/**
 * The import cycles among the graph's files (only edges between files of the
 * graph count), each as a path that starts and ends with the same file. One
 * cycle is reported per strongly connected component, so a tangle shows once.
 */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const successors = (file: string): string[] =>
    (graph.get(file) ?? []).flatMap((e) => (e.file !== undefined && graph.has(e.file) ? [e.file] : []));

  const strongConnect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of successors(v)) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1 || successors(v).includes(v)) components.push(component);
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) strongConnect(file);

  // For each tangle, one concrete cycle: a shortest path back to its first file.
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0] as string;
    const previous = new Map<string, string>();
    const queue = [start];
    for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
      for (const next of successors(at)) {
        if (!members.has(next)) continue;
        if (next === start) {
          const path = [start];
          for (let p: string | undefined = at; p !== undefined && p !== start; p = previous.get(p))
            path.splice(1, 0, p);
          return [...path, start];
        }
        if (!previous.has(next)) {
          previous.set(next, at);
          queue.push(next);
        }
      }
    }
    return [start, start];
  });
}
