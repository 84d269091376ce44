// Started by cleanup.test.ts as its own process: boots a world, reports what it made, then
// waits to be interrupted. The world is never destroyed here: the signal handlers must.
import { TestWorld } from './index.js';

const world = await TestWorld.start(undefined, { machines: 1 });
const [machine] = world.machines;
process.stdout.write(`${JSON.stringify({ bridge: world.bridge.name, dir: world.dir, rootfs: machine!.rootfs, leader: machine!.leader })}\n`);
setInterval(() => {}, 1000);
