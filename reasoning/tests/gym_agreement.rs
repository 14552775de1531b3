//! kiln's reasoning-gym verifier against reasoning-gym 0.1.25's own `score_answer`, on the
//! committed sample written by `tools/reference/reasoning_gym_sample.py` (30 items per
//! dataset, seed 42, about 28 candidate answers per item: the gold, wrong ones and
//! reformatted ones such as `7.0`, ` 7 `, `Answer: 7`, `1,692`, `٧`, `7_`, `nan`).

use std::path::{Path, PathBuf};

use kiln_reasoning::Task;
use kiln_reasoning::gym::GymTask;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gym")
        .join(format!("{name}.jsonl"))
}

/// Each line's `(candidate, reasoning-gym's score)` pairs, in file order.
fn scores(path: &Path) -> Vec<Vec<(Option<String>, f64)>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["scores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().map(str::to_owned), p[1].as_f64().unwrap()))
                .collect()
        })
        .collect()
}

#[test]
fn kiln_scores_every_candidate_as_reasoning_gym_does() {
    let mut checked = 0;
    for name in ["basic_arithmetic", "chain_sum", "leg_counting"] {
        let path = fixture(name);
        let task = GymTask::from_jsonl(&path).unwrap();
        assert_eq!(task.dataset(), name);
        assert_eq!(task.items().len(), 30);
        let scores = scores(&path);
        assert_eq!(scores.len(), 30);
        for (item, cands) in task.items().iter().zip(&scores) {
            assert!(cands.len() >= 20, "{name}: {cands:?}");
            for (cand, want) in cands {
                let got = task.score_answer(cand.as_deref(), &item.answer);
                assert!(
                    (got - want).abs() < 1e-12,
                    "{name} item {:?} gold {:?}: candidate {cand:?} scored {got}, reasoning-gym {want}",
                    item.index,
                    item.answer
                );
                checked += 1;
                // Through the task's own extraction: a boxed candidate (already trimmed, as
                // kiln's extraction trims) is correct iff reasoning-gym gives full marks.
                if let Some(c) = cand.as_deref().filter(|c| !c.is_empty() && c.trim() == *c) {
                    let extracted = task.extract_answer(&format!("so \\boxed{{{c}}}")).unwrap();
                    assert_eq!(
                        task.is_correct(&item.answer, &extracted),
                        *want == 1.0,
                        "{name}: {c:?} extracted as {extracted:?}, reasoning-gym {want}"
                    );
                }
            }
        }
        // The loader's problems carry the gold and OTB's instruction.
        let p = task.problems(30, 7).unwrap();
        assert!(
            p.iter()
                .all(|p| p.prompt.ends_with("in \\boxed{}") && p.gold.is_some())
        );
        assert!(task.problems(31, 7).is_err());
    }
    assert!(checked > 2000, "{checked} candidates");
}
