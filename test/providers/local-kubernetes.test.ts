/**
 * The `local` provider's machines as Kubernetes nodes, for real (root): a version prepared
 * from the Kubernetes cache (scripts/build-kubernetes.sh; built first when missing, tens of
 * minutes cold), installed on a provider machine from the provider's own apt source with
 * plain apt and systemctl in the order the agent converges (packages, then files, then
 * units), and the images usable with the node's snapshotter before kubeadm would start
 * anything: so an init never needs to pull. The virtual IP is never a machine's, and a
 * deleted machine leaves no kubelet cgroup subtree on the host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AptRepository } from '@herd/aptrepo';
import { Bridge, Machine } from '@herd/nspawn';
import { ProviderError, QuotaExceededError } from '@herd/provider';
import {
  IMAGES_PACKAGE, LocalProvider, debianRevision, kubeletCgroupRoot, kubernetesCacheDir, localPlatform, prepareKubernetes, versionDebs, type BuildRunner,
} from '@herd/provider-local';
import { createExecutor, createLogger, herdCacheDir, type ExecOptions } from '@herd/sys';

const VERSION = 'v1.34.4';
const CLUSTER = 'k8slocal';
const NODE_PACKAGES = ['containerd', 'runc', 'containernetworking-plugins', 'conntrack', 'iptables', 'ethtool', 'socat', 'ebtables'];
const APT = ['-y', '-q', '-o', 'Dpkg::Use-Pty=0', '--no-install-recommends'];
const LONG: ExecOptions = { timeoutMs: 10 * 60_000, env: { DEBIAN_FRONTEND: 'noninteractive' } };

/** containerd's configuration as the node profile writes it for this platform (packages/kubeadm containerdConfig with the local platform). */
function containerdConfig(pauseImage: string): string {
  return `version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  restrict_oom_score_adj = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        NoNewKeyring = true

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`;
}

interface MachineRecord { name: string; nspawnName: string; host: number }

test('prepare builds a version only when the cache lacks its packages, publishes them once, and says when a build left none', async (t) => {
  const tmp = await fs.mkdtemp(join(tmpdir(), 'herd-prepare-'));
  t.after(() => fs.rm(tmp, { recursive: true, force: true }));
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
    await at(join(version, 'images-deb'), IMAGES_PACKAGE, revision);
    await at('debian', 'containerd', '1.6.20~ds1-1+b1');
  };
  const options = { kubernetesCache: cache, repository: async () => repo, build, logger };

  const progress: string[] = [];
  await prepareKubernetes('1.34.4', options, (line) => progress.push(line));
  assert.deepEqual(builds, ['v1.34.4']);
  assert.ok(progress.includes('building v1.34.4'), progress.join('\n'));
  const packages = await fs.readFile(join(repo.published, 'Packages'), 'utf8');
  for (const p of ['kubeadm', 'kubelet', 'kubectl', IMAGES_PACKAGE, 'containerd']) assert.match(packages, new RegExp(`^Package: ${p}$`, 'm'));
  const indexed = (await fs.stat(join(repo.published, 'Packages'))).mtimeMs;

  await prepareKubernetes('v1.34.4', options);
  assert.deepEqual(builds, ['v1.34.4'], 'the cache has it: no build');
  assert.equal((await fs.stat(join(repo.published, 'Packages'))).mtimeMs, indexed, 'nothing re-published');

  const broken = { ...options, build: async () => {} };
  await assert.rejects(prepareKubernetes('v1.35.4', broken), (e: Error) => e instanceof ProviderError && /finished without the packages/.test(e.message));
  await assert.rejects(prepareKubernetes('latest', options), /not an exact Kubernetes version/);
  assert.equal(versionDebs(cache, 'v1.35.4'), undefined);
});

test('the local platform: cgroupfs on cgroup v1, nothing pulled, per-node cgroup root, images as a package, the kubelet imports before it starts', () => {
  const platform = localPlatform({ imageRefs: () => ['registry.k8s.io/kube-apiserver:v1.34.4', 'registry.k8s.io/pause:3.10.1'], debianVersions: () => ({ containerd: '1.6.20~ds1-1+b1' }) });
  assert.equal(platform.cgroupDriver, 'cgroupfs');
  assert.equal(platform.allowCgroupV1, true);
  assert.equal(platform.imagePullPolicy, 'Never');
  assert.deepEqual(platform.disableAddons, { kubeProxy: true, coreDNS: true });
  assert.deepEqual(platform.containerd, { snapshotter: 'native', restrictOomScoreAdj: true, noNewKeyring: true });
  assert.equal(platform.loadKernelModules, false);
  assert.ok(!Object.keys(platform.ignorePreflightErrors).includes('all'));
  assert.deepEqual(platform.packages('v1.34.4'), [{ name: IMAGES_PACKAGE, version: '1.34.4-1.1', hold: true, allowDowngrade: false }]);
  assert.match(platform.kubeletPatch('node-a') ?? '', /^cgroupRoot: \/herd-node-a$/m);
  const files = new Map(platform.files('node-a').map((f) => [f.path, f]));
  assert.equal(files.get('/usr/local/sbin/herd-cgroup-root')?.mode, 0o755);
  assert.match(files.get('/usr/local/sbin/herd-cgroup-root')?.content ?? '', /mkdir -p "\/sys\/fs\/cgroup\/\$c\/herd-node-a"/);
  const dropIn = files.get('/etc/systemd/system/kubelet.service.d/20-herd-cgroup-root.conf')?.content ?? '';
  // The cgroup root first, then the images, both before the kubelet itself.
  assert.match(dropIn, /ExecStartPre=\/usr\/local\/sbin\/herd-cgroup-root\nExecStartPre=-\/usr\/local\/sbin\/herd-import-images\n/);
  assert.equal(platform.pauseImage?.('v1.34.4'), 'registry.k8s.io/pause:3.10.1');
  assert.deepEqual(platform.debianVersions?.(), { containerd: '1.6.20~ds1-1+b1' });
});

test(`local provider: a machine gets Kubernetes ${VERSION} from the provider alone, images usable before kubeadm starts anything`, { timeout: 4 * 3600_000 }, async (t) => {
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
      await fs.writeFile(join(dir, 'machines', filler, 'machine.json'), JSON.stringify({ name: filler, labels: {}, createdAt: new Date().toISOString(), cluster: CLUSTER, nspawnName: `f${host}`, host }));
    }
    try {
      await assert.rejects(provider.create({ name: `${CLUSTER}-one-more`, labels: {}, shape: {} }), QuotaExceededError);
      assert.equal(existsSync(join(dir, 'machines', `${CLUSTER}-one-more`)), false);
    } finally {
      for (const filler of fillers) await fs.rm(join(dir, 'machines', filler), { recursive: true, force: true });
    }
  });

  await t.test(`prepare(${VERSION}) publishes kubeadm, kubelet, kubectl, the images and the runtime; again, it adds nothing`, async () => {
    const progress: string[] = [];
    await provider.kubernetes.prepare(VERSION, (line) => { progress.push(line); logger.info({ line }, 'prepare'); });
    const published = await fs.readdir(join(dir, 'apt', 'published'));
    const revision = debianRevision(VERSION);
    for (const p of ['kubeadm', 'kubelet', 'kubectl', IMAGES_PACKAGE]) assert.ok(published.includes(`${p}_${revision}_amd64.deb`), `${p} published: ${published.join(' ')}`);
    for (const p of NODE_PACKAGES) assert.ok(published.some((f) => f.startsWith(`${p}_`)), `${p} published`);
    const before = (await fs.stat(join(dir, 'apt', 'published', 'Packages'))).mtimeMs;
    await provider.kubernetes.prepare(VERSION);
    assert.equal((await fs.stat(join(dir, 'apt', 'published', 'Packages'))).mtimeMs, before, 'nothing re-published');
  });

  const platform = provider.kubernetes.platform();
  const imageRefs = readFileSync(join(kubernetesCacheDir(herdCacheDir()), VERSION, 'images', 'images.txt'), 'utf8').split('\n').filter(Boolean);
  const pauseImage = platform.pauseImage?.(VERSION);
  const images = async () => (await run('ctr', ['-n', 'k8s.io', 'images', 'ls', '-q'])).stdout.split('\n').filter((l) => l && !l.startsWith('sha256:'));

  await t.test('installed in the agent\'s order, the images are in containerd, unpacked for the native snapshotter, before the kubelet runs', async () => {
    assert.ok(pauseImage && imageRefs.includes(pauseImage), `the platform knows the pause image: ${pauseImage}`);
    const [source] = await provider.aptSources();
    await fs.writeFile(join(machine.rootfs, 'etc/apt/sources.list.d/herd-local.list'), `${source!.line}\n`);
    await run('apt-get', [...APT, 'update']);
    // Packages first, as the agent does: the images' postinst meets Debian's containerd configuration.
    const revision = debianRevision(VERSION);
    const versions = platform.debianVersions?.() ?? {};
    const packages = [
      ...['kubeadm', 'kubelet', 'kubectl'].map((p) => `${p}=${revision}`),
      ...platform.packages(VERSION).map((p) => `${p.name}=${p.version}`),
      ...NODE_PACKAGES.map((p) => (versions[p] ? `${p}=${versions[p]}` : p)),
    ];
    const install = await run('apt-get', [...APT, 'install', ...packages]);
    logger.info({ output: install.stdout.split('\n').filter((l) => /herd-import-images|kubernetes-images/.test(l)) }, 'install');

    // Then the files: the platform's, and containerd's as the node profile writes it (native snapshotter).
    for (const file of platform.files(name)) {
      await fs.mkdir(join(machine.rootfs, file.path!, '..'), { recursive: true });
      await fs.writeFile(join(machine.rootfs, file.path!), file.content!, { mode: file.mode! });
    }
    await fs.writeFile(join(machine.rootfs, 'etc/containerd/config.toml'), containerdConfig(pauseImage));
    // Then the units: containerd restarts for its new configuration.
    await run('systemctl', ['daemon-reload']);
    await run('systemctl', ['restart', 'containerd']);
    const unpackedForNative = async () => {
      const check = (await run('ctr', ['-n', 'k8s.io', 'images', 'check', '--snapshotter', 'native'])).stdout.split('\n');
      return imageRefs.map((ref) => / complete .*\btrue\s*$/.test(check.find((l) => l.startsWith(`${ref} `)) ?? ''));
    };
    // The trap: what the postinst imported was unpacked for Debian's default snapshotter, not the node's.
    assert.ok((await unpackedForNative()).some((u) => !u), 'the packages alone leave images the native snapshotter lacks');
    // kubeadm starts the kubelet at init and join (it fails without kubeadm's configuration; what comes before it is the point).
    await run('systemctl', ['restart', 'kubelet']);

    const present = await images();
    for (const ref of imageRefs) assert.ok(present.includes(ref), `${ref} in containerd: ${present.join(', ')}`);
    assert.deepEqual(await unpackedForNative(), imageRefs.map(() => true), `every image complete and unpacked for native: ${imageRefs.join(', ')}`);
  });

  await t.test('every image kubeadm lists for this platform\'s configuration is present: an init pulls nothing', async () => {
    const config = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: ${VERSION}
dns:
  disabled: ${platform.disableAddons.coreDNS}
proxy:
  disabled: ${platform.disableAddons.kubeProxy}
`;
    await fs.writeFile(join(machine.rootfs, 'root/cluster.yaml'), config);
    const wanted = (await run('kubeadm', ['config', 'images', 'list', '--config', '/root/cluster.yaml'])).stdout.split('\n').filter(Boolean);
    assert.ok(wanted.length >= 5, `kubeadm lists the control plane's images: ${wanted.join(', ')}`);
    const present = await images();
    for (const ref of wanted) assert.ok(present.includes(ref), `${ref} present`);
  });

  await t.test('the import runs once: a second kubelet start changes nothing', async () => {
    const again = await run('/usr/local/sbin/herd-import-images', []);
    assert.equal(again.stdout, '', 'nothing imported again');
    const markers = await fs.readdir(join(machine.rootfs, 'var/lib/herd/images-imported/native'));
    assert.equal(markers.length, imageRefs.length);
  });

  await t.test('deleting the machine removes its kubelet cgroup subtree from the host', async () => {
    const dirs = await machine.kubeletCgroupDirs();
    assert.ok(dirs.length > 0 && dirs.every((d) => d.endsWith(kubeletCgroupRoot(name))), dirs.join(', '));
    assert.ok(dirs.some((d) => existsSync(d)), `herd-cgroup-root made the subtree: ${dirs.join(', ')}`);
    await provider.delete(name);
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed`);
    assert.deepEqual(await provider.list({}), []);
  });
});
