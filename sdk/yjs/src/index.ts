export { HeraldYjsProvider } from "./provider.js";
export type { HeraldYjsProviderEvents, HeraldYjsProviderOptions, HeraldYjsProviderStatus } from "./provider.js";
// The old names (deprecated, kept for one release).
export { HeraldProvider } from "./provider.js";
export type { HeraldProviderEvents, HeraldProviderOptions, HeraldProviderStatus } from "./provider.js";
