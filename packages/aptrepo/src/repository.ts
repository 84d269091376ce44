import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { createExecutor, silentLogger, type Executor, type Logger } from '@herd/sys';
import { buildDeb, type DebSpec } from './deb.js';

export interface AptRepositoryOptions {
  /** The repository's working directory (created if missing): `published/` is served, `build/` is not. */
  dir: string;
  exec?: Executor;
  logger?: Logger;
}

/**
 * A flat apt repository (`deb [trusted=yes] http://HOST:PORT ./`): .debs in one directory,
 * indexed with `dpkg-scanpackages -m` so every version of a package is installable (without
 * -m only the newest is listed), and a Release file apt accepts for a trusted source.
 */
export class AptRepository {
  private server: Server | undefined;
  private indexing: Promise<unknown> = Promise.resolve();
  private url: string | undefined;
  private readonly exec: Executor;
  private readonly logger: Logger;

  /** The served directory: the .debs and their index, flat. */
  readonly published: string;
  private readonly build: string;

  private constructor(dir: string, options: AptRepositoryOptions) {
    // Apart, because dpkg-scanpackages indexes every .deb below the directory it scans.
    this.published = join(dir, 'published');
    this.build = join(dir, 'build');
    this.logger = options.logger ?? silentLogger();
    this.exec = options.exec ?? createExecutor({ logger: this.logger });
  }

  static async create(options: AptRepositoryOptions): Promise<AptRepository> {
    const repo = new AptRepository(options.dir, options);
    await fs.mkdir(repo.published, { recursive: true });
    await fs.mkdir(repo.build, { recursive: true });
    await repo.index();
    return repo;
  }

  /** Builds a test package (see DebSpec); `add` it to publish it. */
  buildPackage(spec: DebSpec): Promise<string> {
    return buildDeb(spec, this.build, this.exec);
  }

  /** Copies .debs into the repository and re-indexes it. */
  async add(...debs: string[]): Promise<void> {
    for (const deb of debs) await fs.copyFile(deb, join(this.published, basename(deb)));
    await this.index();
  }

  /** Rewrites Packages and Release from the .debs present; each file replaced atomically. */
  index(): Promise<void> {
    // One at a time: concurrent adds would otherwise share the temporary files.
    const next = this.indexing.then(() => this.writeIndex());
    this.indexing = next.catch(() => undefined);
    return next;
  }

  private async writeIndex(): Promise<void> {
    const scan = await this.exec.run('dpkg-scanpackages', ['-m', '.', '/dev/null'], { cwd: this.published });
    const packages = scan.stdout;
    const sha256 = createHash('sha256').update(packages).digest('hex');
    const release = [
      `Date: ${new Date().toUTCString()}`,
      'SHA256:',
      ` ${sha256} ${Buffer.byteLength(packages)} Packages`,
      '',
    ].join('\n');
    await this.replace('Packages', packages);
    await this.replace('Release', release);
  }

  private async replace(name: string, content: string): Promise<void> {
    const temp = join(this.published, `.${name}.tmp`);
    await fs.writeFile(temp, content);
    await fs.rename(temp, join(this.published, name));
  }

  /**
   * Serves the repository over HTTP on `host` (the bridge's host address, so machines reach
   * it), on a free port. Only top-level files are served, never anything outside `published`.
   */
  async serve(host: string): Promise<string> {
    if (this.url) return this.url;
    const server = createServer((req, res) => {
      const name = basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const path = join(this.published, name);
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !name || name.startsWith('.')) {
        res.writeHead(404).end();
        return;
      }
      fs.stat(path).then(
        (stat) => {
          if (!stat.isFile()) { res.writeHead(404).end(); return; }
          res.writeHead(200, { 'content-length': stat.size, 'content-type': 'application/octet-stream' });
          if (req.method === 'HEAD') res.end();
          else createReadStream(path).pipe(res);
        },
        () => { res.writeHead(404).end(); },
      );
      this.logger.debug({ method: req.method, path: req.url }, 'apt repository request');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('apt repository server has no TCP address');
    this.server = server;
    this.url = `http://${host}:${address.port}`;
    return this.url;
  }

  /** The line for /etc/apt/sources.list.d on a machine. */
  get sourceLine(): string {
    if (!this.url) throw new Error('the apt repository is not being served; call serve() first');
    return `deb [trusted=yes] ${this.url} ./`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.url = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // apt keeps connections alive; close() alone would wait for them
    await closed;
  }
}
