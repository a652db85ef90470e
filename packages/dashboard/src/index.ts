// The public surface of @txbox/dashboard: the request handler and its options. Everything it
// shows or does goes through the admin API of @txbox/outbox and @txbox/inbox.

export {
  type DashboardAuthorize,
  type DashboardOptions,
  dashboardOptionsSchema,
} from './options/dashboard-options.js';
export {
  createDashboard,
  type DashboardHandler,
  type DashboardRequest,
} from './server/create-dashboard.js';
export { CONTENT_SECURITY_POLICY } from './server/security.js';
