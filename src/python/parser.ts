/**
 * The Python parser: web-tree-sitter with the tree-sitter-python grammar, loaded once per process.
 * Bundles (dist/extension.js, dist/cli.js) find the WASM files beside them; running from source
 * (tests, tsx) finds them in node_modules.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Language, Node, Parser, Tree } from 'web-tree-sitter';

export type { Node, Tree };

export interface ParserFiles {
  runtimeWasm: string;
  pythonWasm: string;
}

export function defaultParserFiles(dir: string = __dirname): ParserFiles {
  const beside = {
    runtimeWasm: path.join(dir, 'tree-sitter.wasm'),
    pythonWasm: path.join(dir, 'tree-sitter-python.wasm'),
  };
  if (existsSync(beside.runtimeWasm) && existsSync(beside.pythonWasm)) return beside;
  const modules = path.join(__dirname, '..', '..', 'node_modules'); // from src/python when run from source
  return {
    runtimeWasm: path.join(modules, 'web-tree-sitter', 'tree-sitter.wasm'),
    pythonWasm: path.join(modules, 'tree-sitter-python', 'tree-sitter-python.wasm'),
  };
}

export interface SyntaxProblem {
  /** 1-based line and column (UTF-16 code units) of the first syntax error. */
  line: number;
  column: number;
  message: string;
}

export class PythonParser {
  private constructor(private readonly parser: Parser) {}

  static async load(files: ParserFiles = defaultParserFiles()): Promise<PythonParser> {
    await Parser.init({ locateFile: () => files.runtimeWasm });
    const language = await Language.load(files.pythonWasm);
    const parser = new Parser();
    parser.setLanguage(language);
    return new PythonParser(parser);
  }

  /** The syntax tree; the caller deletes it (it lives in WASM memory). */
  parse(source: string): Tree {
    const tree = this.parser.parse(source);
    if (!tree) throw new Error('the Python parser returned no tree');
    return tree;
  }

  /** The first syntax error of a source, or undefined when it parses cleanly. */
  syntaxProblem(source: string): SyntaxProblem | undefined {
    const tree = this.parse(source);
    try {
      return firstSyntaxProblem(tree.rootNode);
    } finally {
      tree.delete();
    }
  }

  /** Number of ERROR and MISSING nodes: an edit must not raise it. */
  errorCount(source: string): number {
    const tree = this.parse(source);
    try {
      return countErrors(tree.rootNode);
    } finally {
      tree.delete();
    }
  }
}

let shared: Promise<PythonParser> | undefined;

/** One parser per process, loaded on first use. */
export function pythonParser(files?: ParserFiles): Promise<PythonParser> {
  shared ??= PythonParser.load(files);
  return shared;
}

export function firstSyntaxProblem(root: Node): SyntaxProblem | undefined {
  if (!root.hasError) return undefined;
  const cursor = root.walk();
  try {
    for (;;) {
      const node = cursor.currentNode;
      if (node.isMissing || node.isError) {
        const at = node.startPosition;
        const message = node.isMissing ? `missing ${JSON.stringify(node.type)}` : `invalid syntax at ${describe(node)}`;
        return { line: at.row + 1, column: at.column + 1, message };
      }
      // Descend only into subtrees that contain an error.
      if (node.hasError && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return { line: 1, column: 1, message: 'syntax error' };
      }
    }
  } finally {
    cursor.delete();
  }
}

function describe(errorNode: Node): string {
  const text = errorNode.text.split('\n')[0].trim();
  return text ? JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text) : 'input';
}

function countErrors(node: Node): number {
  if (!node.hasError && !node.isMissing) return 0;
  let n = node.isError || node.isMissing ? 1 : 0;
  for (const child of node.children) if (child) n += countErrors(child);
  return n;
}
