import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  CA_HASH_PATTERN, caHash, certHosts, checkCsr, createCA, createCsr, identityFromSubject, identityOf, isIssuedBy,
  issueClientCert, issueServerCert, signClientCsr, CertificateError,
} from '@herd/pki';

test('the CA hash is sha256 of the SubjectPublicKeyInfo, the same as openssl computes it (kubeadm format)', async () => {
  const ca = await createCA();
  const hash = caHash(ca.certPem);
  assert.match(hash, CA_HASH_PATTERN);
  const spki = execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: ca.certPem });
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: spki });
  assert.equal(hash, `sha256:${createHash('sha256').update(der).digest('hex')}`);
  const cert = new X509Certificate(ca.certPem);
  assert.ok(cert.ca);
});

test('server certificates carry every host name and IP; client certificates carry node and cluster', async () => {
  const ca = await createCA();
  const server = await issueServerCert(ca, ['10.0.0.1', 'coordinator.example', '::1']);
  assert.deepEqual(certHosts(server.certPem), ['10.0.0.1', 'coordinator.example', '0:0:0:0:0:0:0:1']);
  assert.ok(new X509Certificate(server.certPem).checkIP('10.0.0.1'));
  assert.ok(isIssuedBy(server.certPem, ca.certPem));
  const client = await issueClientCert(ca, { role: 'node', node: 'web-1', cluster: 'prod-eu' });
  assert.deepEqual(identityOf(client.certPem), { role: 'node', node: 'web-1', cluster: 'prod-eu' });
  const admin = await issueClientCert(ca, { role: 'admin', name: 'admin' });
  assert.deepEqual(identityOf(admin.certPem), { role: 'admin', name: 'admin' });
});

test('the CA decides the subject: a CSR asking for another name gets the identity the CA gives', async () => {
  const ca = await createCA();
  const { csrPem } = await createCsr('admin');
  const cert = await signClientCsr(ca, csrPem, { role: 'node', node: 'web-2', cluster: 'c' });
  assert.deepEqual(identityOf(cert), { role: 'node', node: 'web-2', cluster: 'c' });
});

test('bad CSRs and names are refused', async () => {
  const ca = await createCA();
  await assert.rejects(checkCsr('not a csr'), CertificateError);
  const { csrPem } = await createCsr('x');
  // Flip one byte of the signature: the CSR no longer proves its key.
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 3]! ^= 0xff;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(checkCsr(tampered), CertificateError);
  await assert.rejects(signClientCsr(ca, csrPem, { role: 'node', node: 'Bad_Name', cluster: 'c' }), /not a valid name/);
});

test('a certificate is issued by its CA only, and only while it is valid', async () => {
  const ca = await createCA();
  const other = await createCA();
  const client = await issueClientCert(ca, { role: 'node', node: 'n', cluster: 'c' }, { days: 1 });
  assert.ok(isIssuedBy(client.certPem, ca.certPem));
  assert.ok(!isIssuedBy(client.certPem, other.certPem));
  assert.ok(!isIssuedBy(client.certPem, ca.certPem, Date.now() + 2 * 86_400_000));
});

test('subjects herd did not write carry no identity', () => {
  assert.equal(identityFromSubject({ CN: 'x' }), undefined);
  assert.equal(identityFromSubject({ CN: 'x', O: 'herd:node' }), undefined, 'a node needs its cluster');
  assert.equal(identityFromSubject({ CN: 'x', O: 'herd:root', OU: 'c' }), undefined);
  assert.equal(identityFromSubject({ CN: ['a', 'b'], O: 'herd:admin' }), undefined);
});
