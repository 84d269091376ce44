import { LineCounter, parseAllDocuments, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import { formatPath, type Issue, type PathSegment } from './validate.js';

/** One problem in the repository, located for a person: `FILE:LINE:COL: FIELD: message`. */
export interface SpecError {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field (`spec.pools[0].replicas`); empty for syntax errors. */
  field: string;
  message: string;
}

export function formatSpecError(e: SpecError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.field ? `${e.field}: ` : ''}${e.message}`;
}

/** A parsed YAML file that can say where any path of its content is written. */
export class SourceDocument {
  private constructor(
    readonly file: string,
    readonly value: unknown,
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter,
  ) {}

  /** Parses one file. Syntax errors come back as SpecErrors and no document. */
  static parse(file: string, text: string): { document?: SourceDocument; errors: SpecError[] } {
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    const at = (offset: number) => lines.linePos(offset);
    const errors: SpecError[] = [];
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      for (const e of doc.errors) {
        const pos = at(e.pos[0]);
        errors.push({ file, line: pos.line, column: pos.col, field: '', message: `YAML syntax: ${e.message.split('\n')[0]}` });
      }
    }
    if (errors.length) return { errors };
    const content = list.filter((d) => d.contents !== null);
    if (content.length === 0) return { errors: [{ file, line: 1, column: 1, field: '', message: 'the file is empty; expected one herd.dev/v1 object' }] };
    if (content.length > 1) {
      const pos = at(content[1]!.range[0]);
      return { errors: [{ file, line: pos.line, column: pos.col, field: '', message: 'one object per file: this file holds more than one YAML document' }] };
    }
    const doc = content[0]!;
    return { document: new SourceDocument(file, doc.toJS({ maxAliasCount: 100 }), doc, lines), errors: [] };
  }

  /** A document for a value that was not read from YAML (tests, generated objects). */
  static fromValue(file: string, value: unknown): SourceDocument {
    return new SourceDocument(file, value, undefined, new LineCounter());
  }

  has(path: readonly PathSegment[]): boolean {
    return this.doc?.hasIn(path) ?? false;
  }

  /** Line and column of the value at `path`, or of its key, or of the closest ancestor written. */
  locate(path: readonly PathSegment[], atKey = false): { line: number; column: number } {
    if (!this.doc) return { line: 1, column: 1 };
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.nodeAt(path.slice(0, depth), atKey && depth === path.length);
      if (node?.range) {
        const pos = this.lines.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return { line: 1, column: 1 };
  }

  private nodeAt(path: readonly PathSegment[], key: boolean): Node | undefined {
    let node: unknown = this.doc!.contents;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (!pair) return undefined;
        const last = i === path.length - 1;
        // An empty value (`field:` and nothing) has no text of its own: point at its key.
        const empty = pair.value === null || (isScalar(pair.value) && pair.value.value === null && pair.value.range?.[0] === pair.value.range?.[1]);
        if (last && (key || empty)) return pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
      } else {
        return undefined;
      }
    }
    return (node ?? undefined) as Node | undefined;
  }

  error(issue: Issue): SpecError {
    const { line, column } = this.locate(issue.path, issue.atKey);
    return { file: this.file, line, column, field: formatPath(issue.path), message: issue.message };
  }
}
