//! Game of 24 on the real puzzles fetched by `.ci/fetch-reasoning-data.sh` into
//! `$KILN_DATA/reasoning/24.csv` (default `~/.cache/kiln/data`). Without the file the tests
//! are skipped in a developer checkout and FAIL under `CI=true`, so CI cannot pass without
//! running them.

use std::path::{Path, PathBuf};

use kiln_reasoning::Task;
use kiln_reasoning::game24::{self, Game24};

fn csv_path() -> Option<PathBuf> {
    let data = std::env::var_os("KILN_DATA")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/kiln/data")))?;
    let path = Game24::default_path(&data);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but the Game of 24 puzzles are missing at {}: run .ci/fetch-reasoning-data.sh",
        path.display()
    );
    eprintln!(
        "skipped: no Game of 24 puzzles at {} (run .ci/fetch-reasoning-data.sh)",
        path.display()
    );
    None
}

#[test]
fn all_1362_puzzles_load_and_the_solver_solves_every_one() {
    let Some(path) = csv_path() else { return };
    let game = Game24::from_csv(&path).unwrap();
    let puzzles = game.puzzles();
    assert_eq!(puzzles.len(), 1362);
    // Ranks 1..=1362 in order, four numbers from 1 to 13 each.
    for (i, p) in puzzles.iter().enumerate() {
        assert_eq!(p.rank, i + 1);
        assert!(p.numbers.iter().all(|n| (1..=13).contains(n)), "{p:?}");
    }
    assert_eq!(puzzles[0].gold(), "1 1 4 6");
    assert_eq!(puzzles[1361].gold(), "2 3 5 12");
    for p in puzzles {
        let s = game24::solve(&p.numbers).unwrap_or_else(|| panic!("no solution for {p:?}"));
        assert!(game24::verify(&p.numbers, &s.expression), "{p:?}: {s:?}");
        // The demonstration's answer is what the task extracts and accepts.
        let answer = game.extract_answer(&s.demonstration()).unwrap();
        assert!(game.is_correct(&p.gold(), &answer), "{p:?}: {answer}");
        assert_eq!(s.steps.len(), 3);
    }
}

#[test]
fn problems_are_a_seeded_shuffle_with_demonstrations() {
    let Some(path) = csv_path() else { return };
    let game = Game24::from_csv(&path).unwrap();
    let a = game.problems(50, 3).unwrap();
    assert_eq!(a, game.problems(50, 3).unwrap());
    assert_ne!(a, game.problems(50, 4).unwrap());
    let all = game.problems(1362, 0).unwrap();
    let mut ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1362, "a shuffle, not a draw with repeats");
    for p in &a {
        let gold = p.gold.as_deref().unwrap();
        assert_eq!(p.prompt, format!("Q: use {gold} to make 24\n"));
        let demo = p.demonstration.as_deref().unwrap();
        assert!(game.is_correct(gold, &game.extract_answer(demo).unwrap()));
    }
    let err = game.problems(1363, 0).unwrap_err().to_string();
    assert_eq!(
        err,
        "task `game24` holds 1362 problems, 1363 were asked for"
    );
}
