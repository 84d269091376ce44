// The checks a flag parser needs without the X.509 library: @herd/pki/names loads nothing
// else, so the agent validates its flags without holding the certificate code it only
// needs on the first run (enrollment).

/** Names that go into a subject unescaped: DNS labels, as node and cluster names are. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** The form of a CA pin (caHash's output). */
export const CA_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
