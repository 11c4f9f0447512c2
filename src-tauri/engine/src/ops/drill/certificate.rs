//! The proof a drill keeps: its certificate (JSON and a page that reads offline) beside the
//! backup, and its row in the catalog.

use std::path::{Path, PathBuf};

use rusqlite::params;

use super::{DrillReport, DrillStep, StepStatus};
use crate::base::error::{Error, Result};
use crate::format::manifest::MANIFEST_SUFFIX;
use crate::storage::context::Ctx;
use crate::util::private_fs;
use crate::util::redact::redact_urls;

/// Writes the certificate (JSON and HTML) next to the backup; when that folder is not writable,
/// into `certificates/` in the data folder.
pub(super) fn write_certificate(ctx: &Ctx, report: &mut DrillReport) -> Result<()> {
    // An address's password is kept in no certificate and no catalog row.
    report.source = redact_urls(&report.source);
    report.failure = report.failure.as_deref().map(redact_urls);
    let source = PathBuf::from(&report.source);
    let stem = match &report.manifest {
        Some(manifest) => Path::new(manifest)
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(MANIFEST_SUFFIX).to_owned()),
        None => source.file_name().map(|n| n.to_string_lossy().into_owned()),
    }
    .unwrap_or_else(|| "backup".to_owned());
    let at = chrono::DateTime::parse_from_rfc3339(&report.started_at)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_default();
    let name = format!("{stem}.drill-{at}");
    // A backup on a web server has no folder here: its certificate goes to the data folder
    // (never to a folder named after the address, relative to wherever Lifeboat was started).
    let beside = match &report.manifest {
        Some(manifest) => Path::new(manifest).parent().map(Path::to_path_buf),
        None if crate::format::remote::is_remote(&report.source) => None,
        None => source.parent().map(Path::to_path_buf),
    };
    let fallback = ctx.data_dir.path().join("certificates");
    let mut refused = None;
    // Drills of one backup in the same second (the files of a one-file-per-schema backup)
    // take the next free name: `…-2`, `…-3`.
    let names = std::iter::once(name.clone()).chain((2..=20).map(|n| format!("{name}-{n}")));
    let names: Vec<String> = names.collect();
    for (folder, own) in beside.map(|f| (f, false)).into_iter().chain([(fallback, true)]) {
        for name in &names {
            let html = folder.join(format!("{name}.html"));
            let json = folder.join(format!("{name}.json"));
            report.certificate_html = Some(html.display().to_string());
            report.certificate_json = Some(json.display().to_string());
            match write_pair(&folder, own, &json, &html, report) {
                Ok(()) => return Ok(()),
                // Something at the name (a certificate, a file or a link someone put there):
                // the next name, then the data folder; this error kept should all fail.
                Err(error @ Error::UnsafePath { .. }) => refused = refused.or(Some(error)),
                Err(_) => break,
            }
        }
    }
    report.certificate_html = None;
    report.certificate_json = None;
    Err(refused.unwrap_or_else(|| Error::Io {
        action: "Writing the restore certificate",
        path: ctx.data_dir.path().join("certificates"),
        source: std::io::Error::other(
            "neither the backup's folder nor the data folder is writable",
        ),
    }))
}

/// Writes the certificate's two files, each created new and owner-only (never through a link
/// or over a file already there). `own`: the folder is Lifeboat's, made owner-only; the
/// backup's folder is only created when missing.
fn write_pair(
    folder: &Path,
    own: bool,
    json: &Path,
    html: &Path,
    report: &DrillReport,
) -> Result<()> {
    let action = "Writing the restore certificate";
    let made = if own {
        private_fs::ensure_private_dir(folder)
    } else {
        private_fs::create_private_dirs(folder)
    };
    made.map_err(|e| Error::writing(action, folder, e))?;
    let json_text = serde_json::to_vec_pretty(report).expect("serializable");
    private_fs::write_private_file(json, &json_text)
        .map_err(|e| Error::writing(action, json, e))?;
    private_fs::write_private_file(html, certificate_html(report).as_bytes()).map_err(|e| {
        // Only the file this call created is removed.
        let _ = std::fs::remove_file(json);
        Error::writing(action, html, e)
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The certificate as a page that reads offline: no scripts, no external files.
pub fn certificate_html(report: &DrillReport) -> String {
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    let rows = step_rows(&report.steps);
    let facts = facts(report);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Restore certificate: {title} {verdict}</title>\
         <style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}}\
         h1{{font-size:1.4em}} .verdict{{padding:.6em 1em;border-radius:6px;font-weight:600}}\
         .verdict.passed{{background:#e6f4ea;color:#1e6b34}} .verdict.failed{{background:#fde8e8;color:#9b1c1c}}\
         table{{border-collapse:collapse;width:100%;margin:1em 0}} th,td{{text-align:left;vertical-align:top;\
         padding:.3em .6em;border-bottom:1px solid #ddd}} tr.failed td{{color:#9b1c1c}}\
         tr.skipped td{{color:#777}} .checks{{font-size:.9em;margin:.4em 0}}</style></head><body>\
         <h1>Restore certificate</h1><p class=\"verdict {class}\" id=\"verdict\">{verdict}{failure}</p>\
         <table>{facts}</table><h2>Steps</h2><table><tr><th>Step</th><th>Result</th><th>Time</th>\
         <th>Details</th></tr>\n{rows}</table></body></html>\n",
        title = escape(report.database.as_deref().unwrap_or("backup")),
        class = if report.passed { "passed" } else { "failed" },
        failure = report.failure.as_deref().map(|f| format!(": {}", escape(f))).unwrap_or_default(),
    )
}

/// One table row a step, with its checks in a table of their own.
fn step_rows(steps: &[DrillStep]) -> String {
    let mut rows = String::new();
    for step in steps {
        let status = match step.status {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        };
        rows.push_str(&format!(
            "<tr class=\"{status}\"><td>{}</td><td>{status}</td><td>{}</td><td>{}",
            escape(step.kind.title()),
            seconds(step.duration_ms),
            escape(&step.summary)
        ));
        if !step.checks.is_empty() {
            rows.push_str(
                "<table class=\"checks\"><tr><th>Check</th><th>Expected</th><th>Found</th></tr>",
            );
            for check in &step.checks {
                rows.push_str(&format!(
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if check.passed { "passed" } else { "failed" },
                    escape(&check.name),
                    escape(&check.expected),
                    escape(&check.actual)
                ));
            }
            rows.push_str("</table>");
        }
        rows.push_str("</td></tr>\n");
    }
    rows
}

/// What was tested, where and with what, as table rows; facts not known are left out.
fn facts(report: &DrillReport) -> String {
    let fact = |label: &str, value: Option<&str>| match value {
        Some(value) => format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(label), escape(value)),
        None => String::new(),
    };
    let stood_in = (!report.stood_in_roles.is_empty()).then(|| {
        format!(
            "{} (created for the drill as roles without login or other powers, dropped after it)",
            report.stood_in_roles.join(", ")
        )
    });
    let restored_as = report.restored_as.as_ref().map(|role| match &role.warning {
        Some(warning) => format!("{} Warning: {warning}", role.summary),
        None => role.summary.clone(),
    });
    [
        fact("Backup", Some(&report.source)),
        fact("Manifest (baseline)", report.manifest.as_deref()),
        fact("Database", report.database.as_deref()),
        fact("Backed up at", report.backed_up_at.as_deref()),
        fact("Tested at", Some(&report.started_at)),
        fact("Restored on", Some(&report.target)),
        fact("Server version", report.server_version.as_deref()),
        fact("Restored as", restored_as.as_deref()),
        fact("Scratch database", report.scratch_database.as_deref()),
        fact("Tools", Some(&report.tool_versions.join(", "))),
        fact("Lifeboat", Some(&report.app_version)),
        fact("Duration", Some(&seconds(report.duration_ms))),
        fact("Roles stood in for", stood_in.as_deref()),
    ]
    .concat()
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The drill in the catalog: its own row, and the backup's test status.
pub(super) fn record(ctx: &Ctx, report: &DrillReport) -> Result<()> {
    let summary = report.failure.clone().unwrap_or_else(|| "every check passed".to_owned());
    let conn = ctx.store.conn();
    conn.execute(
        "INSERT INTO drills (source, manifest_path, database, target, started_at, duration_ms, \
         passed, summary, certificate_json, certificate_html) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            report.source,
            report.manifest,
            report.database,
            report.target,
            report.started_at,
            report.duration_ms as i64,
            report.passed,
            summary,
            report.certificate_json,
            report.certificate_html
        ],
    )
    .map_err(|e| ctx.store.error(e))?;
    if let Some(manifest) = &report.manifest {
        // The catalog holds absolute paths; a relative one from the command line is made so.
        let manifest = std::fs::canonicalize(manifest)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| manifest.clone());
        conn.execute(
            "UPDATE backups SET test_status = ?2, tested_at = ?3 WHERE manifest_path = ?1",
            params![
                manifest,
                if report.passed { "tested-ok" } else { "tested-failed" },
                report.started_at
            ],
        )
        .map_err(|e| ctx.store.error(e))?;
    }
    Ok(())
}
