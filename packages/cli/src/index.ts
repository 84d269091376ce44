export * from "./command.js";
