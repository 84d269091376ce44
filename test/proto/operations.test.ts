// The operation contract (OPERATIONS in @herd/proto) both sides use: typed values to the
// wire's string maps and back, arguments refused with the field named, the coordinator's
// deadline from the agent's timeout, and a handler on the agent for every kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATION_KINDS } from '@herd/agent';
import {
  decodeArgs, decodeOutputs, encodeArgs, encodeOutputs, isOperationKind, operationDeadlineMs,
  OperationArgumentError, OperationOutputError, OPERATIONS, ROUND_TRIP_MARGIN_MS, type OperationKind,
} from '@herd/proto';

const kinds = Object.keys(OPERATIONS) as OperationKind[];

test('arguments and outputs travel as string maps and come back as they were; etcd members as JSON with string ids', () => {
  const upgrade = { mode: 'node', config: 'kind: UpgradeConfiguration\n' } as const;
  assert.deepEqual(encodeArgs('kubeadm-upgrade', upgrade), upgrade);
  assert.deepEqual(decodeArgs('kubeadm-upgrade', encodeArgs('kubeadm-upgrade', upgrade)), upgrade);
  const members = [{ id: '10276657743932975437', name: 'cp-1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'] }];
  const wire = encodeOutputs('etcd-members', { members });
  assert.equal(typeof wire.members, 'string');
  assert.deepEqual(decodeOutputs('etcd-members', wire), { members });
  assert.deepEqual(decodeOutputs('kubeadm-init', encodeOutputs('kubeadm-init', { kubeconfig: 'apiVersion: v1\n' })), { kubeconfig: 'apiVersion: v1\n' });
  assert.deepEqual(encodeArgs('reboot', {}), {});
});

test('a missing or malformed argument is an OperationArgumentError naming it; missing outputs an OperationOutputError', () => {
  assert.throws(() => decodeArgs('kubeadm-join', {}), (e) => e instanceof OperationArgumentError && /kubeadm-join needs the argument config/.test(e.message));
  assert.throws(() => decodeArgs('kubeadm-upgrade', { mode: 'plan', config: 'x' }), (e) => e instanceof OperationArgumentError && /mode must be "apply" or "node", got "plan"/.test(e.message));
  assert.throws(() => decodeArgs('etcd-member-remove', { name: '' }), OperationArgumentError);
  assert.throws(() => decodeOutputs('kubeadm-init', {}), (e) => e instanceof OperationOutputError && /kubeadm-init needs the output kubeconfig/.test(e.message));
  assert.throws(() => decodeOutputs('etcd-members', { members: '{"not":"a list"}' }), OperationOutputError);
  assert.throws(() => decodeOutputs('etcd-members', {}), OperationOutputError);
});

test("the coordinator waits each kind's agent timeout plus the round trip; the agent has a handler for every kind and no other", () => {
  for (const kind of kinds) {
    assert.ok(OPERATIONS[kind].timeoutMs > 0, kind);
    assert.equal(operationDeadlineMs(kind), OPERATIONS[kind].timeoutMs + ROUND_TRIP_MARGIN_MS, kind);
  }
  assert.equal(OPERATIONS['kubeadm-init'].timeoutMs, 20 * 60_000);
  assert.deepEqual(Object.keys(OPERATION_KINDS).sort(), [...kinds].sort());
  assert.equal(isOperationKind('fly'), false);
  assert.equal(isOperationKind('toString'), false, 'an inherited name is no kind');
});
