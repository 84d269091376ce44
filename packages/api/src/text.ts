/**
 * The one way a value from a repository enters a message (text, JSON, status): escaped so
 * it can never end a line, move the cursor or change the terminal, and cut short so a huge
 * value cannot flood the output.
 */
import { LIMITS } from './limits.js';

// C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides, BOM and
// the replacement character (what invalid UTF-8 decodes to).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffd]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  return NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` with every control character spelled as an escape; idempotent, and the safety net of every message. */
export function escapeText(text: string, max: number = LIMITS.messageChars): string {
  const escaped = text.replace(UNSAFE, escapeChar);
  return escaped.length > max ? `${escaped.slice(0, max - 3)}...` : escaped;
}

/** A repository value as it appears in a message: in double quotes, escaped, at most LIMITS.quotedChars characters. */
export function quote(value: string, max: number = LIMITS.quotedChars): string {
  const chars = [...value];
  const shown = chars.length > max ? chars.slice(0, max - 3).join('') : value;
  const body = shown.replace(/["\\]/g, (c) => `\\${c}`).replace(UNSAFE, escapeChar);
  return `"${body}"${chars.length > max ? '...' : ''}`;
}
