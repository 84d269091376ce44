import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidProfileInput, debianVersion, kubeVersion, minorOf } from '@herd/kubeadm';

test('versions as kubeadm, Debian and the upgrade rules spell them', () => {
  assert.equal(kubeVersion('1.34.4'), 'v1.34.4');
  assert.equal(kubeVersion('v1.35.10'), 'v1.35.10');
  assert.equal(debianVersion('v1.34.4'), '1.34.4-1.1');
  assert.equal(debianVersion('1.35.0'), '1.35.0-1.1');
  assert.equal(minorOf('v1.34.4'), 34);
  assert.equal(minorOf('1.35.0'), 35);
});

test('anything but an exact version is refused, naming the text', () => {
  for (const bad of ['1.34', 'v1.34.4-rc.1', 'V1.34.4', ' 1.34.4', 'latest', '']) {
    for (const fn of [kubeVersion, debianVersion, minorOf]) {
      assert.throws(() => fn(bad), (e: unknown) => e instanceof InvalidProfileInput && e.field === 'version' && e.message.includes(`"${bad}"`), `${fn.name}(${bad})`);
    }
  }
});
