import type { Item, Step } from '../step.js';
import { ABSENT, contentHash, eachItem, fileItem } from '../util.js';

const LISTS = '/etc/apt/sources.list.d';
const KEYRINGS = '/etc/apt/keyrings';
/** First line of every source file herd writes: how it recognises its own files later. */
const HEADER = '# Managed by herd: changes are overwritten.\n';

interface SourceItem extends Item {
  /** Content to write, or undefined to remove the file. */
  content?: string;
}

/**
 * APT sources (sources.list.d/NAME.list) and their signing keys (keyrings/NAME.asc).
 * Sources herd wrote earlier that the spec no longer has are removed; others are left alone.
 */
export const aptSourcesStep: Step<SourceItem> = {
  name: 'AptSources',
  async observe(spec, ctx) {
    const wanted = new Map<string, string>();
    for (const source of spec.aptSources) {
      wanted.set(`${LISTS}/${source.name}.list`, `${HEADER}${source.line}\n`);
      if (source.key) wanted.set(`${KEYRINGS}/${source.name}.asc`, source.key.endsWith('\n') ? source.key : `${source.key}\n`);
    }
    const items: SourceItem[] = [];
    for (const [path, content] of wanted) {
      items.push(await fileItem(ctx.files, path, content));
    }
    for (const name of await ctx.files.list(LISTS)) {
      const path = `${LISTS}/${name}`;
      if (!name.endsWith('.list') || wanted.has(path)) continue;
      const text = await ctx.files.read(path);
      if (text?.startsWith(HEADER)) items.push({ item: path, found: contentHash(text), set: ABSENT });
    }
    return items;
  },
  async apply(changes, ctx) {
    ctx.round.aptSourcesChanged = true;
    await eachItem(changes, async (change) => {
      if (change.content !== undefined) return ctx.writeFile(change.item, change.content, { mode: 0o644 });
      const keyring = `${KEYRINGS}/${change.item.slice(LISTS.length + 1).replace(/\.list$/, '.asc')}`;
      await ctx.change(`remove ${change.item}`, (fs) => fs.remove(change.item));
      if (await ctx.files.stat(keyring)) await ctx.change(`remove ${keyring}`, (fs) => fs.remove(keyring));
    });
  },
};
