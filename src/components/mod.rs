//! Presentational pieces: they take props and render; pages own data and actions.

pub mod badges;
pub mod charts;
pub mod chrome;
pub mod dialog;
pub mod installations;
pub mod lifecycle_dialogs;
pub mod logs;
pub mod onboarding;
