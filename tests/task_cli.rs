//! End-to-end tests of `kiln task export` (issue 25): the JSONL it writes and the error for
//! a task name that does not exist.

mod common;

use common::kiln;

#[test]
fn export_writes_prompts_golds_and_demonstrations() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("easy.jsonl");
    let args = [
        "task",
        "export",
        "--task",
        "arith-easy",
        "--n",
        "25",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = kiln(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("25 problems of arith-easy"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 25);
    for (i, v) in lines.iter().enumerate() {
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["demonstration", "gold", "id", "prompt"]);
        assert_eq!(v["id"], format!("arith-easy-3-{i}"));
        let prompt = v["prompt"].as_str().unwrap();
        assert!(
            prompt.starts_with("Q: ") && prompt.ends_with("=?\n"),
            "{prompt:?}"
        );
        let gold = v["gold"].as_str().unwrap();
        let demo = v["demonstration"].as_str().unwrap();
        assert!(demo.ends_with(&format!("Answer: {gold}")), "{demo}");
    }
    // Same seed, same file; the export replaced it whole and left no temporary behind.
    let again = kiln(&args);
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_unknown_task_is_a_clear_error_listing_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let o = kiln(&[
        "task",
        "export",
        "--task",
        "arith-impossible",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    for needle in [
        "arith-impossible",
        "arith-easy",
        "arith-hard",
        "game24",
        "gym:",
    ] {
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
    assert!(!out.exists(), "nothing written for a bad task");
}

#[test]
fn a_malformed_gym_export_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"question\": \"q\", \"answer\": \"1\", \"metadata\": {\"source_dataset\": \"chain_sum\"}}\n{oops\n",
    )
    .unwrap();
    let out = dir.path().join("x.jsonl");
    let task = format!("gym:{}", bad.display());
    let o = kiln(&[
        "task",
        "export",
        "--task",
        &task,
        "--n",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bad.jsonl:2:"), "{stderr}");
}
