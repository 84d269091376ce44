// Opens /events with the bearer token and renders every snapshot it sends; reconnects when
// the stream ends. EventSource cannot send a header, so the stream is read through fetch.
import { render } from './render.js';

const fleet = document.getElementById('fleet');
const connection = document.getElementById('connection');

function setConnection(text, cls) {
  connection.textContent = text;
  connection.className = `badge ${cls}`;
}

/** The token comes in the address's fragment (never sent to a server) and is kept for this tab only. */
function readToken() {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem('herd-status-token', match[1]);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem('herd-status-token');
}

function show(view) {
  fleet.innerHTML = render(view);
}

function message(text) {
  const p = document.createElement('p');
  p.className = 'notice';
  p.textContent = text;
  fleet.replaceChildren(p);
}

/** Parses server-sent-event text as it arrives: calls `onEvent(name, data)` per complete event. */
function parser(onEvent) {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  };
}

async function follow(token) {
  const response = await fetch('/events', { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (response.status === 401) {
    sessionStorage.removeItem('herd-status-token');
    return 'refused';
  }
  if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
  setConnection('live', 'ok');
  const feed = parser((name, data) => { if (name === 'snapshot') show(JSON.parse(data)); });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'ended';
    feed(value);
  }
}

async function main() {
  const token = readToken();
  if (!token) {
    setConnection('no token', 'bad');
    message('Open this page with the address the coordinator gave, ending in #token=… (the token is in status-page.token in its state directory).');
    return;
  }
  for (;;) {
    const outcome = await follow(token).catch(() => 'failed');
    if (outcome === 'refused') {
      setConnection('token refused', 'bad');
      message('The coordinator refused this token: it makes a new one each time it starts. Open the page again with the token in status-page.token.');
      return;
    }
    setConnection('reconnecting', 'warn');
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

main();
