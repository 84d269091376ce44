export * from "./command.js";
export { Progress } from './progress.js';
