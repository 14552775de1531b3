//! What the `kiln` binary's end-to-end tests share: running it, and reading its outcome.
#![allow(dead_code)] // each test binary uses its own part

use std::process::{Command, Output};

pub const KILN: &str = env!("CARGO_BIN_EXE_kiln");

/// Runs `kiln args` (with XDG_RUNTIME_DIR set, for wgpu) and extra environment `env`.
pub fn kiln_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(KILN);
    cmd.args(args).env("XDG_RUNTIME_DIR", "/tmp");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn kiln(args: &[&str]) -> Output {
    kiln_env(args, &[])
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kiln failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Asserts a clean failure: exit code 1, no panic, one `error:` line naming `needle`.
pub fn fails_with(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not a clean failure: {stderr}");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        line.contains(needle),
        "error line {line:?} does not mention {needle:?}"
    );
}
