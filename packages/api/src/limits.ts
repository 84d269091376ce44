/**
 * Every bound herd puts on a repository, in one place. A commit can come from anyone who can
 * push, and the coordinator validates each one it sees: these keep one hostile or broken
 * commit to a located error within a second and a few megabytes, never a stall.
 * docs/repository-format.md ("Limits") lists them for operators.
 */
export const LIMITS = {
  /** Bytes of one cluster or profile file (1000 static machines with host keys fit; parsing one this big takes about half a second of CPU). */
  fileBytes: 256 * 1024,
  /** Bytes of every spec file together: bounds a whole commit to a few seconds of CPU. */
  repositoryBytes: 2 * 1024 * 1024,
  /** Entries (files, folders, links) below clusters/ and profiles/. */
  repositoryEntries: 2000,
  /** Folder levels below clusters/ and profiles/. */
  folderDepth: 16,
  /** YAML alias uses (`*name`) in one file; each may expand to at most this many nodes in all. */
  yamlAliases: 100,
  /** Nesting of mappings and lists in one file (block or flow). */
  nestingDepth: 32,
  /** YAML nodes (keys, values, list items) in one file. */
  yamlNodes: 20_000,
  /** Errors reported per file; the rest are counted in one last line. */
  errorsPerFile: 20,
  /** Worker pools of one cluster. */
  poolsPerCluster: 50,
  /** Machines of one cluster (control plane and every pool), for any provider; a provider may hold fewer. */
  machinesPerCluster: 1000,
  /** Characters of a value from the repository quoted in a message. */
  quotedChars: 60,
  /** Characters of one message. */
  messageChars: 500,
} as const;
