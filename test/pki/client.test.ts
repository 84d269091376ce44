// @herd/pki/client's CSR is written by hand in DER: checked by OpenSSL and by the CA's own parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { checkCsr, createCA, identityOf, isIssuedBy, signClientCsr } from '@herd/pki';
import { createCsr } from '@herd/pki/client';

for (const name of ['box-1', 'n'.repeat(63), 'ü'.repeat(100)]) {
  test(`a CSR for a ${name.length}-character name: OpenSSL verifies its signature; the CA parses and signs it for its key`, async () => {
    const { csrPem, keyPem } = await createCsr(name);
    const openssl = spawnSync('openssl', ['req', '-noout', '-verify', '-subject', '-nameopt', 'utf8'], { input: csrPem, encoding: 'utf8' });
    assert.equal(openssl.status, 0, openssl.stderr);
    assert.match(openssl.stdout, new RegExp(`subject=CN ?= ?${name}\\n`));
    const parsed = await checkCsr(csrPem);
    assert.equal(parsed.subject, `CN=${name}`);
    if (name === 'box-1') {
      const ca = await createCA();
      const cert = await signClientCsr(ca, csrPem, { role: 'node', node: 'box-1', cluster: 'c1' });
      assert.ok(isIssuedBy(cert, ca.certPem));
      assert.deepEqual(identityOf(cert), { role: 'node', node: 'box-1', cluster: 'c1' });
      assert.ok(createPublicKey(cert).equals(createPublicKey(createPrivateKey(keyPem))), 'the certificate is for the CSR key');
    }
  });
}
