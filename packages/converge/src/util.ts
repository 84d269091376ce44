import { createHash } from 'node:crypto';
import { reasonFor, StepFailed, type FileReader, type Item } from './step.js';

/** The `found`/`set` value of something that does not exist. */
export const ABSENT = '(absent)';

/** A short, comparable stand-in for file content in items and drift reports. */
export function contentHash(content: string | undefined): string {
  if (content === undefined) return ABSENT;
  return `sha256:${createHash('sha256').update(content).digest('hex').slice(0, 16)}`;
}

/** A file the spec wants with exactly `content`, as an item (its `content` is what apply writes). */
export async function fileItem(files: FileReader, path: string, content: string): Promise<Item & { content: string }> {
  return { item: path, found: contentHash(await files.read(path)), set: contentHash(content), content };
}

export function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/**
 * Runs `fn` for every element, so one bad item does not stop the others (the rest of
 * the round goes on where it can); then fails with every error that happened.
 */
export async function eachItem<T>(elements: readonly T[], fn: (element: T) => Promise<void>): Promise<void> {
  const errors: unknown[] = [];
  for (const element of elements) {
    try {
      await fn(element);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    throw new StepFailed(reasonFor(errors[0]), errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'));
  }
}
