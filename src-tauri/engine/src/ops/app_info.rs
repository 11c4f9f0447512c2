//! What Lifeboat is running with: its version, its data folder and the bundled PostgreSQL tools.

use serde::Serialize;

use crate::base::error::Result;
use crate::storage::context::Ctx;

#[derive(Debug, Clone, Default)]
pub struct AppInfoInput;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub bundled: Vec<BundledTools>,
    /// The major the local practice server would run, when the bundle carries a server.
    pub practice_server_major: Option<u32>,
    /// Why the practice server cannot run here even though it is bundled (Lifeboat runs as
    /// root, which PostgreSQL refuses), with what to do instead.
    pub practice_server_problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BundledTools {
    pub major: u32,
    pub version: String,
    pub has_server: bool,
}

pub async fn app_info(ctx: &Ctx, _input: AppInfoInput) -> Result<AppInfo> {
    Ok(AppInfo {
        version: crate::VERSION.to_owned(),
        data_dir: ctx.data_dir.path().display().to_string(),
        bundled: ctx
            .tools
            .majors()
            .iter()
            .map(|m| BundledTools {
                major: m.major,
                version: m.version.clone(),
                has_server: m.has_server,
            })
            .collect(),
        practice_server_major: ctx.tools.practice_server().map(|m| m.major),
        practice_server_problem: crate::ops::practice::running_as_root().then(|| {
            let error = crate::base::error::Error::PracticeServerAsRoot;
            format!("{error} {}", error.hint())
        }),
    })
}
