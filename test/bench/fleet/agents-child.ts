// Simulated agents, many per process: each has its own key and certificate signed by the
// coordinator's CA (enrollment is skipped to keep set-up short; it is tested elsewhere), its
// own TLS connection and stream, a Hello, heartbeats, an ack for every assignment, and the
// real agent's reconnect with backoff.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { backoffDelay } from '@herd/sys';
import { issueClientCert } from '@herd/pki';
import { herdProto, PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage__Output } from '@herd/proto';

const [address, stateDir, first, count, heartbeatMs] = process.argv.slice(2) as [string, string, string, string, string];
const ca = { certPem: await readFile(join(stateDir, 'ca.crt'), 'utf8'), keyPem: await readFile(join(stateDir, 'ca.key'), 'utf8') };
const AgentSession = herdProto().herd.v1.AgentSession;
const streams = new Set<ClientDuplexStream<AgentMessage, CoordinatorMessage__Output>>();
let errors = 0;

async function startAgent(i: number) {
  const node = `sim-${i}`;
  const cert = await issueClientCert(ca, { role: 'node', node, cluster: 'bench' });
  const creds = credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.certPem));
  let observed = 0;
  let attempt = 0;
  let heartbeat: NodeJS.Timeout | undefined;
  // As the real agent (packages/agent): a stream that ends or fails is opened again on a new
  // channel after the agent's jittered backoff, so a connection refused or dropped while the
  // coordinator is busy is retried instead of lost for the rest of the run.
  const connect = () => {
    // A local subchannel pool: every simulated agent gets its own connection, as separate machines would.
    const client = new AgentSession(address, creds, { 'grpc.use_local_subchannel_pool': 1 });
    const stream = client.Connect();
    streams.add(stream);
    let ended = false;
    const retry = () => {
      if (ended) return;
      ended = true;
      streams.delete(stream);
      clearTimeout(heartbeat);
      client.close();
      errors++;
      setTimeout(connect, backoffDelay(attempt++));
    };
    stream.on('data', (m: CoordinatorMessage__Output) => {
      if (m.assignment) {
        observed = m.assignment.generation;
        stream.write({ ack: { generation: observed } });
      }
    });
    stream.on('error', retry);
    stream.on('end', retry);
    stream.write({ hello: { protocolVersion: PROTOCOL_VERSION, nodeName: node, agentVersion: 'bench', heldGeneration: 0, facts: { hostname: node, cpus: 2 } } });
    // Heartbeats at a random phase, as a real fleet's are; a stream that heartbeats is healthy (the backoff starts over).
    const beat = () => {
      stream.write({ heartbeat: { observedGeneration: observed } });
      attempt = 0;
      heartbeat = setTimeout(beat, Number(heartbeatMs));
    };
    heartbeat = setTimeout(beat, Math.random() * Number(heartbeatMs));
  };
  connect();
}

const start = Number(first);
const end = start + Number(count);
const BATCH = 50;
for (let i = start; i < end; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, end - i) }, (_, k) => startAgent(i + k)));
}
process.send!({ type: 'started', count: streams.size, rss: process.memoryUsage().rss });
setInterval(() => process.send!({ type: 'errors', errors }), 5000);
