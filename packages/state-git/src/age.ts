import { armor, Decrypter, Encrypter, identityToRecipient } from 'age-encryption';
import { UserError, type FileSystem } from '@herd/sys';
import { checkBundle, type StateBundle } from './layout.js';

/** The coordinator's age identity: its secret key, where it came from, and its public key. */
export interface AgeIdentity {
  file: string;
  secret: string;
  recipient: string;
}

const SECRET_PREFIX = 'AGE-SECRET-KEY-';

/**
 * Reads an identity file as age-keygen writes it: `#` comments, then one AGE-SECRET-KEY-1…
 * line. A missing file, a second key or a line that is not a key is a UserError naming the
 * file (and line); the key itself is never in a message.
 */
export async function readAgeIdentity(file: string, fs: FileSystem): Promise<AgeIdentity> {
  const text = await fs.read(file).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`${file}: cannot read the age identity: ${e.code ?? e.message}`);
  });
  if (text === undefined) throw new UserError(`${file}: no such file (the coordinator's age identity; age-keygen -o ${file} makes one)`);
  const keys: { line: number; secret: string }[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!line.startsWith(SECRET_PREFIX)) throw new UserError(`${file}:${i + 1}: not an age identity (want a line AGE-SECRET-KEY-1…, as age-keygen writes)`);
    keys.push({ line: i + 1, secret: line });
  }
  if (keys.length === 0) throw new UserError(`${file}: holds no age identity (want a line AGE-SECRET-KEY-1…, as age-keygen writes)`);
  if (keys.length > 1) throw new UserError(`${file}:${keys[1]!.line}: a second age identity; the coordinator has one`);
  const { line, secret } = keys[0]!;
  try {
    return { file, secret, recipient: await identityToRecipient(secret) };
  } catch (e) {
    throw new UserError(`${file}:${line}: not a valid age identity: ${(e as Error).message}`);
  }
}

/** Why `text` is not an age public key, or undefined when it is one. */
export function recipientProblem(text: string): string | undefined {
  if (!text.startsWith('age1')) return 'not an age public key (want age1…, as age-keygen -y prints)';
  try {
    new Encrypter().addRecipient(text);
    return undefined;
  } catch (e) {
    return `not a valid age public key: ${(e as Error).message}`;
  }
}

/**
 * The recipients of a recipients file: one age public key per line, `#` comments and blank
 * lines allowed. A bad line is a UserError at `file:line`; keys are deduplicated.
 */
export function parseRecipients(text: string, file: string): string[] {
  const keys = new Set<string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const problem = recipientProblem(line);
    if (problem) throw new UserError(`${file}:${i + 1}: "${line.slice(0, 80)}" is ${problem}`);
    keys.add(line);
  }
  return [...keys];
}

/** The bundle encrypted to every recipient, ASCII-armored (a text file in Git). */
export async function encrypt(bundle: StateBundle, recipients: readonly string[]): Promise<string> {
  if (!recipients.length) throw new UserError('the state needs at least one age recipient to be encrypted to');
  const encrypter = new Encrypter();
  for (const r of new Set(recipients)) encrypter.addRecipient(r);
  return armor.encode(await encrypter.encrypt(JSON.stringify(bundle)));
}

/**
 * Decrypts what encrypt made. `what` names the blob in errors (the ref and commit it was read
 * from); a wrong identity and a damaged or forged blob are UserErrors naming the identity file.
 */
export async function decrypt(blob: string, identity: AgeIdentity, what: string): Promise<StateBundle> {
  let data: Uint8Array;
  try {
    data = armor.decode(blob);
  } catch (e) {
    throw new UserError(`${what} is not an ASCII-armored age file: ${(e as Error).message}`);
  }
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity.secret);
  let text: string;
  try {
    text = await decrypter.decrypt(data, 'text');
  } catch (e) {
    const message = (e as Error).message;
    throw new UserError(/no identity matched/.test(message)
      ? `cannot decrypt ${what} with the age identity in ${identity.file} (${identity.recipient}): it is not one of the recipients it was encrypted to`
      : `cannot decrypt ${what} with the age identity in ${identity.file}: ${message}`);
  }
  let bundle: unknown;
  try {
    bundle = JSON.parse(text);
  } catch {
    throw new UserError(`${what} decrypts to something that is not JSON`);
  }
  checkBundle(bundle, what);
  return bundle;
}
