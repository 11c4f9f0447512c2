//! Restore sources on a web server: an `http://` or `https://` address is downloaded into the data
//! folder (`downloads/<key>/`) before anything else, and the local copy goes through the same
//! checks as a local file (manifest checksums, format detection).
//!
//! - The address of one file (a custom, tar or plain dump) downloads that file, and the manifest
//!   `<stem>.lifeboat.json` next to it when the server has one (404: no manifest).
//! - The address of a folder served as an index page (Apache/nginx autoindex, `python3 -m
//!   http.server`): the newest Lifeboat manifest (by the timestamp in its name) and every file it
//!   lists are downloaded; without manifests, the newest dump-looking file.
//!
//! Files are streamed to `<name>.partial` chunk by chunk and renamed when complete. A `.partial`
//! left by an interrupted download is resumed with `Range: bytes=N-` when the server answers 206,
//! otherwise downloaded again from zero. TLS is verified against the webpki roots. Download
//! folders are owner-only (0700) and files 0600; a `.partial` is never opened through a link
//! (`util::private_fs`).
//!
//! Nothing a server sends is read without a bound: an index page is at most [`PAGE_MAX_BYTES`],
//! a manifest at most [`MANIFEST_MAX_BYTES`], a file the manifest lists at most the size it
//! records (the manifest is fetched first), and any download at most the free space of the disk
//! holding the download folder. A `Content-Length` above the bound is refused before anything
//! is written; a body without one (or longer than it said) is stopped when it passes the bound,
//! and its `.partial` removed ([`Error::DownloadTooLarge`]). Addresses are shown without their
//! password (`util::redact`).
//!
//! Plain http is not encrypted: an `http://` address (or any `http://` address Lifeboat would
//! follow: an index page's links, the files a manifest lists, a redirect) is refused with
//! [`Error::PlainHttpRefused`] unless the user allowed plain http for this source, and then a
//! warning says so. A step down from https to http is refused always: a redirect to http after
//! https ([`redirect_verdict`], also at most [`MAX_REDIRECTS`] redirects) and an https index
//! page's link to one of its files over http ([`listed_files`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Client, StatusCode, Url, redirect};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::format::archive::MANIFEST_MAX_BYTES;
use crate::format::manifest::{MANIFEST_SUFFIX, Manifest};
use crate::pg::tls;
use crate::storage::context::Ctx;
use crate::util::checksum::short_sha256;
use crate::util::private_fs;
use crate::util::redact::redact_urls;
use crate::util::size::human_bytes;

/// Extensions of files that look like a dump, for a folder without manifests.
const DUMP_EXTENSIONS: [&str; 4] = [".backup", ".dump", ".tar", ".sql"];

/// Emit a progress event at most every this many bytes.
const PROGRESS_EVERY: u64 = 1 << 20;

/// The most an index page can be: a listing of tens of thousands of files.
pub const PAGE_MAX_BYTES: u64 = 16 << 20;

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 10;

/// The HTTP client of one download, and whether the user allowed plain http for it.
struct Web {
    client: Client,
    allow_http: bool,
}

/// What a download is expected to be, which bounds it besides the free disk space.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A file no manifest describes: only the free space bounds it.
    Any,
    /// A manifest: at most [`MANIFEST_MAX_BYTES`].
    Manifest,
    /// A file the manifest lists, with the size it records.
    Recorded(u64),
}

impl Expect {
    /// The most bytes this download may have, and why, given the free space of its disk.
    fn bound(self, free: u64) -> (u64, String) {
        let disk =
            format!("the {} free on the disk that holds the download folder", human_bytes(free));
        let own = match self {
            Expect::Any => None,
            Expect::Manifest => Some((
                MANIFEST_MAX_BYTES,
                format!("the {} a manifest can be", human_bytes(MANIFEST_MAX_BYTES)),
            )),
            Expect::Recorded(bytes) => {
                Some((bytes, format!("the {bytes} bytes its manifest records")))
            }
        };
        match own {
            Some((bytes, why)) if bytes <= free => (bytes, why),
            _ => (free, disk),
        }
    }
}

/// Whether `source` is an address with a scheme (`x://…`), as opposed to a local path.
fn scheme_of(source: &str) -> Option<String> {
    let (scheme, _) = source.trim().split_once("://")?;
    let valid = scheme.len() > 1
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// Whether `source` is an `http://` or `https://` address.
pub fn is_remote(source: &str) -> bool {
    matches!(scheme_of(source).as_deref(), Some("http" | "https"))
}

/// The folder a download of `url` goes to: `downloads/<key>` in the data folder, the key derived
/// from the address of the folder holding it, so that a retry finds its `.partial` files.
pub fn download_dir(ctx: &Ctx, url: &str) -> Result<PathBuf> {
    let url = parse(url)?;
    let folder = url.join("./").map_err(|e| failed(url.as_str(), e.to_string()))?;
    let key = short_sha256(folder.as_str(), 8);
    Ok(ctx.data_dir.path().join("downloads").join(key))
}

/// The local source for `source`: unchanged for a local path, the downloaded copy for an
/// `http(s)://` address (a manifest when one describes the backup, else the dump). Other schemes
/// are refused.
pub async fn localize(
    ctx: &Ctx,
    source: &str,
    allow_http: bool,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<String> {
    match scheme_of(source).as_deref() {
        None => Ok(source.to_owned()),
        Some("http" | "https") => {
            let path = download(ctx, source.trim(), allow_http, sink, cancel).await?;
            Ok(path.to_string_lossy().into_owned())
        }
        Some(other) => Err(Error::InvalidInput {
            field: "source",
            problem: format!(
                "{other}:// addresses are not supported; use an http:// or https:// address or a \
                 local file"
            ),
        }),
    }
}

/// Downloads the backup at `url` (a file or a folder's index page) and returns the local path to
/// restore from. A plain `http://` address is refused unless `allow_http`; with it, a warning
/// says that the download is not encrypted.
pub async fn download(
    ctx: &Ctx,
    url: &str,
    allow_http: bool,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PathBuf> {
    let parsed = parse(url)?;
    plain_http_check(&parsed, allow_http)?;
    if parsed.scheme() == "http" {
        sink.emit(ProgressEvent::Warning {
            message: format!(
                "{} is downloaded over plain http, which is not encrypted: anyone on the network \
                 can read or change the backup on its way (allowed for this source).",
                redact_urls(parsed.as_str())
            ),
        });
    }
    let dir = download_dir(ctx, url)?;
    private_fs::ensure_private_dir(&dir).map_err(|source| Error::Io {
        action: "Creating the download folder",
        path: dir.clone(),
        source,
    })?;
    let client = Web { client: client(url)?, allow_http };

    let listing = parsed.path().ends_with('/');
    if !listing {
        let name = file_name(&parsed)?;
        // The manifest first: it bounds the size of the file it lists. When it cannot be
        // fetched at all (a server that does not answer), the file's own error names the
        // address the user gave; a manifest that is refused stops everything at once.
        let beside = match fetch_manifest_beside(&client, &parsed, &name, &dir, sink, cancel).await
        {
            Err(error @ Error::DownloadFailed { .. }) => Err(error),
            other => Ok(other?),
        };
        let expect = beside.as_ref().map_or(Expect::Any, |m| recorded_size(m.as_ref(), &name));
        match fetch(&client, &parsed, &dir.join(&name), expect, sink, cancel).await {
            Ok(path) => {
                beside?;
                return Ok(path);
            }
            // The address of a folder without its slash: the server sent its index page.
            Err(Fetched::Html(page)) => {
                let folder = Url::parse(&format!("{}/", parsed.as_str()))
                    .map_err(|e| failed(url, e.to_string()))?;
                return from_listing(&client, &folder, &page, &dir, sink, cancel).await;
            }
            Err(Fetched::Error(error)) => return Err(error),
        }
    }
    let page = get_page(&client, &parsed, cancel).await?;
    from_listing(&client, &parsed, &page, &dir, sink, cancel).await
}

fn parse(url: &str) -> Result<Url> {
    let shown = redact_urls(url);
    let parsed = Url::parse(url.trim()).map_err(|e| Error::InvalidInput {
        field: "source",
        problem: format!("{shown} is not a valid address: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidInput {
            field: "source",
            problem: format!("only http:// and https:// addresses can be downloaded, not {shown}"),
        });
    }
    Ok(parsed)
}

/// A failed download, the address and the detail (which may repeat it) without a password.
fn failed(url: &str, detail: String) -> Error {
    Error::DownloadFailed { url: redact_urls(url), detail: redact_urls(&detail) }
}

fn not_found(url: &Url) -> Error {
    Error::NotFound { url: redact_urls(url.as_str()) }
}

fn too_large(url: &Url, reason: String) -> Error {
    Error::DownloadTooLarge { url: redact_urls(url.as_str()), reason }
}

/// The size the manifest records for `name`, which bounds its download.
fn recorded_size(manifest: Option<&Manifest>, name: &str) -> Expect {
    manifest
        .and_then(|m| m.files.iter().find(|f| f.name == name))
        .map_or(Expect::Any, |f| Expect::Recorded(f.bytes))
}

/// An HTTP client that verifies TLS certificates and host names against the webpki roots, with
/// the same rustls setup as the PostgreSQL connections.
fn client(url: &str) -> Result<Client> {
    let tls = tls::client_config(tls::Check::ChainAndHost, tls::root_store(None)?)
        .map_err(|e| failed(url, e.to_string()))?;
    Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("Lifeboat/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect::Policy::custom(|attempt| {
            match redirect_verdict(attempt.previous(), attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        }))
        .build()
        .map_err(|e| failed(url, e.to_string()))
}

/// Refuses a plain `http://` address unless the user allowed plain http for this source.
fn plain_http_check(url: &Url, allow_http: bool) -> Result<()> {
    if url.scheme() == "http" && !allow_http {
        return Err(Error::PlainHttpRefused { url: redact_urls(url.as_str()) });
    }
    Ok(())
}

/// Whether going from `from` to `to` steps down from https to plain http.
pub fn is_downgrade(from: &Url, to: &Url) -> bool {
    from.scheme() == "https" && to.scheme() == "http"
}

/// Whether to follow a redirect to `next`, given the addresses requested so far (the first is
/// the one asked for): never from https to http, and at most [`MAX_REDIRECTS`] in a row. The
/// refusal says why (it ends up in the download's error).
pub fn redirect_verdict(previous: &[Url], next: &Url) -> Result<(), String> {
    if previous.len() > MAX_REDIRECTS {
        return Err(format!("the server redirected more than {MAX_REDIRECTS} times"));
    }
    match previous.last() {
        Some(from) if is_downgrade(from, next) => Err(format!(
            "the server redirected from https to plain http ({}), which is not encrypted; \
             Lifeboat never follows such a redirect",
            redact_urls(next.as_str())
        )),
        _ => Ok(()),
    }
}

/// The last segment of `url`'s path, decoded, when it is a safe local file name.
fn file_name(url: &Url) -> Result<String> {
    let segment = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default();
    let name = percent_decode(segment);
    safe_name(&name).then_some(name).ok_or_else(|| Error::InvalidInput {
        field: "source",
        problem: format!("{} does not name a file", redact_urls(url.as_str())),
    })
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.')
}

/// A manifest's relative file name (`a.backup`, `dir/toc.dat`) as safe local path segments.
fn safe_relative(name: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = name.split('/').collect();
    parts.iter().all(|p| safe_name(p)).then_some(parts)
}

enum Fetched {
    /// The server answered with an HTML page (an index page), not a file.
    Html(String),
    Error(Error),
}

impl From<Error> for Fetched {
    fn from(error: Error) -> Self {
        Fetched::Error(error)
    }
}

async fn send(client: &Web, url: &Url, from: u64) -> Result<reqwest::Response> {
    plain_http_check(url, client.allow_http)?;
    let mut request = client.client.get(url.clone());
    if from > 0 {
        request = request.header(RANGE, format!("bytes={from}-"));
    }
    let response = request.send().await.map_err(|e| failed(url.as_str(), error_chain(&e)))?;
    match response.status() {
        StatusCode::NOT_FOUND | StatusCode::GONE => Err(not_found(url)),
        status if status.is_success() || status == StatusCode::RANGE_NOT_SATISFIABLE => {
            Ok(response)
        }
        status => Err(failed(url.as_str(), format!("the server answered HTTP {status}"))),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads an index page into memory, at most [`PAGE_MAX_BYTES`] of it.
async fn get_page(client: &Web, url: &Url, cancel: &CancellationToken) -> Result<String> {
    let response = send(client, url, 0).await?;
    read_page(url, response, cancel).await
}

/// The body of a web page, refused when it is longer than [`PAGE_MAX_BYTES`] (announced or
/// sent).
async fn read_page(
    url: &Url,
    mut response: reqwest::Response,
    cancel: &CancellationToken,
) -> Result<String> {
    let over = || {
        too_large(
            url,
            format!(
                "the web page is larger than the {} an index page can be",
                human_bytes(PAGE_MAX_BYTES)
            ),
        )
    };
    if response.content_length().is_some_and(|n| n > PAGE_MAX_BYTES) {
        return Err(over());
    }
    let mut page = Vec::new();
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return Err(Error::Cancelled),
            chunk = response.chunk() => chunk.map_err(|e| failed(url.as_str(), error_chain(&e)))?,
        };
        let Some(chunk) = chunk else { break };
        if (page.len() + chunk.len()) as u64 > PAGE_MAX_BYTES {
            return Err(over());
        }
        page.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&page).into_owned())
}

/// Downloads `url` to `target` through `target.partial`, resuming a partial download when the
/// server supports ranges, within the bound of `expect` and the free disk space.
async fn fetch(
    client: &Web,
    url: &Url,
    target: &Path,
    expect: Expect,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PathBuf, Fetched> {
    let shown = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = target.with_file_name(format!("{shown}.partial"));
    if let Some(parent) = target.parent() {
        private_fs::ensure_private_dir(parent)
            .map_err(io("Creating the download folder", parent))?;
    }
    // A previous complete copy may be stale: always fetch again.
    if target.exists() {
        std::fs::remove_file(target).map_err(io("Removing an old download", target))?;
    }
    let (mut response, resume_from) = respond(client, url, &partial).await?;
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"));
    if html && !DUMP_EXTENSIONS.iter().any(|e| shown.ends_with(e)) {
        return Err(Fetched::Html(read_page(url, response, cancel).await?));
    }
    let folder = target.parent().unwrap_or(Path::new("."));
    let free = fs4::available_space(folder).map_err(io("Checking the free space", folder))?;
    let (allowed, why) = expect.bound(free.saturating_add(resume_from));
    let total = response.content_length().map(|n| n + resume_from);
    if let Some(total) = total.filter(|total| *total > allowed) {
        return Err(too_large(
            url,
            format!("the server announces {total} bytes ({}), more than {why}", human_bytes(total)),
        )
        .into());
    }
    let mut file = tokio::fs::File::from_std(
        open_partial(&partial, resume_from > 0)
            .map_err(|e| Error::writing("Writing the download", &partial, e))?,
    );
    let mut body = Body { url, partial: &partial, shown: &shown, total, allowed, why: &why };
    let done = match body.stream(&mut response, &mut file, resume_from, sink, cancel).await {
        Ok(done) => done,
        Err(error) => {
            drop(file);
            // An over-long download is of no use to a retry: its partial goes.
            if matches!(error, Error::DownloadTooLarge { .. }) {
                let _ = std::fs::remove_file(&partial);
            }
            return Err(error.into());
        }
    };
    file.sync_all().await.map_err(io("Writing the download", &partial))?;
    drop(file);
    if let Some(total) = total
        && done != total
    {
        return Err(failed(
            url.as_str(),
            format!("the server sent {done} of {total} bytes; trying again resumes the download"),
        )
        .into());
    }
    sink.emit(ProgressEvent::Step { done, total: total.unwrap_or(done), current: shown });
    std::fs::rename(&partial, target).map_err(io("Finishing the download", target))?;
    Ok(target.to_owned())
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io { action, path, source }
}

/// The server's answer for `url`, continuing `partial` (when it is a regular file) from its end
/// if the server answers 206 for it; the byte the body starts at.
async fn respond(
    client: &Web,
    url: &Url,
    partial: &Path,
) -> Result<(reqwest::Response, u64), Fetched> {
    // Only a regular file is resumed (a link at the name is refused when it is opened).
    let have = std::fs::symlink_metadata(partial)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .unwrap_or(0);
    let mut response = send(client, url, have).await?;
    let mut resume_from = 0;
    if have > 0 {
        match response.status() {
            StatusCode::PARTIAL_CONTENT if content_range_start(&response) == Some(have) => {
                resume_from = have;
            }
            StatusCode::OK => {}
            // Not resumable (wrong range or 416): start again from zero without a range.
            _ => response = send(client, url, 0).await?,
        }
    }
    if !response.status().is_success()
        || response.status() == StatusCode::PARTIAL_CONTENT && resume_from == 0
    {
        return Err(failed(
            url.as_str(),
            format!("the server answered HTTP {}", response.status()),
        )
        .into());
    }
    Ok((response, resume_from))
}

/// A download's body on its way into its `.partial`, stopped when it passes `allowed`.
struct Body<'a> {
    url: &'a Url,
    partial: &'a Path,
    shown: &'a str,
    total: Option<u64>,
    allowed: u64,
    why: &'a str,
}

impl Body<'_> {
    /// Writes the body after the `from` bytes already there; returns the bytes in the file.
    async fn stream(
        &mut self,
        response: &mut reqwest::Response,
        file: &mut tokio::fs::File,
        from: u64,
        sink: &dyn ProgressSink,
        cancel: &CancellationToken,
    ) -> Result<u64> {
        let (url, total) = (self.url, self.total.unwrap_or(0));
        let mut done = from;
        let mut reported = done;
        sink.emit(ProgressEvent::Step { done, total, current: self.shown.to_owned() });
        loop {
            let chunk = tokio::select! {
                _ = cancel.cancelled() => {
                    let _ = file.flush().await;
                    return Err(Error::Cancelled);
                }
                chunk = response.chunk() => chunk,
            };
            let chunk = match chunk {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    let _ = file.flush().await;
                    return Err(failed(
                        url.as_str(),
                        format!(
                            "the download stopped after {done} bytes ({}); trying again resumes it",
                            error_chain(&e)
                        ),
                    ));
                }
            };
            if done + chunk.len() as u64 > self.allowed {
                return Err(too_large(
                    url,
                    format!(
                        "the server sent more than {} ({} bytes), more than {}",
                        human_bytes(self.allowed),
                        self.allowed,
                        self.why
                    ),
                ));
            }
            file.write_all(&chunk).await.map_err(|e| self.write_error(e))?;
            done += chunk.len() as u64;
            if done - reported >= PROGRESS_EVERY {
                reported = done;
                sink.emit(ProgressEvent::Step { done, total, current: self.shown.to_owned() });
            }
        }
        file.flush().await.map_err(|e| self.write_error(e))?;
        Ok(done)
    }

    /// A failed write: a full disk stops the download like passing the bound does.
    fn write_error(&self, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::StorageFull {
            return too_large(self.url, "the disk that holds the download folder is full".into());
        }
        Error::Io { action: "Writing the download", path: self.partial.to_owned(), source }
    }
}

/// The download's `.partial` file, owner-only and never opened through a link: the one a previous
/// attempt left to continue it, or a new one (what was there removed first).
fn open_partial(partial: &Path, resume: bool) -> std::io::Result<std::fs::File> {
    if resume {
        return private_fs::open_private(partial, true);
    }
    match std::fs::remove_file(partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    private_fs::create_private_file(partial)
}

/// The first byte of a 206 answer's `Content-Range: bytes N-M/T`.
fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

async fn fetch_file(
    client: &Web,
    url: &Url,
    target: &Path,
    expect: Expect,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PathBuf> {
    match fetch(client, url, target, expect, sink, cancel).await {
        Ok(path) => Ok(path),
        Err(Fetched::Error(error)) => Err(error),
        Err(Fetched::Html(_)) => {
            Err(failed(url.as_str(), "the server sent a web page instead of the file".into()))
        }
    }
}

/// Fetches and reads `<stem>.lifeboat.json` beside a dump to download; a 404 means there is none
/// (and an old local copy is removed).
async fn fetch_manifest_beside(
    client: &Web,
    file_url: &Url,
    name: &str,
    dir: &Path,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Option<Manifest>> {
    let stem = Path::new(name).file_stem().map(|s| s.to_string_lossy().into_owned());
    let Some(stem) = stem else { return Ok(None) };
    let manifest_name = format!("{stem}{MANIFEST_SUFFIX}");
    let url = file_url
        .join(&percent_encode(&manifest_name))
        .map_err(|e| failed(file_url.as_str(), e.to_string()))?;
    let target = dir.join(&manifest_name);
    match fetch_file(client, &url, &target, Expect::Manifest, sink, cancel).await {
        Ok(path) => Ok(Some(crate::format::archive::read_manifest(&path)?)),
        Err(Error::NotFound { .. }) => {
            let _ = std::fs::remove_file(&target);
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Picks the backup in a folder's index page and downloads it.
async fn from_listing(
    client: &Web,
    folder: &Url,
    page: &str,
    dir: &Path,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PathBuf> {
    let names = listed_files(folder, page)?;
    let newest = |candidates: Vec<&String>| -> Option<String> {
        candidates.into_iter().max_by_key(|n| (timestamp_in(n), n.to_string())).cloned()
    };
    let manifests: Vec<&String> = names.iter().filter(|n| n.ends_with(MANIFEST_SUFFIX)).collect();
    if let Some(manifest_name) = newest(manifests) {
        let url = join(folder, &manifest_name)?;
        let manifest_path =
            fetch_file(client, &url, &dir.join(&manifest_name), Expect::Manifest, sink, cancel)
                .await?;
        let manifest = crate::format::archive::read_manifest(&manifest_path)?;
        for file in &manifest.files {
            let Some(parts) = safe_relative(&file.name) else {
                return Err(Error::ManifestInvalid {
                    path: manifest_path.clone(),
                    detail: format!("the file name {:?} leaves the backup's folder", file.name),
                });
            };
            let url = join(
                folder,
                &parts.iter().map(|p| percent_encode(p)).collect::<Vec<_>>().join("/"),
            )?;
            let target = parts.iter().fold(dir.to_owned(), |path, part| path.join(part));
            fetch_file(client, &url, &target, Expect::Recorded(file.bytes), sink, cancel).await?;
        }
        return Ok(manifest_path);
    }
    let dumps: Vec<&String> =
        names.iter().filter(|n| DUMP_EXTENSIONS.iter().any(|e| n.ends_with(e))).collect();
    let Some(dump) = newest(dumps) else {
        return Err(not_found(folder));
    };
    let url = join(folder, &dump)?;
    let beside = fetch_manifest_beside(client, &url, &dump, dir, sink, cancel).await?;
    let expect = recorded_size(beside.as_ref(), &dump);
    fetch_file(client, &url, &dir.join(&dump), expect, sink, cancel).await
}

fn join(folder: &Url, relative: &str) -> Result<Url> {
    folder.join(relative).map_err(|e| failed(folder.as_str(), e.to_string()))
}

/// The files an index page links to directly inside `folder`: no parent or sorting links, no
/// subfolders, nothing on other hosts. Decoded names. An https page that links to one of its
/// folder's files over plain http is refused: that link steps down to an unencrypted download.
pub fn listed_files(folder: &Url, page: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for href in hrefs(page) {
        let href = unescape_html(&href);
        if href.is_empty() || href.starts_with('?') || href.starts_with('#') {
            continue;
        }
        let Ok(url) = folder.join(&href) else { continue };
        // A link to http differs from the https page in its port too, by the scheme alone.
        let downgrade = is_downgrade(folder, &url);
        if url.host_str() != folder.host_str()
            || !downgrade
                && (url.scheme() != folder.scheme()
                    || url.port_or_known_default() != folder.port_or_known_default())
        {
            continue;
        }
        let Some(rest) = url.path().strip_prefix(folder.path()) else { continue };
        if rest.is_empty() || rest.contains('/') {
            continue;
        }
        let name = percent_decode(rest);
        if !safe_name(&name) {
            continue;
        }
        if downgrade {
            return Err(failed(
                folder.as_str(),
                format!(
                    "the https index page links to {} over plain http, which is not encrypted; \
                     Lifeboat never follows a link from https to http",
                    url.as_str()
                ),
            ));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The values of every `href="…"` (or `'…'`, or unquoted) in an HTML page.
fn hrefs(page: &str) -> Vec<String> {
    let lower = page.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(pos) = lower[at..].find("href") {
        let start = at + pos + 4;
        at = start;
        let rest = page[start..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else { continue };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or_default(),
            Some(_) => {
                rest.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or_default()
            }
            None => "",
        };
        found.push(value.to_owned());
    }
    found
}

fn unescape_html(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(Ok(byte)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `YYYY-MM-DD-HHMMSS` timestamp in a Lifeboat file name, as a sortable number (0: none).
fn timestamp_in(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let shape = b"dddd-dd-dd-dddddd";
    (0..bytes.len().saturating_sub(shape.len() - 1))
        .rev()
        .find_map(|start| {
            let window = bytes.get(start..start + shape.len())?;
            let fits = window
                .iter()
                .zip(shape)
                .all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == s });
            fits.then(|| {
                window
                    .iter()
                    .filter(|b| b.is_ascii_digit())
                    .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'))
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_are_remote() {
        assert!(is_remote("http://example.com/a.backup"));
        assert!(is_remote(" HTTPS://example.com/"));
        assert!(!is_remote("ftp://example.com/a.backup"));
        assert!(!is_remote("/tmp/a.backup"));
        assert!(!is_remote(r"C:\backups\a.backup"));
        assert_eq!(scheme_of("s3://bucket/a").as_deref(), Some("s3"));
    }

    #[test]
    fn index_pages_give_the_folder_files_only() {
        let folder = Url::parse("http://host:8080/backups/").unwrap();
        let page = r#"<html><a href="../">Parent</a><a href="?C=M;O=A">Date</a>
            <a href="shop-2026-01-02-030405.backup">x</a>
            <A HREF='shop-2026-01-02-030405.lifeboat.json'>m</A>
            <a href="sub/">sub</a><a href="http://other/x.backup">o</a>
            <a href="/backups/a%20b.sql">ab</a><a href="http://host:8080/elsewhere/z.dump">z</a>
            <a href="tom&amp;jerry.dump">tj</a>"#;
        assert_eq!(
            listed_files(&folder, page).unwrap(),
            vec![
                "shop-2026-01-02-030405.backup",
                "shop-2026-01-02-030405.lifeboat.json",
                "a b.sql",
                "tom&jerry.dump"
            ]
        );
    }

    #[test]
    fn an_https_page_linking_to_its_files_over_http_is_refused() {
        let folder = Url::parse("https://host/backups/").unwrap();
        let fine = r#"<a href="a.backup">a</a><a href="http://nginx.org/">nginx</a>
            <a href="http://host/elsewhere/x.dump">x</a>"#;
        assert_eq!(listed_files(&folder, fine).unwrap(), vec!["a.backup"]);
        for link in ["http://host/backups/a.backup", "http://host:443/backups/b.sql"] {
            let page = format!(r#"<a href="a.backup">a</a><a href="{link}">b</a>"#);
            let error = listed_files(&folder, &page).unwrap_err();
            assert_eq!(error.code(), crate::base::error::ErrorCode::DownloadFailed);
            assert!(error.to_string().contains("plain http"), "{error}");
        }
        // An http page (allowed by the user) linking to its files is no step down.
        let plain = Url::parse("http://host/backups/").unwrap();
        assert_eq!(listed_files(&plain, r#"<a href="a.backup">a</a>"#).unwrap(), vec!["a.backup"]);
    }

    #[test]
    fn plain_http_needs_the_users_permission() {
        let http = Url::parse("http://alice:secret@host/a.backup").unwrap();
        let error = plain_http_check(&http, false).unwrap_err();
        assert_eq!(error.code(), crate::base::error::ErrorCode::PlainHttpRefused);
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(error.payload().hint.contains("--allow-http"));
        assert!(plain_http_check(&http, true).is_ok());
        assert!(plain_http_check(&Url::parse("https://host/a.backup").unwrap(), false).is_ok());
    }

    #[test]
    fn redirects_never_step_down_to_http_and_are_capped() {
        let url = |s: &str| Url::parse(s).unwrap();
        let https = url("https://host/a.backup");
        let http = url("http://host/a.backup");
        assert!(is_downgrade(&https, &http));
        assert!(!is_downgrade(&http, &https) && !is_downgrade(&http, &http));
        assert!(redirect_verdict(std::slice::from_ref(&https), &url("https://cdn/a")).is_ok());
        assert!(redirect_verdict(std::slice::from_ref(&http), &https).is_ok());
        assert!(redirect_verdict(std::slice::from_ref(&http), &url("http://host/b")).is_ok());
        assert!(redirect_verdict(std::slice::from_ref(&https), &http).is_err());
        let refusal = redirect_verdict(&[http.clone(), https.clone()], &http).unwrap_err();
        assert!(refusal.contains("from https to plain http"), "{refusal}");
        assert!(redirect_verdict(&vec![https.clone(); MAX_REDIRECTS], &https).is_ok());
        let refusal =
            redirect_verdict(&vec![https.clone(); MAX_REDIRECTS + 1], &https).unwrap_err();
        assert!(refusal.contains("more than 10"), "{refusal}");
    }

    #[test]
    fn timestamps_order_lifeboat_names() {
        assert!(
            timestamp_in("db-2026-01-02-030405.lifeboat.json")
                > timestamp_in("db-2025-12-31-235959.lifeboat.json")
        );
        assert_eq!(timestamp_in("plain.sql"), 0);
        assert_eq!(timestamp_in("db-2026-01-02-030405.backup"), 20260102030405);
    }

    #[test]
    fn manifest_names_cannot_leave_the_folder() {
        assert!(safe_relative("a.backup").is_some());
        assert!(safe_relative("dir/toc.dat").is_some());
        assert!(safe_relative("../etc/passwd").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("a\\..\\b").is_none());
    }
}
