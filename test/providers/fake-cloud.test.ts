// The conformance suite run against the fake cloud: it proves the suite itself and shows
// what a third-party provider must do.
import { FakeCloud } from './fake-cloud.js';
import { providerConformance } from './conformance.js';

providerConformance('fake-cloud', async () => {
  const cloud = new FakeCloud();
  return { cluster: 'conformance', provider: async () => cloud.provider(), teardown: () => cloud.close() };
});
