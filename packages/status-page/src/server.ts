/**
 * The status page's HTTP server: the page's files, GET /state (the fleet view as JSON) and
 * GET /events (the view again whenever it changes, as server-sent events). Read-only: it has
 * no route that changes anything. The view's routes need the bearer token; the files hold no
 * data and load without it, so a browser can open the page and send the token itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { FleetView } from '@herd/reconciler';
import type { Logger } from '@herd/sys';
import { loadAssets } from './assets.js';
import { event, Subscribers } from './subscribers.js';
import { bearerMatches } from './token.js';

export interface StatusPageOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  token: string;
  /** The fleet as it is now; called at most once per `throttleMs` while anyone watches. */
  view(): FleetView;
  logger: Logger;
  /** Least time between two pushes of a changed view. Default 500 ms. */
  throttleMs?: number;
  /** Open /events streams at most; one more is answered 503. Default 16. */
  maxSubscribers?: number;
  /** A comment line this often keeps idle streams open through proxies and finds dead ones. Default 15 s. */
  keepaliveMs?: number;
}

export interface StatusPage {
  port: number;
  /** The page's address, without the token. */
  url: string;
  /** The fleet may have changed: push the view to subscribers (throttled, and only if it differs). */
  changed(): void;
  /** Ends every stream and stops listening. */
  close(): Promise<void>;
}

/** Every response: nothing from elsewhere, no framing, no referrer, never cached. */
const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export async function serveStatusPage(options: StatusPageOptions): Promise<StatusPage | undefined> {
  const { logger, token } = options;
  const throttleMs = options.throttleMs ?? 500;
  const assets = loadAssets();
  const subscribers = new Subscribers(options.maxSubscribers ?? 16);
  let sequence = 0;
  let lastSent = '';
  let lastPush = 0;
  let timer: NodeJS.Timeout | undefined;

  /** The view as JSON; undefined (logged) when it cannot be made, so a bad value never reaches a client as a stack trace. */
  const snapshot = (): string | undefined => {
    try {
      return JSON.stringify(options.view());
    } catch (error) {
      logger.error({ err: error }, 'cannot make the status page view');
      return undefined;
    }
  };
  const push = () => {
    timer = undefined;
    lastPush = Date.now();
    if (!subscribers.size) return;
    const json = snapshot();
    if (json === undefined || json === lastSent) return;
    lastSent = json;
    subscribers.broadcast(event('snapshot', ++sequence, json));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET') { res.writeHead(405, { ...HEADERS, allow: 'GET' }).end(); return; }
    const asset = assets.get(path);
    if (asset) { res.writeHead(200, { ...HEADERS, 'content-type': asset.type }).end(asset.body); return; }
    if (path !== '/state' && path !== '/events') { res.writeHead(404, HEADERS).end(); return; }
    if (!bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { ...HEADERS, 'www-authenticate': 'Bearer realm="herd status"', 'content-type': 'text/plain' }).end('a valid bearer token is required\n');
      return;
    }
    const json = snapshot();
    if (json === undefined) { res.writeHead(500, { ...HEADERS, 'content-type': 'text/plain' }).end('cannot make the view; the coordinator log says why\n'); return; }
    if (path === '/state') { res.writeHead(200, { ...HEADERS, 'content-type': 'application/json' }).end(json); return; }
    if (!subscribers.add(res)) {
      res.writeHead(503, { ...HEADERS, 'retry-after': '10', 'content-type': 'text/plain' }).end('too many status page subscribers\n');
      return;
    }
    res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    // Every subscriber starts from the whole view; later events are the view again when it
    // changed. A view newer than the last pushed goes to everyone, so that all compare from it.
    if (json === lastSent) subscribers.send(res, event('snapshot', sequence, json));
    else { lastSent = json; subscribers.broadcast(event('snapshot', ++sequence, json)); }
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      logger.error({ err: error }, 'status page request failed');
      if (!res.headersSent) res.writeHead(500, HEADERS);
      res.end();
    }
  });
  // A malformed request gets 400 and a closed socket, never a crash.
  server.on('clientError', (_error, socket) => { socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(options.port, options.host, resolve); });
  } catch (error) {
    logger.warn({ err: error, host: options.host, port: options.port }, 'cannot serve the status page; going on without it');
    return undefined;
  }
  const keepalive = setInterval(() => subscribers.broadcast(': keepalive\n\n'), options.keepaliveMs ?? 15_000);
  keepalive.unref();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/`;
  if (!isLoopback(options.host)) {
    logger.warn({ host: options.host, port }, 'the status page is served beyond this machine over plain HTTP: its token and the fleet\'s state cross the network unencrypted');
  }
  return {
    port,
    url,
    changed() {
      if (timer) return;
      timer = setTimeout(push, Math.max(0, lastPush + throttleMs - Date.now()));
    },
    close: () => new Promise<void>((resolve) => {
      clearTimeout(timer);
      clearInterval(keepalive);
      subscribers.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
