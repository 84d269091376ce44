import type { File__Output } from '@herd/proto';
import { Reason, StepFailed, type FileReader, type Item, type Step } from '../step.js';
import { ABSENT, contentHash, eachItem, octal } from '../util.js';

interface FileItem extends Item {
  want: File__Output & { mode: number; owner: string; group: string };
  differs: { content: boolean; mode: boolean; owner: boolean };
}

/** Maps user and group names to ids and back, from /etc/passwd and /etc/group. */
export async function readAccounts(files: FileReader) {
  const parse = (text: string | undefined) =>
    (text ?? '').split('\n').map((l) => l.split(':')).filter((f) => f.length > 2).map((f) => [f[0]!, Number(f[2])] as const);
  const users = parse(await files.read('/etc/passwd'));
  const groups = parse(await files.read('/etc/group'));
  const nameOf = (table: typeof users, id: number) => table.find(([, i]) => i === id)?.[0] ?? String(id);
  const idOf = (table: typeof users, name: string, kind: string) => {
    const id = table.find(([n]) => n === name)?.[1];
    if (id === undefined) throw new StepFailed('UnknownOwner', `no ${kind} named ${name}`);
    return id;
  };
  return {
    owner: (uid: number, gid: number) => `${nameOf(users, uid)}:${nameOf(groups, gid)}`,
    uid: (name: string) => idOf(users, name, 'user'),
    gid: (name: string) => idOf(groups, name, 'group'),
  };
}

/**
 * Files with exact content, mode and owner (defaults: 0644, root:root). Content changes
 * are written atomically (temporary file + rename); a mode or owner change alone is a
 * chmod/chown. Files the spec no longer lists are left alone. Written below
 * /etc/systemd/system (drop-ins), systemd is told to read its units again.
 */
export const filesStep: Step<FileItem> = {
  name: 'Files',
  async observe(spec, ctx) {
    if (!spec.files.length) return [];
    const accounts = await readAccounts(ctx.files);
    const items: FileItem[] = [];
    for (const file of spec.files) {
      const want = { ...file, mode: file.mode || 0o644, owner: file.owner || 'root', group: file.group || 'root' };
      const stat = await ctx.files.stat(file.path);
      const found = stat ? await ctx.files.read(file.path) : undefined;
      const owner = stat ? accounts.owner(stat.uid, stat.gid) : ABSENT;
      items.push({
        item: file.path,
        found: stat ? `${contentHash(found)} ${octal(stat.mode)} ${owner}` : ABSENT,
        set: `${contentHash(want.content)} ${octal(want.mode)} ${want.owner}:${want.group}`,
        want,
        differs: { content: found !== want.content, mode: stat?.mode !== want.mode, owner: owner !== `${want.owner}:${want.group}` },
      });
    }
    return items;
  },
  async apply(changes, ctx) {
    const accounts = await readAccounts(ctx.files);
    await eachItem(changes, async ({ item: path, want, differs }) => {
      const uid = accounts.uid(want.owner);
      const gid = accounts.gid(want.group);
      try {
        if (differs.content) return await ctx.writeFile(path, want.content, { mode: want.mode, uid, gid });
        ctx.round.changedPaths.add(path);
        if (differs.mode) await ctx.change(`chmod ${octal(want.mode)} ${path}`, (fs) => fs.chmod(path, want.mode));
        if (differs.owner) await ctx.change(`chown ${want.owner}:${want.group} ${path}`, (fs) => fs.chown(path, uid, gid));
      } catch (e) {
        // Node's fs errors (EROFS, EACCES) carry the path; say which file it was either way.
        if (e instanceof StepFailed) throw e;
        throw new StepFailed(Reason.Failed, `${path}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    // A unit's drop-in (the kubelet's, say) counts only once systemd has read it again.
    if (changes.some((c) => c.differs.content && c.item.startsWith(SYSTEMD_DIR))) await ctx.execute('systemctl', ['daemon-reload']);
  },
};

const SYSTEMD_DIR = '/etc/systemd/system/';
