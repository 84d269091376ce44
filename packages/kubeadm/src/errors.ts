/**
 * Input this package cannot turn into a valid configuration: which field, and what is
 * wrong with it. A caller (the coordinator) matches on the class and shows the message.
 */
export class InvalidProfileInput extends Error {
  override readonly name = 'InvalidProfileInput';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}
