//! Multi-step integer arithmetic chains (issue 25's easy task for tiny policies): a flat
//! expression of `steps` operations on operands of at most `digits` digits, evaluated with
//! the standard precedence (`*` and `/` before `+` and `-`, left to right), generated from a
//! seed with [`SplitMix64`].
//!
//! The formats are short because the policies are small LMs with 128–256-token contexts:
//!
//! ```text
//! prompt:         Q: 12+7*3-4=?\n
//! demonstration:  7*3=21. 12+21=33. 33-4=29. Answer: 29
//! ```
//!
//! The demonstration evaluates one operation per step in the order precedence gives, so a
//! model fine-tuned on it learns a chain of thought whose every step it can check.

use crate::answer;
use crate::error::TaskError;
use crate::rng::SplitMix64;
use crate::task::{Problem, Task};

/// How hard a chain is: the number of operations and the largest operand's digit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difficulty {
    /// Operations per expression (`steps + 1` operands), at least 1.
    pub steps: usize,
    /// Operands are drawn uniformly from `1..10^digits`, at least 1.
    pub digits: u32,
}

impl Difficulty {
    /// `arith-easy`: two operations on one-digit numbers (`3+4*2`).
    pub const EASY: Self = Self {
        steps: 2,
        digits: 1,
    };
    /// `arith-medium`: three operations on numbers up to 99.
    pub const MEDIUM: Self = Self {
        steps: 3,
        digits: 2,
    };
    /// `arith-hard`: five operations on numbers up to 99.
    pub const HARD: Self = Self {
        steps: 5,
        digits: 2,
    };

    /// The named levels `arith-easy`, `arith-medium`, `arith-hard`, and any grade as
    /// `arith-<steps>x<digits>` (`arith-3x1`: three operations on one-digit numbers; steps
    /// 1 to 8, digits 1 to 4), for curricula between the named levels.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "arith-easy" => Some(Self::EASY),
            "arith-medium" => Some(Self::MEDIUM),
            "arith-hard" => Some(Self::HARD),
            _ => {
                let (steps, digits) = name.strip_prefix("arith-")?.split_once('x')?;
                let (steps, digits) = (steps.parse().ok()?, digits.parse().ok()?);
                ((1..=8).contains(&steps) && (1..=4).contains(&digits))
                    .then_some(Self { steps, digits })
            }
        }
    }

    /// Every value in a chain's evaluation (operands, each step's result, the answer) stays
    /// within ±`10^(digits+2)`: products of two operands fit, towers of them do not, so a
    /// tiny model never meets six-digit numbers.
    pub fn bound(&self) -> i64 {
        10i64.pow(self.digits + 2)
    }

    fn max_operand(&self) -> i64 {
        10i64.pow(self.digits) - 1
    }
}

/// One of the four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    const ALL: [Op; 4] = [Op::Add, Op::Sub, Op::Mul, Op::Div];

    fn symbol(self) -> char {
        match self {
            Op::Add => '+',
            Op::Sub => '-',
            Op::Mul => '*',
            Op::Div => '/',
        }
    }

    fn binds_tight(self) -> bool {
        matches!(self, Op::Mul | Op::Div)
    }

    /// `a op b`, or `None` for an inexact or zero division or overflow.
    fn apply(self, a: i64, b: i64) -> Option<i64> {
        match self {
            Op::Add => a.checked_add(b),
            Op::Sub => a.checked_sub(b),
            Op::Mul => a.checked_mul(b),
            Op::Div => (b != 0 && a % b == 0).then(|| a / b),
        }
    }
}

/// One evaluated operation of the chain of thought: `a op b = result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub a: i64,
    pub op: Op,
    pub b: i64,
    pub result: i64,
}

/// A flat expression `operands[0] ops[0] operands[1] …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub operands: Vec<i64>,
    pub ops: Vec<Op>,
}

impl Chain {
    /// The expression as the prompt writes it: `12+7*3-4`.
    pub fn expression(&self) -> String {
        let mut s = self.operands[0].to_string();
        for (op, x) in self.ops.iter().zip(&self.operands[1..]) {
            s.push(op.symbol());
            s.push_str(&x.to_string());
        }
        s
    }

    /// The steps in precedence order and the value, or `None` when a division is inexact or
    /// by zero, or a value leaves ±`bound`.
    pub fn evaluate(&self, bound: i64) -> Option<(Vec<Step>, i64)> {
        let within = |v: i64| (-bound..=bound).contains(&v);
        let mut steps = Vec::with_capacity(self.ops.len());
        // Pass 1: `*` and `/` left to right, leaving the terms and the `+`/`-` between them.
        let mut terms = Vec::new();
        let mut additive = Vec::new();
        let mut current = self.operands[0];
        for (&op, &x) in self.ops.iter().zip(&self.operands[1..]) {
            if op.binds_tight() {
                let result = op.apply(current, x).filter(|&r| within(r))?;
                steps.push(Step {
                    a: current,
                    op,
                    b: x,
                    result,
                });
                current = result;
            } else {
                terms.push(current);
                additive.push(op);
                current = x;
            }
        }
        terms.push(current);
        // Pass 2: `+` and `-` left to right.
        let mut acc = terms[0];
        for (&op, &t) in additive.iter().zip(&terms[1..]) {
            let result = op.apply(acc, t).filter(|&r| within(r))?;
            steps.push(Step {
                a: acc,
                op,
                b: t,
                result,
            });
            acc = result;
        }
        Some((steps, acc))
    }

    /// The value of the trailing `*`/`/` run (the left operand a new `/` would divide).
    fn last_term(&self) -> i64 {
        let start = self
            .ops
            .iter()
            .rposition(|op| !op.binds_tight())
            .map_or(0, |i| i + 1);
        let mut v = self.operands[start];
        for (op, &x) in self.ops[start..].iter().zip(&self.operands[start + 1..]) {
            // Only called on prefixes that evaluated exactly, so every step applies.
            v = op.apply(v, x).unwrap_or(0);
        }
        v
    }

    /// A random chain of difficulty `d`. Division is drawn like the other operations but
    /// its divisor is chosen among the divisors (> 1) of the term it divides, so every
    /// division is exact; a step whose result would leave the bound is redrawn (64 tries,
    /// then the whole chain is redrawn). Deterministic in `rng`'s state.
    pub fn random(rng: &mut SplitMix64, d: Difficulty) -> Self {
        let bound = d.bound();
        'chain: loop {
            let mut chain = Chain {
                operands: vec![rng.range(1, d.max_operand())],
                ops: Vec::new(),
            };
            for _ in 0..d.steps {
                let mut placed = false;
                for _ in 0..64 {
                    let op = Op::ALL[rng.below(4) as usize];
                    let x = if op == Op::Div {
                        let t = chain.last_term();
                        let divisors: Vec<i64> = (2..=d.max_operand().min(t.max(1)))
                            .filter(|&q| t % q == 0)
                            .collect();
                        if divisors.is_empty() {
                            continue;
                        }
                        divisors[rng.below(divisors.len() as u64) as usize]
                    } else {
                        rng.range(1, d.max_operand())
                    };
                    chain.ops.push(op);
                    chain.operands.push(x);
                    if chain.evaluate(bound).is_some() {
                        placed = true;
                        break;
                    }
                    chain.ops.pop();
                    chain.operands.pop();
                }
                if !placed {
                    continue 'chain;
                }
            }
            return chain;
        }
    }
}

/// `7*3=21. 12+21=33. 33-4=29. Answer: 29`
pub fn demonstration(steps: &[Step], value: i64) -> String {
    let mut s = String::new();
    for st in steps {
        s.push_str(&format!(
            "{}{}{}={}. ",
            st.a,
            st.op.symbol(),
            st.b,
            st.result
        ));
    }
    s.push_str(&format!("Answer: {value}"));
    s
}

/// `Q: 12+7*3-4=?\n`
pub fn prompt(chain: &Chain) -> String {
    format!("Q: {}=?\n", chain.expression())
}

/// The arithmetic task at one difficulty.
#[derive(Debug, Clone)]
pub struct Arithmetic {
    name: String,
    difficulty: Difficulty,
}

impl Arithmetic {
    /// A task named `name` (as logged and as ids start) generating chains of `difficulty`.
    ///
    /// # Panics
    /// If `difficulty.steps` or `difficulty.digits` is 0, or `digits > 4` (the divisor
    /// search scans the operand range; wider operands are no task for a tiny model).
    pub fn new(name: &str, difficulty: Difficulty) -> Self {
        assert!(
            difficulty.steps >= 1 && (1..=4).contains(&difficulty.digits),
            "arithmetic difficulty {difficulty:?}: steps >= 1 and 1 <= digits <= 4"
        );
        Self {
            name: name.to_owned(),
            difficulty,
        }
    }

    pub fn difficulty(&self) -> Difficulty {
        self.difficulty
    }
}

impl Task for Arithmetic {
    fn name(&self) -> &str {
        &self.name
    }

    /// Problem `i` is the `i`-th chain drawn from one generator seeded with `seed`, so the
    /// first `n` problems of a larger request are the `n` problems of a smaller one.
    /// Duplicates are possible (and likely at `arith-easy`, which has a few thousand
    /// distinct chains); they are kept, as independent draws.
    fn problems(&self, n: usize, seed: u64) -> Result<Vec<Problem>, TaskError> {
        let mut rng = SplitMix64::new(seed);
        let bound = self.difficulty.bound();
        Ok((0..n)
            .map(|i| {
                let chain = Chain::random(&mut rng, self.difficulty);
                let (steps, value) = chain
                    .evaluate(bound)
                    .expect("Chain::random returns chains that evaluate");
                Problem {
                    id: format!("{}-{seed}-{i}", self.name),
                    prompt: prompt(&chain),
                    gold: Some(value.to_string()),
                    demonstration: Some(demonstration(&steps, value)),
                }
            })
            .collect())
    }

    fn extract_answer(&self, completion: &str) -> Option<String> {
        answer::extract_answer(completion)
    }

    /// Exact: the answer is the gold integer in any written form (`29`, `+29`, `29.0`).
    fn is_correct(&self, gold: &str, answer: &str) -> bool {
        match (
            answer::normalize_number(gold),
            answer::normalize_number(answer),
        ) {
            (Some(g), Some(a)) => g == a,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(operands: &[i64], ops: &[Op]) -> Chain {
        Chain {
            operands: operands.to_vec(),
            ops: ops.to_vec(),
        }
    }

    #[test]
    fn precedence_and_demonstration_by_hand() {
        // 12+7*3-4 = 12+21-4 = 29.
        let c = chain(&[12, 7, 3, 4], &[Op::Add, Op::Mul, Op::Sub]);
        let (steps, v) = c.evaluate(10_000).unwrap();
        assert_eq!(v, 29);
        assert_eq!(prompt(&c), "Q: 12+7*3-4=?\n");
        assert_eq!(
            demonstration(&steps, v),
            "7*3=21. 12+21=33. 33-4=29. Answer: 29"
        );
        // 8/4*3-20 = 6-20 = -14: division left to right with multiplication, negatives ok.
        let c = chain(&[8, 4, 3, 20], &[Op::Div, Op::Mul, Op::Sub]);
        let (steps, v) = c.evaluate(10_000).unwrap();
        assert_eq!(
            demonstration(&steps, v),
            "8/4=2. 2*3=6. 6-20=-14. Answer: -14"
        );
    }

    #[test]
    fn inexact_division_and_out_of_range_values_are_refused() {
        assert!(chain(&[7, 2], &[Op::Div]).evaluate(100).is_none());
        assert!(chain(&[7, 0], &[Op::Div]).evaluate(100).is_none());
        assert!(chain(&[60, 2], &[Op::Mul]).evaluate(100).is_none());
        assert_eq!(chain(&[50, 2], &[Op::Mul]).evaluate(100).unwrap().1, 100);
    }

    #[test]
    fn generated_chains_agree_with_an_independent_evaluator() {
        for (name, d) in [
            ("arith-easy", Difficulty::EASY),
            ("arith-medium", Difficulty::MEDIUM),
            ("arith-hard", Difficulty::HARD),
        ] {
            let task = Arithmetic::new(name, d);
            let problems = task.problems(300, 42).unwrap();
            let mut divisions = 0;
            for p in &problems {
                let expr = p
                    .prompt
                    .strip_prefix("Q: ")
                    .and_then(|s| s.strip_suffix("=?\n"))
                    .unwrap();
                assert_eq!(expr.matches(['+', '-', '*', '/']).count(), d.steps);
                divisions += expr.matches('/').count();
                // game24's exact rational evaluator, written independently of this file.
                let value = crate::game24::evaluate(expr).unwrap();
                let gold = p.gold.as_deref().unwrap();
                assert_eq!(value.to_string(), gold, "{expr}");
                assert!(gold.parse::<i64>().unwrap().abs() <= d.bound());
                let demo = p.demonstration.as_deref().unwrap();
                assert_eq!(demo.matches(". ").count(), d.steps);
                assert!(task.is_correct(gold, &task.extract_answer(demo).unwrap()));
                // Prompts stay short for 128-token contexts.
                assert!(p.prompt.len() <= 32, "{}", p.prompt);
            }
            assert!(divisions > 0, "{name}: no division in 300 chains");
        }
    }

    #[test]
    fn same_seed_same_problems_and_prefixes_agree() {
        let t = Arithmetic::new("arith-medium", Difficulty::MEDIUM);
        let a = t.problems(20, 5).unwrap();
        assert_eq!(a, t.problems(20, 5).unwrap());
        assert_eq!(a[..7], t.problems(7, 5).unwrap()[..]);
        assert_ne!(a, t.problems(20, 6).unwrap());
        assert_eq!(a[3].id, "arith-medium-5-3");
    }

    #[test]
    fn verification_is_exact() {
        let t = Arithmetic::new("arith-easy", Difficulty::EASY);
        assert!(t.is_correct("29", "29"));
        assert!(t.is_correct("29", "+29.0"));
        assert!(t.is_correct("-14", "-14"));
        assert!(!t.is_correct("29", "28"));
        assert!(!t.is_correct("29", "29/2"));
        assert!(!t.is_correct("29", "twenty-nine"));
    }
}
