export {
  startSidecar,
  type Sidecar,
  type SidecarOptions,
  type ListenerAddress,
} from './start-sidecar.js';
export { Readiness } from './readiness.js';
