// Imported first by main.ts: oidc-provider warns on import and on start that it runs on
// Node 20 and keeps its state in memory — both expected of this development stack, and
// noise in front of a new user's first command. Every other warning still prints.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING')) return;
  warn(...args);
};
