//! The drill's steps, each a function over the run state: it announces its stage, does its work
//! and records how it went. A step that finds something wrong with the backup records a failed
//! step; only what keeps the drill from judging the backup is an error.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio_postgres::Client;

use super::compare::compare;
use super::{
    DrillCheck, DrillStep, DrillStepKind, RestoringRole, Run, StandIn, StepStatus, drop_scratch,
};
use crate::base::error::{Error, Result};
use crate::base::progress::ProgressEvent;
use crate::base::tools::Tool;
use crate::format::manifest::Manifest;
use crate::format::read;
use crate::format::selection::Selection;
use crate::ops::practice::{DRILL_USER, PracticeServer, stand_in_candidates};
use crate::ops::restore::{self, FindingCode, RestoreRequest};
use crate::ops::verify::{ReadDepth, Verified, verify_with};
use crate::pg::admin;
use crate::pg::connect::{query_error, server_version};
use crate::pg::runner::{self, ConnTarget, StdoutTo, ToolCommand};
use crate::pg::smoke as pg_smoke;
use crate::storage::profiles::Profile;
use crate::storage::smoke;

impl Run<'_> {
    fn stage(&mut self, kind: DrillStepKind) {
        let index = DrillStepKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u32 + 1;
        self.sink.emit(ProgressEvent::Stage {
            index,
            total: DrillStepKind::ALL.len() as u32,
            name: kind.title().to_owned(),
        });
        self.current = (kind, Instant::now());
    }

    /// Records the step under way.
    fn done(&mut self, status: StepStatus, summary: String) {
        self.done_with(status, summary, Vec::new());
    }

    fn done_with(&mut self, status: StepStatus, summary: String, checks: Vec<DrillCheck>) {
        let (kind, clock) = self.current;
        self.steps.push(DrillStep {
            kind,
            status,
            duration_ms: clock.elapsed().as_millis() as u64,
            summary,
            checks,
        });
    }

    /// Before the restore: the role it runs as, said in the restore's summary, and a warning
    /// when SQL in the backup could reach beyond the scratch database.
    pub(super) fn restoring_role(&mut self, role: Option<&RestoringRole>) {
        if let Some(role) = role {
            if let Some(warning) = &role.warning {
                self.sink.emit(ProgressEvent::Warning { message: warning.clone() });
            }
            self.role_summary = Some(role.summary.clone());
        }
    }

    /// Between steps: a cancel stops the drill there.
    pub(super) fn check_cancel(&self) -> Result<()> {
        if self.cancel.is_cancelled() { Err(Error::Cancelled) } else { Ok(()) }
    }

    /// Step 1, before any server is involved. The backup as read, or None when it is damaged.
    pub(super) async fn integrity(&mut self, schema: Option<&str>) -> Result<Option<Verified>> {
        self.stage(DrillStepKind::Integrity);
        match verify_with(
            self.ctx,
            &self.request.source,
            schema,
            self.request.allow_http,
            ReadDepth::DataReadByRestore,
            self.sink,
            self.cancel,
        )
        .await
        {
            Ok(verified) => {
                self.data_left_to_restore =
                    (!verified.data_read).then(|| (verified.entries, verified.source.clone()));
                self.done(StepStatus::Passed, integrity_text(&verified));
                Ok(Some(verified))
            }
            Err(error) if is_about_the_backup(&error) => {
                self.done(StepStatus::Failed, error.to_string());
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Step 2. Whether the scratch database was restored; a restore that failed on the backup is
    /// a failed step.
    pub(super) async fn restore(
        &mut self,
        profile: &Profile,
        scratch: &str,
        stand_in: Option<StandIn<'_>>,
    ) -> Result<bool> {
        self.stage(DrillStepKind::Restore);
        let on_practice = stand_in.is_some();
        if let Some(stand_in) = stand_in {
            self.stand_in(stand_in).await?;
        }
        let request = RestoreRequest {
            source: self.request.source.clone(),
            profile: profile.settings.name.clone(),
            target_database: Some(scratch.to_owned()),
            selection: Selection {
                // Trimmed as step 1 and the baseline take it, so all three read the same file.
                schemas: self
                    .request
                    .schema
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                ..Selection::default()
            },
            // On the practice server every role the backup names has been stood in for; only
            // reserved names (PUBLIC, pg_…) are missing there, and they are never created. A
            // user's server is left as it is.
            create_roles: false,
            // A stand-in is a plain role: objects that only a superuser may own (event
            // triggers, foreign data wrappers) cannot be given to it, so on the practice server
            // the practice superuser owns everything, as on any server lacking the owners.
            no_owner: on_practice,
            // Step 1 has just hashed every file; a large backup is not read once more for that
            // (nor decompressed before the restore decompresses it: the restore reads it once).
            checksums_verified: true,
            allow_http: self.request.allow_http,
            ..RestoreRequest::default()
        };
        let outcome =
            match restore::restore_on(self.ctx, profile.clone(), request, self.sink, self.cancel)
                .await
            {
                Ok(outcome) => outcome,
                // The practice server's role lacks a right the backup's SQL used: that SQL would
                // have run as a superuser before. Not a verdict on the backup.
                Err(Error::ToolFailed { detail, .. }) if on_practice && refused_rights(&detail) => {
                    return Err(Error::DrillPermissionDenied { role: DRILL_USER.into(), detail });
                }
                Err(error) if is_about_the_backup(&error) => {
                    self.done(StepStatus::Failed, error.to_string());
                    return Ok(false);
                }
                Err(error) => return Err(error),
            };
        self.scratch_created = true;
        self.tool_versions.extend(outcome.tool_versions.iter().cloned());
        if let Some(failure) = self.read_what_the_restore_left(&outcome).await? {
            self.done(StepStatus::Failed, failure);
            return Ok(false);
        }
        let mut summary = format!(
            "Restored {} entries into {scratch} on {} in {:.1} s.",
            outcome.restored_entries,
            profile.settings.name,
            outcome.duration_ms as f64 / 1000.0
        );
        if let Some(role) = &self.role_summary {
            summary.push_str(&format!(" {role}"));
        }
        if !self.stood_in.is_empty() {
            summary.push_str(&format!(
                " Roles the backup names were stood in for: {}.",
                self.stood_in.join(", ")
            ));
        }
        if !outcome.warnings.is_empty() {
            summary.push_str(&format!(" Notes: {}", outcome.warnings.join(" ")));
        }
        self.done(StepStatus::Passed, summary);
        Ok(true)
    }

    /// After a restore that left entries out, when step 1 read only the definitions: the data
    /// of the left-out entries was never read, so the whole backup is read now, keeping the
    /// promise that a drill reads every entry. A failure is a failed restore step.
    async fn read_what_the_restore_left(
        &mut self,
        outcome: &restore::RestoreOutcome,
    ) -> Result<Option<String>> {
        let Some((entries, source)) = self.data_left_to_restore.clone() else { return Ok(None) };
        if outcome.restored_entries >= entries {
            return Ok(None);
        }
        let resolved = std::path::PathBuf::from(source);
        let detected = crate::format::archive::detect(&resolved)?;
        let reader = detected.archive_version.map(|_| self.ctx.tools.newest().clone());
        match read::full_read(&resolved, reader.as_ref(), self.cancel).await {
            Ok(_) => Ok(None),
            Err(error) if is_about_the_backup(&error) => Ok(Some(format!(
                "The restore left {} of {entries} entries out, and reading the whole backup \
                 failed: {error}",
                entries - outcome.restored_entries
            ))),
            Err(error) => Err(error),
        }
    }

    /// Part of step 2 on the practice server: the roles the backup names (the manifest's, and
    /// the owners, grantees, policy roles and user mappings of its entries) that the server
    /// lacks are created as plain NOLOGIN roles, so that the backup restores as it would at
    /// home. The entries' roles come from step 1's full read.
    async fn stand_in(&mut self, stand_in: StandIn<'_>) -> Result<()> {
        let manifest_roles = stand_in.manifest.iter().flat_map(|m| m.roles_referenced.iter());
        let named: BTreeSet<String> =
            manifest_roles.chain(&stand_in.source.roles).cloned().collect();
        let candidates = stand_in_candidates(named);
        self.stood_in = stand_in.server.stand_in_roles(self.ctx, &candidates).await?;
        Ok(())
    }

    /// Step 3; skipped when no manifest describes the backup.
    pub(super) async fn compare(
        &mut self,
        client: &Client,
        manifest: Option<&Manifest>,
    ) -> Result<()> {
        self.stage(DrillStepKind::Compare);
        let Some(manifest) = manifest else {
            self.done(
                StepStatus::Skipped,
                "No Lifeboat manifest describes this backup, so there is no baseline to compare \
                 with."
                    .into(),
            );
            return Ok(());
        };
        let checks = compare(client, manifest).await?;
        let differ: Vec<&DrillCheck> = checks.iter().filter(|c| !c.passed).collect();
        let (status, summary) = if differ.is_empty() {
            (
                StepStatus::Passed,
                format!("All {} checks match the backup's baseline.", checks.len()),
            )
        } else {
            let first: Vec<String> = differ
                .iter()
                .take(3)
                .map(|c| format!("{}: {} instead of {}", c.name, c.actual, c.expected))
                .collect();
            (
                StepStatus::Failed,
                format!(
                    "{} of {} checks differ from the backup's baseline: {}.",
                    differ.len(),
                    checks.len(),
                    first.join("; ")
                ),
            )
        };
        self.done_with(status, summary, checks);
        Ok(())
    }

    /// Step 4, where the server offers amcheck and the profile may install it; on the practice
    /// server the superuser installs it for the drill role, which then runs pg_amcheck (an
    /// index expression it evaluates runs with that role's rights).
    pub(super) async fn amcheck(
        &mut self,
        client: &Client,
        profile: &Profile,
        scratch: &str,
        practice: Option<&PracticeServer>,
    ) -> Result<()> {
        self.stage(DrillStepKind::Amcheck);
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'), \
                 EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'amcheck'), \
                 (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                &[],
            )
            .await
            .map_err(|e| query_error(&e))?;
        let (available, installed, superuser): (bool, bool, bool) =
            (row.get(0), row.get(1), row.get(2));
        let settings = &profile.settings;
        if !available {
            let summary =
                format!("The server \"{}\" does not offer the amcheck extension.", settings.name);
            self.done(StepStatus::Skipped, summary);
        } else if installed || superuser {
            self.run_amcheck(client, profile, scratch, !installed).await?;
        } else if let Some(server) = practice {
            match server.install_amcheck(self.ctx, scratch).await {
                Ok(schema) => {
                    let checked = self.run_amcheck(client, profile, scratch, false).await;
                    let removed = server.remove_amcheck(self.ctx, scratch, &schema).await;
                    checked?;
                    removed?;
                }
                Err(error) => {
                    let summary = format!("amcheck could not be installed: {error}");
                    self.done(StepStatus::Skipped, summary);
                }
            }
        } else {
            // amcheck is not a trusted extension: only a superuser may install it.
            let summary = format!(
                "Installing the amcheck extension needs a superuser, and \"{}\" connects as {}.",
                settings.name, settings.user
            );
            self.done(StepStatus::Skipped, summary);
        }
        Ok(())
    }

    async fn run_amcheck(
        &mut self,
        client: &Client,
        profile: &Profile,
        scratch: &str,
        install: bool,
    ) -> Result<()> {
        let tools = self.ctx.tools.for_restore(server_version(client).await?)?;
        self.tool_versions.push(runner::version_line(tools, Tool::PgAmcheck, self.cancel).await?);
        let install = if install { &["--install-missing"][..] } else { &[] };
        // pg_amcheck reports what it found on its standard output: kept in a file, as the
        // summary of a failed check names it.
        let report = self
            .ctx
            .data_dir
            .path()
            .join(format!("pg_amcheck-{}.txt", uuid::Uuid::new_v4().simple()));
        let command = ToolCommand::new(tools, Tool::PgAmcheck)?
            .args(install.iter().copied())
            .args(["--heapallindexed", "--no-password"])
            .arg(admin::conninfo_dbname(scratch))
            .conn(ConnTarget::for_profile(self.ctx, profile, scratch)?)
            .stdout(StdoutTo::File(report.clone()));
        let result = runner::run(command, self.sink, self.cancel).await;
        let found = amcheck_findings(&report);
        let _ = std::fs::remove_file(&report);
        let (status, summary) = match result {
            Ok(_) => (
                StepStatus::Passed,
                "Every table and B-tree index was read and checked; no corruption.".to_owned(),
            ),
            // pg_amcheck ends with 2 when it found corruption, with 1 when it could not check.
            Err(Error::ToolFailed { exit_code: Some(2), detail, .. }) => (
                StepStatus::Failed,
                format!("pg_amcheck found corruption: {}", found.unwrap_or(detail)),
            ),
            Err(Error::ToolFailed { detail, .. }) => (
                StepStatus::Skipped,
                format!("pg_amcheck could not check the database: {}", found.unwrap_or(detail)),
            ),
            Err(error) => return Err(error),
        };
        self.done(status, summary);
        Ok(())
    }

    /// Step 5: the checks of the request, or those saved for the backup's database.
    pub(super) async fn smoke_checks(
        &mut self,
        client: &Client,
        manifest: Option<&Manifest>,
    ) -> Result<()> {
        self.stage(DrillStepKind::SmokeChecks);
        let checks = match &self.request.smoke_checks {
            Some(checks) => checks.clone(),
            None => match manifest {
                Some(m) => smoke::list(self.ctx, &m.database)?,
                None => Vec::new(),
            },
        };
        if checks.is_empty() {
            self.done(StepStatus::Skipped, "No smoke checks are saved for this database.".into());
            return Ok(());
        }
        let mut results = Vec::new();
        for check in &checks {
            let result = pg_smoke::run(client, check).await;
            results.push(DrillCheck {
                name: format!("{} ({})", check.label, check.sql),
                passed: result.passed,
                expected: check.expect.describe(),
                actual: result.actual,
            });
        }
        let failed = results.iter().filter(|r| !r.passed).count();
        let (status, summary) = match results.iter().find(|r| !r.passed) {
            None if results.len() == 1 => {
                (StepStatus::Passed, "The smoke check passed.".to_owned())
            }
            None => (StepStatus::Passed, format!("All {} smoke checks passed.", results.len())),
            Some(first) => (
                StepStatus::Failed,
                format!(
                    "{failed} of {} smoke checks failed: {} gave {}, expected {}.",
                    results.len(),
                    first.name,
                    first.actual,
                    first.expected
                ),
            ),
        };
        self.done_with(status, summary, results);
        Ok(())
    }

    /// Step 6, whatever came before: the scratch database goes unless it is kept, the practice
    /// server stops. What could not be cleaned up fails the step and says what to do by hand.
    pub(super) async fn cleanup(
        &mut self,
        profile: &Profile,
        scratch: &str,
        keep: bool,
        practice: Option<PracticeServer>,
        target: &str,
    ) {
        self.stage(DrillStepKind::Cleanup);
        let mut said = Vec::new();
        let mut failed = false;
        if self.scratch_created && !keep {
            match drop_scratch(self.ctx, profile, scratch).await {
                Ok(()) => said.push(format!("Dropped the scratch database {scratch}.")),
                Err(error) => {
                    failed = true;
                    said.push(format!(
                        "The scratch database {scratch} could not be dropped ({error}); drop it \
                         by hand."
                    ));
                }
            }
        } else if keep {
            said.push(format!("Kept the scratch database {scratch} on {target}."));
        }
        if let Some(server) = &practice {
            match server.reset_after_drill(self.ctx).await {
                Ok(dropped) if dropped.is_empty() => {}
                Ok(dropped) => said.push(format!(
                    "Dropped the stand-in role{} {}.",
                    if dropped.len() == 1 { "" } else { "s" },
                    dropped.join(", ")
                )),
                Err(error) => {
                    failed = true;
                    said.push(format!(
                        "What the drill left on the practice server (stand-in roles, the drill \
                         role, databases it created) could not be removed ({error}); the practice \
                         server removes it when it next starts."
                    ));
                }
            }
        }
        if let Some(server) = practice {
            match server.stop().await {
                Ok(()) => said.push("Stopped the practice server.".to_owned()),
                Err(error) => {
                    failed = true;
                    said.push(format!("The practice server did not stop: {error}"));
                }
            }
        }
        let status = if failed { StepStatus::Failed } else { StepStatus::Passed };
        self.done(status, said.join(" "));
    }
}

/// Errors that say something about the backup itself (a failed drill), as opposed to errors that
/// keep the drill from running (the server is down, the request is wrong, the archive is newer
/// than the bundled tools can read).
fn is_about_the_backup(error: &Error) -> bool {
    matches!(
        error,
        Error::NotABackup { .. }
            | Error::ManifestInvalid { .. }
            | Error::ChecksumMismatch { .. }
            | Error::BackupFileMissing { .. }
            | Error::ArchiveDamaged { .. }
            | Error::ToolFailed { tool: Tool::PgRestore | Tool::Psql, .. }
    ) || matches!(
        error,
        // Only what the backup itself holds; a full disk or a missing extension on the server
        // restored into says nothing about the backup.
        Error::RestoreBlocked { blockers } if blockers.iter().all(|b| matches!(
            b.code,
            FindingCode::DumpIncomplete | FindingCode::DumpSwitchesDatabase
        ))
    )
}

/// The first lines pg_amcheck reported (its standard output), when it reported any.
fn amcheck_findings(report: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(report).ok()?;
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).take(4).collect();
    let joined = lines.join(" ");
    (!joined.is_empty()).then(|| joined.chars().take(800).collect())
}

/// Whether a restore's error is PostgreSQL refusing a right (a superuser's, a predefined role's,
/// an owner's): on the practice server, where the restore used to run as the superuser, that is
/// the restricted role doing its job.
fn refused_rights(detail: &str) -> bool {
    let detail = detail.to_lowercase();
    ["permission denied", "must be superuser", "must be owner", "only superusers", "superuser"]
        .iter()
        .any(|phrase| detail.contains(phrase))
}

fn integrity_text(v: &Verified) -> String {
    let checksums = match &v.manifest {
        Some(_) => format!(
            "{} file{} match{} the manifest's sha256",
            v.verified_files,
            if v.verified_files == 1 { "" } else { "s" },
            if v.verified_files == 1 { "es" } else { "" }
        ),
        None => "no manifest, so no checksums to compare".to_owned(),
    };
    if v.data_read {
        format!(
            "{checksums}; read completely: {} entries, {} of SQL.",
            v.entries,
            crate::util::size::human_bytes(v.sql_bytes)
        )
    } else {
        format!(
            "{checksums}; definitions read: {} entries; the restore reads every entry's data.",
            v.entries
        )
    }
}
