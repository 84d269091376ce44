import type { ServerResponse } from 'node:http';

/** A subscriber further behind than this is dropped: a stalled browser must not make the coordinator buffer without end. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * The open `/events` streams: at most `max` at once, each sent every event as
 * server-sent-event text, all ended on close.
 */
export class Subscribers {
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.open.size;
  }

  /** Takes `res` as a subscriber; false when `max` are open already (the caller answers 503). */
  add(res: ServerResponse): boolean {
    if (this.open.size >= this.max) return false;
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    return true;
  }

  send(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      res.destroy();
      this.open.delete(res);
      return;
    }
    res.write(text);
  }

  broadcast(text: string): void {
    for (const res of this.open) this.send(res, text);
  }

  close(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}

/** One server-sent event; `data` holds no newline (JSON.stringify never writes one). */
export function event(name: string, id: number, data: string): string {
  return `event: ${name}\nid: ${id}\ndata: ${data}\n\n`;
}
