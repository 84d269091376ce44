/**
 * The `local` provider's machines as Kubernetes nodes, for real (root): a version prepared
 * from the Kubernetes cache (scripts/build-kubernetes.sh; built first when missing, tens of
 * minutes cold), its packages installed on a provider machine from the provider's own apt
 * source with plain apt and systemctl in the order the agent converges (packages, then the
 * node profile's files, then units), and its images pulled by kubeadm through containerd's
 * mirror configuration from the provider's registry on the bridge, unpacked for the node's
 * snapshotter. The virtual IP is never a machine's, and a deleted machine leaves no kubelet
 * cgroup subtree on the host; the last machine's removal takes the registry with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AptRepository } from '@herd/aptrepo';
import { ImageRegistry, freePort, mirrorPath } from '@herd/image-registry';
import { nodeParts, requiredDebianPackages } from '@herd/kubeadm';
import { Bridge, Machine } from '@herd/nspawn';
import { ProviderError, QuotaExceededError } from '@herd/provider';
import {
  LocalProvider, MIRRORED_REGISTRIES, debianRevision, kubeletCgroupRoot, kubernetesCacheDir, localPlatform, prepareKubernetes, versionDebs, buildRecipe, builtRecipe, type BuildRunner,
} from '@herd/provider-local';
import { createExecutor, createLogger, herdCacheDir, processAlive, type ExecOptions } from '@herd/sys';

const VERSION = 'v1.34.4';
const CLUSTER = 'k8slocal';
const NODE_PACKAGES = ['containerd', 'runc', 'containernetworking-plugins', 'conntrack', 'iptables', 'ethtool', 'socat', 'ebtables'];
const APT = ['-y', '-q', '-o', 'Dpkg::Use-Pty=0', '--no-install-recommends'];
const LONG: ExecOptions = { timeoutMs: 10 * 60_000, env: { DEBIAN_FRONTEND: 'noninteractive' } };

const OCI_IMAGE = fileURLToPath(new URL('../../scripts/kubernetes/oci-image.mjs', import.meta.url));

interface MachineRecord { name: string; nspawnName: string; host: number }

test('prepare builds a version only when the cache lacks it or an older build script made it, publishes and pushes once, and says when a build left none', async (t) => {
  const tmp = await fs.mkdtemp(join(tmpdir(), 'herd-prepare-'));
  const registry = await ImageRegistry.start({ dir: join(tmp, 'registry'), host: '127.0.0.1', port: await freePort('127.0.0.1') });
  t.after(async () => { await registry.stop(); await fs.rm(tmp, { recursive: true, force: true }); });
  const exec = createExecutor();
  const repo = await AptRepository.create({ dir: join(tmp, 'repo'), exec });
  const cache = join(tmp, 'kubernetes');
  const logger = createLogger({ name: 'prepare-test', level: 'warn' });
  const builds: string[] = [];
  // Stands in for scripts/build-kubernetes.sh: the packages it leaves, at their paths.
  const build: BuildRunner = async (version, progress) => {
    builds.push(version);
    progress(`building ${version}`);
    const revision = debianRevision(version);
    const at = async (sub: string, name: string, version_: string) => {
      await fs.mkdir(join(cache, sub), { recursive: true });
      const deb = await repo.buildPackage({ name, version: version_, architecture: 'amd64' });
      await fs.rename(deb, join(cache, sub, basename(deb)));
    };
    for (const p of ['kubeadm', 'kubelet', 'kubectl']) await at(join(version, 'debs'), p, revision);
    await at('debian', 'containerd', '1.6.20~ds1-1+b1');
    // Two images, as the images step writes them (one OCI archive each, images.txt).
    const images = join(cache, version, 'images');
    await fs.mkdir(images, { recursive: true });
    const refs = [`registry.k8s.io/kube-apiserver:${version}`, 'registry.k8s.io/pause:3.10.1'];
    for (const ref of refs) {
      const name = ref.slice(ref.indexOf('/') + 1, ref.indexOf(':'));
      await fs.writeFile(join(images, `${name}.bin`), `${name} ${version}`);
      execFileSync('node', [OCI_IMAGE, '--ref', ref, '--file', `${join(images, `${name}.bin`)}:/usr/local/bin/${name}`, '--out', join(images, `${name}.tar`)]);
    }
    await fs.writeFile(join(images, 'images.txt'), `${refs.join('\n')}\n`);
    await fs.writeFile(join(cache, version, '.recipe'), options.recipe);
  };
  const options = { kubernetesCache: cache, repository: async () => repo, registry: async () => registry, build, recipe: buildRecipe(), logger };

  const progress: string[] = [];
  const first = await prepareKubernetes('1.34.4', options, (line) => progress.push(line));
  assert.deepEqual(builds, ['v1.34.4']);
  assert.ok(progress.includes('building v1.34.4'), progress.join('\n'));
  const packages = await fs.readFile(join(repo.published, 'Packages'), 'utf8');
  for (const p of ['kubeadm', 'kubelet', 'kubectl', 'containerd']) assert.match(packages, new RegExp(`^Package: ${p}$`, 'm'));
  assert.deepEqual(first.images.map((i) => [i.target, i.pushed]), [
    [`${registry.address}/kube-apiserver:v1.34.4`, true], [`${registry.address}/pause:3.10.1`, true],
  ]);
  assert.equal(await registry.manifestDigest('kube-apiserver:v1.34.4'), first.images[0]!.digest);
  const indexed = (await fs.stat(join(repo.published, 'Packages'))).mtimeMs;

  const second = await prepareKubernetes('v1.34.4', options);
  assert.deepEqual(builds, ['v1.34.4'], 'the cache has it: no build');
  assert.equal((await fs.stat(join(repo.published, 'Packages'))).mtimeMs, indexed, 'nothing re-published');
  assert.deepEqual(second.images.map((i) => i.pushed), [false, false], 'nothing pushed again');

  // Built by an older build script: built again (the script redoes only what changed).
  assert.match(options.recipe, /^[0-9a-f]{64}  build-kubernetes\.sh\n(.*\n)*[0-9a-f]{64}  kubernetes\/oci-image\.mjs\n/);
  await fs.writeFile(join(cache, 'v1.34.4', '.recipe'), 'an older script\n');
  await prepareKubernetes('v1.34.4', options);
  assert.deepEqual(builds, ['v1.34.4', 'v1.34.4'], 'an older recipe: built again');
  assert.equal(builtRecipe(cache, 'v1.34.4'), options.recipe);
  // A build that records no recipe would run every time: refused, by the file it left out.
  const forgetful = { ...options, build: async (version: string, progress: (line: string) => void) => {
    await build(version, progress);
    await fs.rm(join(cache, version, '.recipe'));
  } };
  await fs.rm(join(cache, 'v1.34.4', '.recipe'));
  await assert.rejects(prepareKubernetes('v1.34.4', forgetful), (e: Error) => e instanceof ProviderError && /without recording .*\.recipe/.test(e.message));
  await prepareKubernetes('v1.34.4', options);

  // An image listed without its archive is refused, by name.
  await fs.rm(join(cache, 'v1.34.4', 'images', 'pause.tar'));
  await assert.rejects(prepareKubernetes('v1.34.4', options),
    (e: Error) => e instanceof ProviderError && e.message.includes('no OCI archive for registry.k8s.io/pause:3.10.1'));

  const broken = { ...options, build: async () => {} };
  await assert.rejects(prepareKubernetes('v1.35.4', broken), (e: Error) => e instanceof ProviderError && /finished without the packages/.test(e.message));
  await assert.rejects(prepareKubernetes('latest', options), /not an exact Kubernetes version/);
  assert.equal(versionDebs(cache, 'v1.35.4'), undefined);
});

test('the local platform: cgroupfs on cgroup v1, per-node cgroup root, images pulled through the provider\'s registry once it serves', () => {
  let registry: string | undefined;
  const artifacts = {
    imageRefs: () => ['registry.k8s.io/kube-apiserver:v1.34.4', 'registry.k8s.io/pause:3.10.1'],
    debianVersions: () => ({ containerd: '1.6.20~ds1-1+b1' }),
  };
  const platform = localPlatform(artifacts, () => registry);
  assert.equal(platform.cgroupDriver, 'cgroupfs');
  assert.equal(platform.allowCgroupV1, true);
  assert.equal(platform.imagePullPolicy, 'IfNotPresent');
  assert.equal(platform.registryMirror?.(), undefined, 'no registry yet');
  registry = '10.213.9.1:40001';
  assert.deepEqual(platform.registryMirror?.(), { endpoint: 'http://10.213.9.1:40001', registries: ['registry.k8s.io', 'docker.io', 'quay.io', 'ghcr.io'] });
  assert.equal(platform.conntrackMaxPerCore, 0, 'kube-proxy leaves the host\'s nf_conntrack_max alone');
  assert.deepEqual(platform.containerd, { snapshotter: 'native', restrictOomScoreAdj: true, noNewKeyring: true });
  assert.equal(platform.loadKernelModules, false);
  assert.ok(!Object.keys(platform.ignorePreflightErrors).includes('all'));
  assert.deepEqual(platform.packages('v1.34.4'), [], 'no images package: the registry serves them');
  assert.match(platform.kubeletPatch('node-a') ?? '', /^cgroupRoot: \/herd-node-a$/m);
  assert.match(platform.kubeletPatch('node-a') ?? '', /^evictionHard:\n  memory\.available: 100Mi\n  nodefs\.available: 1Gi\n/m, 'absolute disk floors: the disk is the host\'s');
  const files = new Map(platform.files('node-a').map((f) => [f.path, f]));
  assert.equal(files.get('/usr/local/sbin/herd-cgroup-root')?.mode, 0o755);
  assert.match(files.get('/usr/local/sbin/herd-cgroup-root')?.content ?? '', /mkdir -p "\/sys\/fs\/cgroup\/\$c\/herd-node-a"/);
  const dropIn = files.get('/etc/systemd/system/kubelet.service.d/20-herd-cgroup-root.conf')?.content ?? '';
  assert.match(dropIn, /^ExecStartPre=\/usr\/local\/sbin\/herd-cgroup-root$/m);
  assert.doesNotMatch(dropIn, /import/, 'nothing imported before the kubelet starts');
  assert.equal(platform.pauseImage?.('v1.34.4'), 'registry.k8s.io/pause:3.10.1');
  assert.deepEqual(platform.debianVersions?.(), { containerd: '1.6.20~ds1-1+b1' });
});

const machineTest = `local provider: a machine gets Kubernetes ${VERSION} from the provider alone, its images pulled from the provider's registry`;
test(machineTest, { timeout: 4 * 3600_000 }, async (t) => {
  const logger = createLogger({ name: 'local-kubernetes-test', level: process.env.HERD_LOG_LEVEL ?? 'warn' });
  const dir = await fs.mkdtemp(join(tmpdir(), 'herd-local-kubernetes-'));
  const provider = new LocalProvider({ dir, cluster: CLUSTER, logger });
  t.after(async () => {
    for (const m of await provider.list({})) await provider.delete(m.name);
    await provider.close();
    // A failure before any machine existed leaves the cluster's bridge: released here.
    const network = join(dir, 'networks', `${CLUSTER}.json`);
    if (existsSync(network)) {
      const { index } = JSON.parse(readFileSync(network, 'utf8')) as { index: number };
      await (await Bridge.persistent(`${dir}:${CLUSTER}`, { index })).release();
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  const name = provider.newMachineName(CLUSTER, 'control-plane', new Set());
  const made = await provider.create({ name, labels: { 'herd.dev/cluster': CLUSTER }, shape: {} });
  const record = JSON.parse(readFileSync(join(dir, 'machines', name, 'machine.json'), 'utf8')) as MachineRecord;
  // The provider's own machine, entered the way the provider does (nsenter into its systemd).
  const { index } = JSON.parse(readFileSync(join(dir, 'networks', `${CLUSTER}.json`), 'utf8')) as { index: number };
  const bridge = await Bridge.persistent(`${dir}:${CLUSTER}`, { index });
  const machine = await Machine.attach({
    name: record.nspawnName, image: '', dir: join(dir, 'machines', name), bridge, host: record.host,
    kubernetesNode: true, kubeletCgroupRoot: kubeletCgroupRoot(name), logger,
  });
  assert.ok(machine?.running, 'the provider machine runs');
  const run = (command: string, args: string[]) => machine.exec.run(command, args, LONG);

  await t.test('the virtual IP is on the machines\' network, and never a machine\'s address', async () => {
    const vip = await provider.kubernetes.virtualAddress();
    assert.equal(vip, bridge.address(254));
    assert.notEqual(made.addresses[0], vip);
    assert.equal(await provider.kubernetes.virtualAddress(), vip, 'stable');
    assert.equal(provider.kubernetes.interface, 'host0');
    assert.match((await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'host0'])).stdout, new RegExp(` ${made.addresses[0]!.replaceAll('.', '\\.')}/24 `));
    // Every other address taken (records only: nothing boots): the next machine is refused, not given .254.
    const fillers: string[] = [];
    for (let host = 2; host < 254; host++) {
      if (host === record.host) continue;
      const filler = `${CLUSTER}-filler-${host}`;
      fillers.push(filler);
      await fs.mkdir(join(dir, 'machines', filler), { recursive: true });
      await fs.writeFile(join(dir, 'machines', filler, 'machine.json'), JSON.stringify({ name: filler, labels: {},
        createdAt: new Date().toISOString(), cluster: CLUSTER, nspawnName: `f${host}`, host }));
    }
    try {
      await assert.rejects(provider.create({ name: `${CLUSTER}-one-more`, labels: {}, shape: {} }), QuotaExceededError);
      assert.equal(existsSync(join(dir, 'machines', `${CLUSTER}-one-more`)), false);
    } finally {
      for (const filler of fillers) await fs.rm(join(dir, 'machines', filler), { recursive: true, force: true });
    }
  });

  const imageRefs = readFileSync(join(kubernetesCacheDir(herdCacheDir()), VERSION, 'images', 'images.txt'), 'utf8').split('\n').filter(Boolean);

  await t.test(`prepare(${VERSION}) publishes kubeadm, kubelet, kubectl and the runtime, pushes the images; again, it adds nothing`, async () => {
    const progress: string[] = [];
    await provider.kubernetes.prepare(VERSION, (line) => { progress.push(line); logger.info({ line }, 'prepare'); });
    const published = await fs.readdir(join(dir, 'apt', 'published'));
    const revision = debianRevision(VERSION);
    for (const p of ['kubeadm', 'kubelet', 'kubectl']) assert.ok(published.includes(`${p}_${revision}_amd64.deb`), `${p} published: ${published.join(' ')}`);
    for (const p of NODE_PACKAGES) assert.ok(published.some((f) => f.startsWith(`${p}_`)), `${p} published`);
    const registry = await provider.imageRegistry();
    const record = JSON.parse(readFileSync(join(dir, 'registry', CLUSTER, 'registry.json'), 'utf8')) as { address: string; url: string };
    assert.equal(record.address, registry.address, 'recorded where a user finds it');
    assert.ok(registry.address.startsWith(`${bridge.hostAddress}:`), `on the bridge: ${registry.address}`);
    for (const ref of imageRefs) assert.ok(await registry.manifestDigest(mirrorPath(ref)), `${ref} in the registry`);
    const before = (await fs.stat(join(dir, 'apt', 'published', 'Packages'))).mtimeMs;
    await provider.kubernetes.prepare(VERSION);
    assert.equal((await fs.stat(join(dir, 'apt', 'published', 'Packages'))).mtimeMs, before, 'nothing re-published');
  });

  const platform = provider.kubernetes.platform();
  const pauseImage = platform.pauseImage?.(VERSION);
  const images = async () => (await run('ctr', ['-n', 'k8s.io', 'images', 'ls', '-q'])).stdout.split('\n').filter((l) => l && !l.startsWith('sha256:'));
  const unpackedForNative = async (refs: string[]) => {
    const check = (await run('ctr', ['-n', 'k8s.io', 'images', 'check', '--snapshotter', 'native'])).stdout.split('\n');
    return refs.map((ref) => / complete .*\btrue\s*$/.test(check.find((l) => l.startsWith(`${ref} `)) ?? ''));
  };

  await t.test('installed in the agent\'s order with the profile\'s files, kubeadm pulls each image it lists through the mirror, for native', async () => {
    assert.ok(pauseImage && imageRefs.includes(pauseImage), `the platform knows the pause image: ${pauseImage}`);
    const [source] = await provider.aptSources();
    await fs.writeFile(join(machine.rootfs, 'etc/apt/sources.list.d/herd-local.list'), `${source!.line}\n`);
    await run('apt-get', [...APT, 'update']);
    const revision = debianRevision(VERSION);
    const versions = platform.debianVersions?.() ?? {};
    const packages = [
      ...['kubeadm', 'kubelet', 'kubectl'].map((p) => `${p}=${revision}`),
      ...platform.packages(VERSION).map((p) => `${p.name}=${p.version}`),
      ...NODE_PACKAGES.map((p) => (versions[p] ? `${p}=${versions[p]}` : p)),
    ];
    await run('apt-get', [...APT, 'install', ...packages]);

    // Then the files, exactly as the node profile makes them for this platform (containerd's, its registry hosts, the platform's).
    const parts = nodeParts({
      role: 'control-plane', node: name, address: made.addresses[0]!, version: VERSION, platform, pauseImage, podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12',
      debianPackages: Object.fromEntries(requiredDebianPackages({ role: 'control-plane' }).map((p) => [p, versions[p] ?? 'any'])),
    });
    for (const host of MIRRORED_REGISTRIES) assert.ok(parts.files.some((f) => f.path === `/etc/containerd/certs.d/${host}/hosts.toml`), `${host} mirrored`);
    for (const file of parts.files) {
      await fs.mkdir(join(machine.rootfs, file.path!, '..'), { recursive: true });
      await fs.writeFile(join(machine.rootfs, file.path!), file.content!, { mode: file.mode! });
    }
    // Then the units: containerd restarts for its new configuration.
    await run('systemctl', ['daemon-reload']);
    await run('systemctl', ['restart', 'containerd']);
    assert.deepEqual(await images(), [], 'nothing preloaded');
    // kubeadm starts the kubelet at init and join (it fails without kubeadm's configuration;
    // the drop-in's herd-cgroup-root before it is the point, the last subtest checks its subtree).
    await run('systemctl', ['restart', 'kubelet']);

    // What kubeadm's preflight does at init and join with imagePullPolicy IfNotPresent: pull through the CRI.
    const config = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: ${VERSION}
`;
    await fs.writeFile(join(machine.rootfs, 'root/cluster.yaml'), config);
    const wanted = (await run('kubeadm', ['config', 'images', 'list', '--config', '/root/cluster.yaml'])).stdout.split('\n').filter(Boolean);
    assert.ok(wanted.some((r) => /\/kube-proxy:/.test(r)) && wanted.some((r) => /\/coredns:/.test(r)),
      `kubeadm lists its add-ons' images: ${wanted.join(', ')}`);
    await run('kubeadm', ['config', 'images', 'pull', '--config', '/root/cluster.yaml']);
    const present = await images();
    for (const ref of wanted) assert.ok(present.includes(ref), `${ref} pulled: ${present.join(', ')}`);
    assert.deepEqual(await unpackedForNative(wanted), wanted.map(() => true), `every image complete and unpacked for native: ${wanted.join(', ')}`);
  });

  await t.test('a user\'s own image, pushed with skopeo as docs/providers.md says, is pulled by its docker.io name and the registry\'s', async () => {
    const registry = await provider.imageRegistry();
    const work = await fs.mkdtemp(join(tmpdir(), 'herd-user-image-'));
    try {
      const bin = join(kubernetesCacheDir(herdCacheDir()), VERSION, 'bin', 'pause');
      const archive = join(work, 'hello.tar');
      execFileSync('node', [OCI_IMAGE, '--ref', 'herd-test/hello:v1', '--file', `${bin}:/hello`, '--entrypoint', '/hello', '--out', archive]);
      execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${registry.address}/herd-test/hello:v1`]);
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
    for (const ref of ['docker.io/herd-test/hello:v1', `${registry.address}/herd-test/hello:v1`]) {
      await run('ctr', ['-n', 'k8s.io', 'images', 'pull', '--hosts-dir', '/etc/containerd/certs.d', '--snapshotter', 'native', ref]);
      assert.ok((await images()).includes(ref), `${ref} pulled`);
    }
  });

  await t.test('deleting the machine removes its kubelet cgroup subtree from the host', async () => {
    const dirs = await machine.kubeletCgroupDirs();
    assert.ok(dirs.length > 0 && dirs.every((d) => d.endsWith(kubeletCgroupRoot(name))), dirs.join(', '));
    assert.ok(dirs.some((d) => existsSync(d)), `herd-cgroup-root made the subtree: ${dirs.join(', ')}`);
    const registryPid = Number(readFileSync(join(dir, 'registry', CLUSTER, 'registry.pid'), 'utf8'));
    await provider.delete(name);
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed`);
    assert.deepEqual(await provider.list({}), []);
    assert.equal(processAlive(registryPid), false, 'the last machine\'s removal stops the cluster\'s registry');
    assert.equal(existsSync(join(dir, 'registry', CLUSTER)), false, 'and removes its storage');
  });
});
