// Plumbing for the txbox packages (no semver promise): @txbox/testing delivers through it.
export { type DirectOutcome, deliverDirect } from './direct-delivery/direct-delivery.js';
