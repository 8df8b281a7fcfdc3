// Notifications (SPEC §5): kept per user in an inbox and pushed live to that user only; the store
// owns the inbox (store/notifications.ts). A notification is written by the same commit as the
// change that caused it.
export { notificationWrites, type NotificationDraft } from './store/notifications.js';
