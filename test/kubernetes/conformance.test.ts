// The conformance subset's selection and report reading (test/kubernetes/conformance.ts), without a cluster: the focus
// is matched as ginkgo matches it (a spec's full text, tags included), the report is ginkgo's JSON report's shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFORMANCE_SUBSET, focusOf, specResults, untagged } from './conformance.js';

test('the focus selects exactly the named [Conformance] specs, tags and all, and no namesake without [Conformance]', () => {
  const focus = new RegExp(focusOf(CONFORMANCE_SUBSET));
  assert.ok(focus.test('[sig-network] DNS should provide DNS for the cluster [Conformance]'));
  assert.ok(focus.test('[sig-network] Services should have session affinity work for service with type clusterIP [LinuxOnly] [Conformance]'));
  assert.ok(focus.test('[sig-node] Pods should get a host IP [NodeConformance] [Conformance]'));
  assert.ok(!focus.test('[sig-network] DNS should provide DNS for the cluster [Provider:GCE]'), 'a namesake without [Conformance]');
  assert.ok(!focus.test('[sig-storage] Projected configMap should be consumable from pods in volume [NodeConformance] [Conformance]'));
  assert.ok(!focus.test('[sig-storage] ConfigMap should be consumable from pods in volume with mappings [NodeConformance] [Conformance]'),
    'a longer name sharing the beginning');
  assert.ok(CONFORMANCE_SUBSET.length >= 30);
  assert.equal(new Set(CONFORMANCE_SUBSET).size, CONFORMANCE_SUBSET.length, 'no name twice');
});

test('a report gives each It with its state, untagged name, seconds and failure; other nodes are left out', () => {
  const report = JSON.stringify([{
    SpecReports: [
      { ContainerHierarchyTexts: ['[sig-node] Pods'], LeafNodeText: 'should get a host IP [NodeConformance] [Conformance]', LeafNodeType: 'It',
        State: 'passed', RunTime: 6_400_000_000 },
      { ContainerHierarchyTexts: ['[sig-network] DNS'], LeafNodeText: 'should provide DNS for services [Conformance]', LeafNodeType: 'It',
        State: 'failed', RunTime: 30e9, Failure: { Message: 'dig result did not match', Location: { FileName: 'dns_common.go', LineNumber: 108 } } },
      { ContainerHierarchyTexts: null, LeafNodeText: '', LeafNodeType: 'SynchronizedBeforeSuite', State: 'passed', RunTime: 1e9 },
    ],
  }]);
  assert.deepEqual(specResults(report), [
    { name: '[sig-node] Pods should get a host IP', state: 'passed', seconds: 6 },
    { name: '[sig-network] DNS should provide DNS for services', state: 'failed', seconds: 30, failure: 'dns_common.go:108: dig result did not match' },
  ]);
  assert.equal(untagged('[sig-apps] Deployment deployment should support rollover [Conformance]'), '[sig-apps] Deployment deployment should support rollover');
});
