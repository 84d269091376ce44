import { LineCounter, Lexer, parseAllDocuments, isAlias, isMap, isSeq, isScalar, isPair, type Document, type Node } from 'yaml';
import { LIMITS } from './limits.js';
import { escapeText, quote } from './text.js';
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

/** `FILE:LINE:COL: FIELD: message`, or `FILE: message` for a problem of the whole file (line 0). One line, always. */
export function formatSpecError(e: SpecError): string {
  const safe = safeSpecError(e);
  const at = safe.line > 0 ? `${safe.file}:${safe.line}:${safe.column}` : safe.file;
  return `${at}: ${safe.field ? `${safe.field}: ` : ''}${safe.message}`;
}

/** The error with every part escaped (control characters, terminal escapes) and cut to length; what text and JSON output print. */
export function safeSpecError(e: SpecError): SpecError {
  return { file: escapeText(e.file), line: e.line, column: e.column, field: escapeText(e.field), message: escapeText(e.message) };
}

function position(lines: LineCounter, offset: number): { line: number; column: number } {
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** Keeps the first LIMITS.errorsPerFile errors of a file and says, in one more, that there are others. */
function capErrors(file: string, errors: SpecError[]): SpecError[] {
  if (errors.length <= LIMITS.errorsPerFile) return errors;
  const last = errors[LIMITS.errorsPerFile - 1]!;
  const message = `further errors in this file are not shown (herd reports the first ${LIMITS.errorsPerFile})`;
  return [...errors.slice(0, LIMITS.errorsPerFile), { file, line: last.line, column: last.column, field: '', message }];
}

/** Line and column (1-based) of `offset` in `text`, without a LineCounter (before parsing). */
function locateOffset(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

// Characters YAML does not allow in a stream (it is text, not binary), plus U+FFFD, which is
// what bytes that are not UTF-8 decode to.
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff\ufffd]/u;

/** Size, text and nesting, checked before the YAML parser sees the file. */
function checkText(file: string, text: string): SpecError | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.fileBytes) {
    return { file, line: 0, column: 0, field: '', message: `the file has ${bytes} bytes; a cluster or profile file may have at most ${LIMITS.fileBytes}` };
  }
  const bad = NOT_TEXT.exec(text);
  if (bad) {
    const code = bad[0].codePointAt(0)!;
    const what = code === 0xfffd ? 'bytes that are not UTF-8' : `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return { file, ...locateOffset(text, bad.index), field: '', message: `the file is not YAML text: it holds ${what}` };
  }
  // The lexer is iterative and knows flow brackets from brackets inside scalars; the
  // composer that runs after it recurses once per level, so depth is bounded here.
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > LIMITS.nestingDepth) {
        return { file, ...locateOffset(text, offset), field: '', message: `mappings and lists are nested more than ${LIMITS.nestingDepth} levels deep` };
      }
    } else if (token === ']' || token === '}') {
      depth = Math.max(0, depth - 1);
    }
    // Single-character tokens below U+0020 other than tab and newline are the lexer's markers, not text.
    if (!(token.length === 1 && token < ' ' && token !== '\n' && token !== '\t')) offset += token.length;
  }
  return undefined;
}

interface Problem { offset: number; message: string }

/**
 * One iterative pass over the parsed document: node count, nesting depth (block nesting
 * too), alias count, keys that are not plain scalars, and duplicate keys (a set per
 * mapping, so linear; yaml's own uniqueKeys check compares every pair).
 */
function checkStructure(doc: Document): Problem[] {
  const problems: Problem[] = [];
  let nodes = 0;
  let aliases = 0;
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }];
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (node === null || node === undefined) continue;
    const offset = (node as Node).range?.[0] ?? 0;
    if (++nodes > LIMITS.yamlNodes) return [{ offset, message: `the file has more than ${LIMITS.yamlNodes} YAML nodes (keys, values and list items)` }];
    if (depth > LIMITS.nestingDepth) return [{ offset, message: `mappings and lists are nested more than ${LIMITS.nestingDepth} levels deep` }];
    if (isAlias(node)) {
      if (++aliases > LIMITS.yamlAliases) return [{ offset, message: `the file uses more than ${LIMITS.yamlAliases} YAML aliases` }];
    } else if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        const keyOffset = key?.range?.[0] ?? offset;
        if (!isScalar(key) || (key.value !== null && typeof key.value === 'object')) {
          problems.push({ offset: keyOffset, message: 'a mapping key must be a plain string, not a mapping, list or alias' });
        } else {
          const name = String(key.value);
          if (seen.has(name)) problems.push({ offset: keyOffset, message: `YAML syntax: Map keys must be unique (${quote(name)} appears twice)` });
          seen.add(name);
        }
        if (problems.length > LIMITS.errorsPerFile) return problems;
        stack.push({ node: pair.value, depth: depth + 1 });
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push({ node: isPair(item) ? item.value : item, depth: depth + 1 });
    }
  }
  return problems;
}

/** A parsed YAML file that can say where any path of its content is written. */
export class SourceDocument {
  private constructor(
    readonly file: string,
    readonly value: unknown,
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter,
  ) {}

  /**
   * Parses one file. Syntax errors come back as SpecErrors and no document. Every bound of
   * LIMITS is checked before the step it protects: text and nesting before parsing (the
   * YAML composer recurses), node, alias and key checks in one pass before building values.
   */
  static parse(file: string, text: string): { document?: SourceDocument; errors: SpecError[] } {
    const lines = new LineCounter();
    const early = checkText(file, text);
    if (early) return { errors: [early] };
    const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
    const at = (offset: number) => lines.linePos(offset);
    const errors: SpecError[] = [];
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      for (const e of doc.errors) {
        const pos = at(e.pos[0]);
        errors.push({ file, line: pos.line, column: pos.col, field: '', message: `YAML syntax: ${e.message.split('\n')[0]}` });
      }
    }
    if (errors.length) return { errors: capErrors(file, errors) };
    const content = list.filter((d) => d.contents !== null);
    if (content.length === 0) return { errors: [{ file, line: 1, column: 1, field: '', message: 'the file is empty; expected one herd.dev/v1 object' }] };
    if (content.length > 1) {
      const pos = at(content[1]!.range[0]);
      return { errors: [{ file, line: pos.line, column: pos.col, field: '', message: 'one object per file: this file holds more than one YAML document' }] };
    }
    const doc = content[0]!;
    const structural = checkStructure(doc).map((p) => ({ file, ...position(lines, p.offset), field: '', message: p.message }));
    if (structural.length) return { errors: capErrors(file, structural) };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
    } catch (error) {
      // yaml refuses alias expansion beyond maxAliasCount (a "billion laughs" file).
      const reason = (error as Error).message.split('\n')[0];
      return { errors: [{ file, line: 1, column: 1, field: '', message: `YAML aliases expand to too many nodes (${reason})` }] };
    }
    return { document: new SourceDocument(file, value, doc, lines), errors: [] };
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
