export { serveStatusPage, isLoopback, type StatusPage, type StatusPageOptions } from './server.js';
export { TOKEN_FILE, newToken, writeTokenFile, bearerMatches } from './token.js';
