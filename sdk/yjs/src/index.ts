export { HeraldProvider } from "./provider.js";
export type { HeraldProviderEvents, HeraldProviderOptions, HeraldProviderStatus } from "./provider.js";
