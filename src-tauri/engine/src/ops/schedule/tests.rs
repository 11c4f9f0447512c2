//! Adding, showing and removing schedules against systemd user units in a temporary home (the
//! crontab and the real binary are tested in `src-tauri/cli/tests/schedule.rs`).

use std::sync::Arc;

use super::*;
use crate::base::error::ErrorCode;
use crate::storage::keychain::MemoryKeychain;
use crate::storage::profiles::{AddProfile, PasswordSource, ProfileSettings, SslMode};

async fn setup() -> (tempfile::TempDir, Ctx, Platform) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::for_tests(&dir.path().join("data"), Arc::new(MemoryKeychain::default()));
    for name in ["Prod", "Scratch"] {
        let settings = ProfileSettings {
            name: name.into(),
            host: "db.example.test".into(),
            port: 5432,
            user: "admin".into(),
            maintenance_db: "postgres".into(),
            sslmode: SslMode::Prefer,
            root_cert: None,
            password_source: PasswordSource::Environment,
            allow_cleartext_password: false,
        };
        profiles::add_profile(&ctx, AddProfile { settings, password: None }).await.unwrap();
    }
    let platform = Platform {
        scheduler: Scheduler::Systemd,
        home: dir.path().join("home"),
        config_dir: dir.path().join("home/.config"),
        exe: PathBuf::from("/opt/lifeboat/lifeboat"),
        systemd_manager: false,
    };
    (dir, ctx, platform)
}

fn input(database: &str, days: &str) -> ScheduleInput {
    ScheduleInput {
        profile: "prod".into(),
        database: database.into(),
        days: days.into(),
        time: "2:30".into(),
        ..ScheduleInput::default()
    }
}

#[tokio::test]
async fn the_first_schedule_brings_the_reminder_and_the_last_takes_it_away() {
    let (_dir, ctx, platform) = setup().await;
    let units = platform.unit_dir();
    let shop = add_with(&ctx, &platform, input("Shop", "fri,mon")).await.unwrap();
    assert_eq!(shop.name, "lifeboat-prod-shop");
    assert_eq!((shop.days.as_str(), shop.time.as_str()), ("mon,fri", "02:30"));
    let service = std::fs::read_to_string(units.join("lifeboat-prod-shop.service")).unwrap();
    assert!(
        service.contains("ExecStart=/opt/lifeboat/lifeboat schedule run lifeboat-prod-shop\n"),
        "{service}"
    );
    let home = ctx.data_dir.path().display().to_string();
    assert!(service.contains(&format!("Environment=LIFEBOAT_HOME={home}\n")), "{service}");
    let timer = std::fs::read_to_string(units.join("lifeboat-prod-shop.timer")).unwrap();
    assert!(timer.contains("OnCalendar=Mon,Fri *-*-* 02:30:00\n"), "{timer}");
    let wants = units.join("timers.target.wants");
    assert_eq!(
        std::fs::read_link(wants.join("lifeboat-prod-shop.timer")).unwrap(),
        units.join("lifeboat-prod-shop.timer")
    );
    let remind = std::fs::read_to_string(units.join("lifeboat-remind.service")).unwrap();
    assert!(remind.contains("ExecStart=/opt/lifeboat/lifeboat remind --notify\n"), "{remind}");
    assert!(wants.join("lifeboat-remind.timer").exists());

    let again = add_with(&ctx, &platform, input("shop", "daily")).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::ScheduleExists);
    assert!(again.hint().contains("lifeboat schedule remove lifeboat-prod-shop"));
    add_with(&ctx, &platform, input("crm", "daily")).await.unwrap();

    let shown = show_with(&ctx, &platform, "prod-shop").await.unwrap();
    assert!(shown.installed);
    assert_eq!(shown.entries.len(), 2);
    assert_eq!(shown.entries[0].text, service, "show gives the file as installed");

    remove_with(&ctx, &platform, "lifeboat-prod-shop").await.unwrap();
    assert!(!units.join("lifeboat-prod-shop.service").exists());
    assert!(!wants.join("lifeboat-prod-shop.timer").exists());
    assert!(units.join("lifeboat-remind.timer").exists(), "one schedule is left");
    remove_with(&ctx, &platform, "lifeboat-prod-crm").await.unwrap();
    assert!(!units.join("lifeboat-remind.timer").exists());
    assert!(!wants.join("lifeboat-remind.timer").exists());
    assert!(list(&ctx).await.unwrap().is_empty());
    let gone = remove_with(&ctx, &platform, "lifeboat-prod-crm").await.unwrap_err();
    assert_eq!(gone.code(), ErrorCode::ScheduleNotFound);
}

#[tokio::test]
async fn a_schedule_is_checked_before_anything_is_installed() {
    let (dir, ctx, platform) = setup().await;
    let cases = [
        (
            ScheduleInput { profile: "nobody".into(), ..input("shop", "daily") },
            ErrorCode::ProfileNotFound,
        ),
        (ScheduleInput { time: "25:00".into(), ..input("shop", "daily") }, ErrorCode::InvalidInput),
        (input("shop", "mon,someday"), ErrorCode::InvalidInput),
        (input("", "daily"), ErrorCode::InvalidInput),
        (
            ScheduleInput { drill_target: Some("elsewhere".into()), ..input("shop", "daily") },
            ErrorCode::ProfileNotFound,
        ),
        (
            ScheduleInput {
                keep: Keep { last: Some(0), ..Keep::default() },
                ..input("shop", "daily")
            },
            ErrorCode::InvalidInput,
        ),
    ];
    for (bad, code) in cases {
        let error = add_with(&ctx, &platform, bad).await.unwrap_err();
        assert_eq!(error.code(), code, "{error}");
    }
    assert!(!platform.unit_dir().exists(), "nothing was written");
    let ok = add_with(
        &ctx,
        &platform,
        ScheduleInput {
            drill: DrillPolicy::After,
            drill_target: Some("scratch".into()),
            out_dir: Some(dir.path().join("new/out").display().to_string()),
            ..input("shop", "weekdays")
        },
    )
    .await
    .unwrap();
    assert_eq!(ok.drill_target, "Scratch");
    assert!(Path::new(ok.out_dir.as_deref().unwrap()).is_dir(), "the folder is created");
    let relative = absolute("out", Some("relative/out".into())).unwrap().unwrap();
    assert!(Path::new(&relative).is_absolute(), "a scheduler starts in another folder");
}
