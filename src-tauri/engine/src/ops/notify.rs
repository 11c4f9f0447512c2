//! Desktop notifications for the watch's items (`notify-rust`: the freedesktop Notifications
//! service over D-Bus on Linux, the notification centres on macOS and Windows). Each item is
//! notified at most once a day ([`crate::ops::watch::notified`]); where no notification service
//! is reachable the result says so, and the app shows the items on its next start.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::ops::watch::{Attention, Severity, notified};
use crate::storage::context::Ctx;

/// How long one notification may take to reach the service before it counts as unreachable.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The application name notifications carry.
pub const APP_NAME: &str = "Lifeboat";

#[derive(Debug, Clone, Default, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NotifySummary {
    /// Keys of the items notified now.
    pub sent: Vec<String>,
    /// Keys of the items left out because they were notified within the last day.
    pub already_notified: Vec<String>,
}

/// What a notification shows for an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// "Lifeboat: shop needs a test".
    pub summary: String,
    pub body: String,
    /// The action's identifier: the item's action kind (`test_backup`, …).
    pub action_id: String,
    pub action_label: String,
    pub critical: bool,
}

pub fn message(item: &Attention) -> Message {
    Message {
        summary: format!("{APP_NAME}: {}", item.title),
        body: item.message.clone(),
        action_id: item.action.kind.as_str().to_owned(),
        action_label: item.action.label.clone(),
        critical: item.severity == Severity::Critical,
    }
}

/// Splits `items` into those due now and those notified within the last day, by the times in
/// `last` (item key → when it was last notified) and the clock `now`.
pub fn choose<'a>(
    items: &'a [Attention],
    last: &std::collections::HashMap<String, DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
) -> (Vec<&'a Attention>, Vec<&'a Attention>) {
    let mut due = Vec::new();
    let mut quiet = Vec::new();
    for item in items {
        let seen = |list: &[&Attention]| list.iter().any(|d| d.key == item.key);
        if seen(&due) || seen(&quiet) {
            continue; // the same key twice in one list is one notification
        }
        if notified::due(last.get(&item.key).copied(), now) {
            due.push(item);
        } else {
            quiet.push(item);
        }
    }
    (due, quiet)
}

/// What a click on a notification's action runs, with the item the notification was about.
pub type OnAction = std::sync::Arc<dyn Fn(&Attention) + Send + Sync>;

/// Sends a notification for each item not notified within the last day and records it.
/// `Error::NotificationsUnavailable` when no notification service answers (no session bus, no
/// daemon, or no answer within [`SEND_TIMEOUT`]); nothing is recorded then.
pub async fn send(
    ctx: &Ctx,
    items: &[Attention],
    now: DateTime<FixedOffset>,
) -> Result<NotifySummary> {
    send_inner(ctx, items, now, None).await
}

/// [`send`], and a click on a notification's action calls `on_action` with its item (from a
/// thread that waits while the notification stays up; on the freedesktop service of Linux and
/// the BSDs: elsewhere a notification carries no click callback). The desktop app uses it to
/// open the wizard that fixes the item.
pub async fn send_with_actions(
    ctx: &Ctx,
    items: &[Attention],
    now: DateTime<FixedOffset>,
    on_action: OnAction,
) -> Result<NotifySummary> {
    send_inner(ctx, items, now, Some(on_action)).await
}

async fn send_inner(
    ctx: &Ctx,
    items: &[Attention],
    now: DateTime<FixedOffset>,
    on_action: Option<OnAction>,
) -> Result<NotifySummary> {
    let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let last = notified::load(ctx, &keys)?;
    let (due, quiet) = choose(items, &last, now);
    let mut summary = NotifySummary {
        sent: Vec::new(),
        already_notified: quiet.iter().map(|i| i.key.clone()).collect(),
    };
    for item in due {
        let then = on_action.clone().map(|callback| (item.clone(), callback));
        show_then(message(item), then).await?;
        notified::mark(ctx, &item.key, now)?;
        summary.sent.push(item.key.clone());
    }
    Ok(summary)
}

/// Shows one notification. The platform call blocks (and on a bus without a daemon may wait
/// for D-Bus activation), so it runs on its own thread, given up after [`SEND_TIMEOUT`].
pub async fn show(message: Message) -> Result<()> {
    show_then(message, None).await
}

/// [`show`]; with `then`, the thread stays to wait for a click on the action.
async fn show_then(message: Message, then: Option<(Attention, OnAction)>) -> Result<()> {
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("lifeboat-notify".to_owned())
        .spawn(move || match show_blocking(&message) {
            Ok(handle) => {
                let _ = done.send(Ok(()));
                if let Some((item, on_action)) = then {
                    wait_for_click(handle, &message.action_id, &item, &on_action);
                }
            }
            Err(detail) => {
                let _ = done.send(Err(detail));
            }
        })
        .map_err(|e| unavailable(e.to_string()))?;
    match tokio::time::timeout(SEND_TIMEOUT, outcome).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(detail))) => Err(unavailable(detail)),
        Ok(Err(_)) => Err(unavailable("the notification thread stopped".to_owned())),
        Err(_) => Err(unavailable(format!("no answer within {} seconds", SEND_TIMEOUT.as_secs()))),
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn wait_for_click(
    handle: notify_rust::NotificationHandle,
    action_id: &str,
    item: &Attention,
    on_action: &OnAction,
) {
    // The action, or a click on the notification itself ("default"), opens the fix.
    handle.wait_for_action(|clicked| {
        if clicked == action_id || clicked == "default" {
            on_action(item);
        }
    });
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn wait_for_click(
    _handle: notify_rust::NotificationHandle,
    _action_id: &str,
    _item: &Attention,
    _on_action: &OnAction,
) {
}

fn unavailable(detail: String) -> Error {
    Error::NotificationsUnavailable { detail }
}

fn show_blocking(
    message: &Message,
) -> std::result::Result<notify_rust::NotificationHandle, String> {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname(APP_NAME)
        .summary(&message.summary)
        .body(&message.body)
        .action(&message.action_id, &message.action_label);
    #[cfg(all(unix, not(target_os = "macos")))]
    if message.critical {
        notification.urgency(notify_rust::Urgency::Critical);
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = message.critical;
    notification.show().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ops::watch::{Action, ActionKind, AttentionCode, DatabaseRef};

    fn item(key: &str) -> Attention {
        Attention {
            severity: Severity::Warning,
            code: AttentionCode::UntestedBackup,
            database: DatabaseRef {
                profile: "prod".into(),
                host: "h".into(),
                port: 5432,
                database: "shop".into(),
            },
            title: "shop needs a test".into(),
            message: "The newest backup of shop has never been tested.".into(),
            action: Action {
                kind: ActionKind::TestBackup,
                label: "Test this backup".into(),
                manifest_path: Some("/b/shop.lifeboat.json".into()),
                schedule: None,
            },
            key: key.into(),
        }
    }

    #[test]
    fn the_same_item_is_not_notified_twice_within_a_day() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00+01:00").unwrap();
        let items = [item("a"), item("b"), item("c"), item("a")];
        let last = HashMap::from([
            ("a".to_owned(), now - chrono::Duration::hours(23)),
            ("b".to_owned(), now - chrono::Duration::hours(25)),
        ]);
        let (due, quiet) = choose(&items, &last, now);
        let keys = |list: &[&Attention]| list.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&due), ["b", "c"]);
        assert_eq!(keys(&quiet), ["a"]);
    }

    #[test]
    fn a_notification_carries_the_title_message_and_action() {
        let shown = message(&item("a"));
        assert_eq!(shown.summary, "Lifeboat: shop needs a test");
        assert_eq!(shown.action_id, "test_backup");
        assert_eq!(shown.action_label, "Test this backup");
        assert!(!shown.critical);
    }
}
