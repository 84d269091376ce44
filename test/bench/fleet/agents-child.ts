// Simulated agents, many per process: each has its own key and certificate signed by the
// coordinator's CA (enrollment is skipped to keep set-up short; it is tested elsewhere), its
// own TLS connection and stream, a Hello, heartbeats, and an ack for every assignment.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { issueClientCert } from '@herd/pki';
import { herdProto, PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage__Output } from '@herd/proto';

const [address, stateDir, first, count, heartbeatMs] = process.argv.slice(2) as [string, string, string, string, string];
const ca = { certPem: await readFile(join(stateDir, 'ca.crt'), 'utf8'), keyPem: await readFile(join(stateDir, 'ca.key'), 'utf8') };
const AgentSession = herdProto().herd.v1.AgentSession;
const streams: ClientDuplexStream<AgentMessage, CoordinatorMessage__Output>[] = [];
let errors = 0;

async function startAgent(i: number) {
  const node = `sim-${i}`;
  const cert = await issueClientCert(ca, { role: 'node', node, cluster: 'bench' });
  // A local subchannel pool: every simulated agent gets its own connection, as separate machines would.
  const client = new AgentSession(address, credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.certPem)),
    { 'grpc.use_local_subchannel_pool': 1 });
  const stream = client.Connect();
  streams.push(stream);
  let observed = 0;
  stream.on('data', (m: CoordinatorMessage__Output) => {
    if (m.assignment) {
      observed = m.assignment.generation;
      stream.write({ ack: { generation: observed } });
    }
  });
  stream.on('error', () => { errors++; });
  stream.write({ hello: { protocolVersion: PROTOCOL_VERSION, nodeName: node, agentVersion: 'bench', heldGeneration: 0, facts: { hostname: node, cpus: 2 } } });
  // Heartbeats at a random phase, as a real fleet's are.
  setTimeout(() => {
    stream.write({ heartbeat: { observedGeneration: observed } });
    setInterval(() => stream.write({ heartbeat: { observedGeneration: observed } }), Number(heartbeatMs));
  }, Math.random() * Number(heartbeatMs));
}

const start = Number(first);
const end = start + Number(count);
const BATCH = 50;
for (let i = start; i < end; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, end - i) }, (_, k) => startAgent(i + k)));
}
process.send!({ type: 'started', count: streams.length, rss: process.memoryUsage().rss });
setInterval(() => process.send!({ type: 'errors', errors }), 5000);
