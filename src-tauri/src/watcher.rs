//! The watch while the app runs: a check at start and every hour, a desktop notification for
//! each new item (the engine's `notify`, at most once a day per item), and a click on a
//! notification's action brings the window to the front and asks the UI to open the fix.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifeboat_engine::ErrorPayload;
use lifeboat_engine::ops::notify::{self, OnAction};
use lifeboat_engine::ops::watch::{self, Attention, WatchRequest};
use serde::Serialize;
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::state::AppState;

/// How often the running app looks again.
const CHECK_EVERY: Duration = Duration::from_secs(60 * 60);

/// What the last check in the background found, for a window that opens after it.
#[derive(Debug, Clone, Default, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct WatchStatus {
    /// When the last check ran (RFC 3339); none before the first.
    pub checked_at: Option<String>,
    /// Keys of the items notified by the last check.
    pub notified: Vec<String>,
    /// Why the last check could not run, or could not show notifications (no notification
    /// service: the items show in the app only).
    pub problem: Option<ErrorPayload>,
}

/// Sent after each background check: lists of items should reload.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct AttentionChecked {
    pub status: WatchStatus,
}

/// Sent when the user clicked a notification's action: open the wizard that fixes `item`.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct OpenFix {
    pub item: Attention,
}

/// The background watch's state (managed by the app).
#[derive(Default)]
pub struct Watcher {
    status: Mutex<WatchStatus>,
}

impl Watcher {
    pub fn status(&self) -> WatchStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, status: WatchStatus) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }
}

/// Starts the hourly check; the first runs now.
pub fn start(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut every_hour = tokio::time::interval(CHECK_EVERY);
        every_hour.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every_hour.tick().await;
            let status = check(&app).await;
            app.state::<Watcher>().set(status.clone());
            let _ = AttentionChecked { status }.emit(&app);
        }
    });
}

async fn check(app: &AppHandle) -> WatchStatus {
    let state = app.state::<AppState>();
    let failed = |problem| WatchStatus { problem: Some(problem), ..WatchStatus::default() };
    let ctx = match state.ctx() {
        Ok(ctx) => ctx,
        Err(problem) => return failed(problem),
    };
    let report = match watch::watch(ctx, WatchRequest::default()).await {
        Ok(report) => report,
        Err(error) => return failed(error.payload()),
    };
    let now = watch::parse_checked_at(&report.checked_at);
    let handle = app.clone();
    let on_action: OnAction = Arc::new(move |item: &Attention| open_fix(&handle, item));
    let sent = notify::send_with_actions(ctx, &report.items, now, on_action).await;
    let checked_at = Some(report.checked_at);
    match sent {
        Ok(summary) => WatchStatus { checked_at, notified: summary.sent, problem: None },
        Err(error) => {
            WatchStatus { checked_at, notified: Vec::new(), problem: Some(error.payload()) }
        }
    }
}

/// Brings the window to the front and asks it to open the fix for `item`.
fn open_fix(app: &AppHandle, item: &Attention) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    let _ = OpenFix { item: item.clone() }.emit(app);
}
