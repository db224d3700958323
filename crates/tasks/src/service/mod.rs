//! The writes and reads behind the routes, each with its side effects (activity, sync
//! counter, reminders, webhook events) in the same transaction.

pub mod activity;
pub mod bulk;
pub mod comments;
pub mod filters;
pub mod labels;
pub mod members;
pub mod projects;
pub mod reminders;
pub mod tasks;
