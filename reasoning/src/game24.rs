//! Game of 24 on the 1,362 puzzles of Tree of Thoughts (Yao et al. 2023, arXiv 2305.10601,
//! §4.1; `tot/data/24/24.csv` in the PyPI package `tree-of-thoughts-llm` 0.1.0, fetched by
//! `.ci/fetch-reasoning-data.sh`): combine four numbers with `+ - * /` and parentheses to
//! make 24.
//!
//! Any expression that uses exactly the puzzle's four numbers (as a multiset) and equals 24
//! in exact rational arithmetic is correct, as ToT's own test (`sympy.simplify(expr) == 24`
//! and the same sorted numbers). A brute-force solver gives every puzzle a worked
//! demonstration for SFT:
//!
//! ```text
//! prompt:         Q: use 4 4 6 8 to make 24\n
//! demonstration:  4+8=12. 12-6=6. 6*4=24. Answer: (4+8-6)*4
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::answer;
use crate::error::TaskError;
use crate::task::{Problem, Task, seeded_sample};

/// An exact rational `num/den`, reduced, `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    pub num: i128,
    pub den: i128,
}

impl Rational {
    pub fn int(n: i128) -> Self {
        Self { num: n, den: 1 }
    }

    fn new(num: i128, den: i128) -> Result<Self, ExprError> {
        if den == 0 {
            return Err(ExprError::DivisionByZero);
        }
        let g = gcd(num.unsigned_abs(), den.unsigned_abs()) as i128;
        let (num, den) = (num / g, den / g);
        Ok(if den < 0 {
            Self {
                num: num.checked_neg().ok_or(ExprError::Overflow)?,
                den: -den,
            }
        } else {
            Self { num, den }
        })
    }

    fn add(self, o: Self) -> Result<Self, ExprError> {
        let num = self
            .num
            .checked_mul(o.den)
            .zip(o.num.checked_mul(self.den))
            .and_then(|(a, b)| a.checked_add(b));
        let den = self.den.checked_mul(o.den);
        Self::new(
            num.ok_or(ExprError::Overflow)?,
            den.ok_or(ExprError::Overflow)?,
        )
    }

    fn neg(self) -> Result<Self, ExprError> {
        Ok(Self {
            num: self.num.checked_neg().ok_or(ExprError::Overflow)?,
            den: self.den,
        })
    }

    fn sub(self, o: Self) -> Result<Self, ExprError> {
        self.add(o.neg()?)
    }

    fn mul(self, o: Self) -> Result<Self, ExprError> {
        let num = self.num.checked_mul(o.num).ok_or(ExprError::Overflow)?;
        let den = self.den.checked_mul(o.den).ok_or(ExprError::Overflow)?;
        Self::new(num, den)
    }

    fn div(self, o: Self) -> Result<Self, ExprError> {
        let num = self.num.checked_mul(o.den).ok_or(ExprError::Overflow)?;
        let den = self.den.checked_mul(o.num).ok_or(ExprError::Overflow)?;
        Self::new(num, den)
    }

    fn is_int(&self) -> bool {
        self.den == 1
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Why an expression has no value. A wrong answer, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("a value overflows exact 128-bit arithmetic")]
    Overflow,
    #[error("unexpected `{0}`")]
    Unexpected(String),
    #[error("the expression ends early")]
    UnexpectedEnd,
    #[error("parentheses nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Parentheses and unary signs deeper than this are refused (no stack overflow on hostile
/// input such as 10,000 `(`).
pub const MAX_DEPTH: usize = 64;

/// The exact value of an arithmetic expression over non-negative integer literals with
/// `+ - * /` (also `× ÷ −`), unary `+`/`-` and parentheses, standard precedence.
///
/// # Errors
/// [`ExprError`] for anything that is not such an expression, a division by zero or a value
/// beyond i128.
pub fn evaluate(expr: &str) -> Result<Rational, ExprError> {
    Ok(parse(expr)?.0)
}

/// The value and the integer literals used, in order.
fn parse(expr: &str) -> Result<(Rational, Vec<i128>), ExprError> {
    let tokens = tokenize(expr)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        numbers: Vec::new(),
    };
    let v = p.expr(0)?;
    match p.tokens.get(p.at) {
        None => Ok((v, p.numbers)),
        Some(t) => Err(ExprError::Unexpected(t.to_string())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(i128),
    Op(char),
    Open,
    Close,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "{n}"),
            Tok::Op(c) => write!(f, "{c}"),
            Tok::Open => f.write_str("("),
            Tok::Close => f.write_str(")"),
        }
    }
}

fn tokenize(expr: &str) -> Result<Vec<Tok>, ExprError> {
    let mut tokens = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '0'..='9' => {
                let mut n = i128::from(c as u8 - b'0');
                while let Some(&d @ '0'..='9') = chars.peek() {
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(i128::from(d as u8 - b'0')))
                        .ok_or(ExprError::Overflow)?;
                    chars.next();
                }
                tokens.push(Tok::Num(n));
            }
            '+' => tokens.push(Tok::Op('+')),
            '-' | '−' => tokens.push(Tok::Op('-')),
            '*' | '×' | '·' => tokens.push(Tok::Op('*')),
            '/' | '÷' => tokens.push(Tok::Op('/')),
            '(' => tokens.push(Tok::Open),
            ')' => tokens.push(Tok::Close),
            other => return Err(ExprError::Unexpected(other.to_string())),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Tok],
    at: usize,
    numbers: Vec<i128>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<Tok> {
        self.tokens.get(self.at).copied()
    }

    // expr := term (('+' | '-') term)*
    fn expr(&mut self, depth: usize) -> Result<Rational, ExprError> {
        let mut v = self.term(depth)?;
        while let Some(Tok::Op(c @ ('+' | '-'))) = self.peek() {
            self.at += 1;
            let r = self.term(depth)?;
            v = if c == '+' { v.add(r)? } else { v.sub(r)? };
        }
        Ok(v)
    }

    // term := unary (('*' | '/') unary)*
    fn term(&mut self, depth: usize) -> Result<Rational, ExprError> {
        let mut v = self.unary(depth)?;
        while let Some(Tok::Op(c @ ('*' | '/'))) = self.peek() {
            self.at += 1;
            let r = self.unary(depth)?;
            v = if c == '*' { v.mul(r)? } else { v.div(r)? };
        }
        Ok(v)
    }

    // unary := ('+' | '-') unary | atom;  atom := number | '(' expr ')'
    fn unary(&mut self, depth: usize) -> Result<Rational, ExprError> {
        if depth > MAX_DEPTH {
            return Err(ExprError::TooDeep);
        }
        match self.peek() {
            Some(Tok::Op('-')) => {
                self.at += 1;
                self.unary(depth + 1)?.neg()
            }
            Some(Tok::Op('+')) => {
                self.at += 1;
                self.unary(depth + 1)
            }
            Some(Tok::Num(n)) => {
                self.at += 1;
                self.numbers.push(n);
                Ok(Rational::int(n))
            }
            Some(Tok::Open) => {
                self.at += 1;
                let v = self.expr(depth + 1)?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.at += 1;
                        Ok(v)
                    }
                    Some(t) => Err(ExprError::Unexpected(t.to_string())),
                    None => Err(ExprError::UnexpectedEnd),
                }
            }
            Some(t) => Err(ExprError::Unexpected(t.to_string())),
            None => Err(ExprError::UnexpectedEnd),
        }
    }
}

/// Whether `expr` uses exactly `numbers` (as a multiset) and equals 24.
pub fn verify(numbers: &[i128], expr: &str) -> bool {
    let Ok((value, mut used)) = parse(expr) else {
        return false;
    };
    let mut want = numbers.to_vec();
    used.sort_unstable();
    want.sort_unstable();
    used == want && value == Rational::int(24)
}

/// A solution found by [`solve`]: the expression and one step per operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// With only the parentheses precedence needs: `(4+8-6)*4`.
    pub expression: String,
    /// `["4+8=12", "12-6=6", "6*4=24"]`: each combines two of the remaining values.
    pub steps: Vec<String>,
}

impl Solution {
    /// `4+8=12. 12-6=6. 6*4=24. Answer: (4+8-6)*4`
    pub fn demonstration(&self) -> String {
        let mut s = String::new();
        for step in &self.steps {
            s.push_str(step);
            s.push_str(". ");
        }
        s.push_str("Answer: ");
        s.push_str(&self.expression);
        s
    }
}

/// One value still in play during the search: its exact value, its expression and the
/// expression's precedence (0: `+`/`-` at the top, 1: `*`/`/`, 2: a literal).
#[derive(Clone)]
struct Item {
    value: Rational,
    expr: String,
    prec: u8,
}

/// The first solution of a depth-first search over every way of combining two remaining
/// values with an operation (ToT's "propose" tree, exhaustively), or `None`. It first looks
/// for a solution whose intermediate values are all non-negative (easier to read and to
/// learn), then for any.
pub fn solve(numbers: &[i128]) -> Option<Solution> {
    let items: Vec<Item> = numbers
        .iter()
        .map(|&n| Item {
            value: Rational::int(n),
            expr: n.to_string(),
            prec: 2,
        })
        .collect();
    [false, true].into_iter().find_map(|allow_negative| {
        let mut steps = Vec::new();
        search(&items, allow_negative, &mut steps).map(|expression| Solution { expression, steps })
    })
}

fn search(items: &[Item], allow_negative: bool, steps: &mut Vec<String>) -> Option<String> {
    if items.len() == 1 {
        return (items[0].value == Rational::int(24)).then(|| items[0].expr.clone());
    }
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let rest: Vec<Item> = (0..items.len())
                .filter(|&k| k != i && k != j)
                .map(|k| items[k].clone())
                .collect();
            let (a, b) = (&items[i], &items[j]);
            for (x, op, y) in [
                (a, '+', b),
                (a, '*', b),
                (a, '-', b),
                (b, '-', a),
                (a, '/', b),
                (b, '/', a),
            ] {
                let Some(c) = combine(x, op, y) else { continue };
                if !allow_negative && c.value.num < 0 {
                    continue;
                }
                steps.push(format!(
                    "{}{op}{}={}",
                    operand(x.value),
                    operand(y.value),
                    c.value
                ));
                let mut next = rest.clone();
                next.push(c);
                if let Some(e) = search(&next, allow_negative, steps) {
                    return Some(e);
                }
                steps.pop();
            }
        }
    }
    None
}

/// A step's operand: bare when a non-negative integer, else in parentheses: `8/(1/3)`.
fn operand(v: Rational) -> String {
    if v.is_int() && v.num >= 0 {
        v.to_string()
    } else {
        format!("({v})")
    }
}

/// `x op y` with the parentheses precedence needs (`a-(b+c)`, `(a+b)*c`, `a/(b*c)`).
fn combine(x: &Item, op: char, y: &Item) -> Option<Item> {
    let value = match op {
        '+' => x.value.add(y.value),
        '-' => x.value.sub(y.value),
        '*' => x.value.mul(y.value),
        _ => x.value.div(y.value),
    }
    .ok()?;
    let prec = if matches!(op, '+' | '-') { 0 } else { 1 };
    let wrap = |it: &Item, needs: bool| {
        if needs {
            format!("({})", it.expr)
        } else {
            it.expr.clone()
        }
    };
    // Left operand: parenthesised only under * or / when it is a sum. Right operand: under
    // `-` when a sum, under `*` when a sum, under `/` unless a literal.
    let left = wrap(x, prec == 1 && x.prec == 0);
    let right = wrap(
        y,
        match op {
            '+' => false,
            '-' | '*' => y.prec == 0,
            _ => y.prec < 2,
        },
    );
    Some(Item {
        value,
        expr: format!("{left}{op}{right}"),
        prec,
    })
}

/// One puzzle of `24.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puzzle {
    /// The `Rank` column (1 = solved fastest by humans; ToT tests on ranks 901–1000).
    pub rank: usize,
    /// The four numbers, as the `Puzzles` column lists them.
    pub numbers: [i128; 4],
}

impl Puzzle {
    /// `4 4 6 8`: the gold string.
    pub fn gold(&self) -> String {
        self.numbers
            .iter()
            .map(i128::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The Game of 24 task over the puzzles of one `24.csv`.
#[derive(Debug, Clone)]
pub struct Game24 {
    puzzles: Vec<Puzzle>,
}

/// How the error message says to get the file.
const FETCH_HINT: &str = "run .ci/fetch-reasoning-data.sh (PyPI tree-of-thoughts-llm 0.1.0)";

impl Game24 {
    /// Where `.ci/fetch-reasoning-data.sh` puts the file under kiln's data folder.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("reasoning").join("24.csv")
    }

    /// Reads ToT's `24.csv` (`Rank,Puzzles,…` header; `Puzzles` holds four numbers separated
    /// by spaces).
    ///
    /// # Errors
    /// [`TaskError::MissingData`] when the file is absent (saying how to fetch it), and
    /// errors naming the file and line for invalid UTF-8, a missing column or a puzzle that
    /// is not four positive integers.
    pub fn from_csv(path: &Path) -> Result<Self, TaskError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TaskError::MissingData {
                    path: path.to_owned(),
                    hint: FETCH_HINT.to_owned(),
                });
            }
            Err(e) => return Err(TaskError::io(path)(e)),
        };
        let text = String::from_utf8(bytes).map_err(|e| TaskError::BadFile {
            path: path.to_owned(),
            reason: format!("not UTF-8 ({e})"),
        })?;
        let bad = |line: usize, reason: String| TaskError::Malformed {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = match lines.next() {
            Some((_, h)) => h.trim_end_matches('\r').split(',').collect(),
            None => {
                return Err(TaskError::BadFile {
                    path: path.to_owned(),
                    reason: "empty file".into(),
                });
            }
        };
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| bad(1, format!("no `{name}` column in the header")))
        };
        let (rank_col, puzzle_col) = (col("Rank")?, col("Puzzles")?);
        let mut puzzles = Vec::new();
        for (i, line) in lines {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != header.len() {
                return Err(bad(
                    i + 1,
                    format!("{} fields, the header has {}", fields.len(), header.len()),
                ));
            }
            let rank = fields[rank_col].trim().parse().map_err(|_| {
                bad(
                    i + 1,
                    format!("rank `{}` is not a number", fields[rank_col]),
                )
            })?;
            let numbers: Vec<i128> = fields[puzzle_col]
                .split_whitespace()
                .map(|n| n.parse::<i128>().ok().filter(|&n| n > 0))
                .collect::<Option<_>>()
                .filter(|v: &Vec<i128>| v.len() == 4)
                .ok_or_else(|| {
                    bad(
                        i + 1,
                        format!(
                            "puzzle `{}` is not four positive integers",
                            fields[puzzle_col]
                        ),
                    )
                })?;
            puzzles.push(Puzzle {
                rank,
                numbers: [numbers[0], numbers[1], numbers[2], numbers[3]],
            });
        }
        Ok(Self { puzzles })
    }

    pub fn puzzles(&self) -> &[Puzzle] {
        &self.puzzles
    }
}

/// `Q: use 4 4 6 8 to make 24\n`
pub fn prompt(puzzle: &Puzzle) -> String {
    format!("Q: use {} to make 24\n", puzzle.gold())
}

impl Task for Game24 {
    fn name(&self) -> &str {
        "game24"
    }

    fn problems(&self, n: usize, seed: u64) -> Result<Vec<Problem>, TaskError> {
        Ok(seeded_sample("game24", &self.puzzles, n, seed)?
            .into_iter()
            .map(|p| Problem {
                id: format!("game24-{}", p.rank),
                prompt: prompt(&p),
                gold: Some(p.gold()),
                demonstration: solve(&p.numbers).map(|s| s.demonstration()),
            })
            .collect())
    }

    /// The expression, with white space removed, `× ÷ −` written `* / -` and a trailing
    /// `= 24` (and full stop) dropped, so that votes count `(4+8-6)*4` and `(4 + 8 - 6) × 4
    /// = 24.` as one answer. Different correct expressions stay different answers: a
    /// majority vote over Game of 24 answers is a weak signal.
    fn extract_answer(&self, completion: &str) -> Option<String> {
        let raw = answer::extract_final(completion)?;
        let mut e: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '×' | '·' => '*',
                '÷' => '/',
                '−' => '-',
                c => c,
            })
            .collect();
        if let Some(s) = e.strip_suffix('.') {
            e = s.to_owned();
        }
        if let Some(s) = e.strip_suffix("=24") {
            e = s.to_owned();
        }
        (!e.is_empty()).then_some(e)
    }

    /// `gold` is the four numbers (`4 4 6 8`); `answer` an expression ([`verify`]).
    fn is_correct(&self, gold: &str, answer: &str) -> bool {
        let numbers: Option<Vec<i128>> = gold.split_whitespace().map(|n| n.parse().ok()).collect();
        numbers.is_some_and(|n| verify(&n, answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(num: i128, den: i128) -> Rational {
        Rational::new(num, den).unwrap()
    }

    #[test]
    fn evaluation_is_exact_with_precedence() {
        assert_eq!(evaluate("8/(3-8/3)"), Ok(Rational::int(24)));
        assert_eq!(evaluate("1+2*3"), Ok(Rational::int(7)));
        assert_eq!(evaluate("(1+2)*3"), Ok(Rational::int(9)));
        assert_eq!(evaluate("8/3"), Ok(r(8, 3)));
        assert_eq!(evaluate("8-4-2"), Ok(Rational::int(2)));
        assert_eq!(evaluate("8/4/2"), Ok(Rational::int(1)));
        assert_eq!(evaluate("-(1-5) × 6"), Ok(Rational::int(24)));
        assert_eq!(evaluate("2*-3"), Ok(Rational::int(-6)));
    }

    #[test]
    fn bad_expressions_are_errors_not_panics() {
        assert_eq!(evaluate("4/(2-2)"), Err(ExprError::DivisionByZero));
        assert_eq!(evaluate("(1+2"), Err(ExprError::UnexpectedEnd));
        assert_eq!(evaluate("1+"), Err(ExprError::UnexpectedEnd));
        assert_eq!(evaluate(""), Err(ExprError::UnexpectedEnd));
        assert_eq!(evaluate("1 2"), Err(ExprError::Unexpected("2".into())));
        assert_eq!(evaluate("2^3"), Err(ExprError::Unexpected("^".into())));
        assert_eq!(evaluate(&"(".repeat(10_000)), Err(ExprError::TooDeep));
        assert_eq!(evaluate(&"-".repeat(10_000)), Err(ExprError::TooDeep));
        assert_eq!(evaluate(&"9".repeat(50)), Err(ExprError::Overflow));
        let big = format!("{0}*{0}*{0}", "9".repeat(30));
        assert_eq!(evaluate(&big), Err(ExprError::Overflow));
    }

    #[test]
    fn verifier_needs_the_exact_multiset_and_24() {
        let n = [4, 4, 6, 8];
        assert!(verify(&n, "(4+8-6)*4"));
        assert!(verify(&n, "4*(8-6+4)"));
        assert!(verify(&n, "(6-4)*(8+4)"));
        assert!(!verify(&n, "4*6"), "numbers missing");
        assert!(!verify(&n, "(4+8-6)*4+0"), "an extra number");
        assert!(!verify(&n, "(4+8-6)*4*1"), "an extra number");
        assert!(!verify(&n, "(6+8-4)*4"), "wrong value");
        assert!(!verify(&n, "(4+8-6)*4/0"), "division by zero");
        assert!(!verify(&n, "44+6-8"), "digits glued into one number");
        assert!(!verify(&n, "not an expression"));
    }

    #[test]
    fn solver_finds_the_classic_fraction_puzzle() {
        // 3 3 8 8 has one solution, through 1/3: 8/(3-8/3).
        let s = solve(&[3, 3, 8, 8]).unwrap();
        assert!(verify(&[3, 3, 8, 8], &s.expression), "{s:?}");
        assert_eq!(s.steps.len(), 3);
        assert!(s.steps.iter().any(|st| st.contains("1/3")), "{s:?}");
        assert!(solve(&[1, 1, 1, 1]).is_none());
    }

    #[test]
    fn demonstration_format_by_hand() {
        let s = Solution {
            expression: "(4+8-6)*4".into(),
            steps: vec!["4+8=12".into(), "12-6=6".into(), "6*4=24".into()],
        };
        assert_eq!(
            s.demonstration(),
            "4+8=12. 12-6=6. 6*4=24. Answer: (4+8-6)*4"
        );
        // The solver's own demonstrations have the same shape and verify.
        let d = solve(&[4, 4, 6, 8]).unwrap().demonstration();
        assert_eq!(d.matches(". ").count(), 3, "{d}");
        let game = Game24 { puzzles: vec![] };
        assert!(
            game.is_correct("4 4 6 8", &game.extract_answer(&d).unwrap()),
            "{d}"
        );
    }

    #[test]
    fn expressions_get_only_the_parentheses_they_need() {
        let lit = |n: i128| Item {
            value: Rational::int(n),
            expr: n.to_string(),
            prec: 2,
        };
        let sum = combine(&lit(4), '+', &lit(8)).unwrap();
        let prod = combine(&lit(2), '*', &lit(3)).unwrap();
        let e = |x: &Item, op, y: &Item| combine(x, op, y).unwrap().expr;
        assert_eq!(e(&sum, '-', &lit(6)), "4+8-6");
        assert_eq!(e(&lit(6), '-', &sum), "6-(4+8)");
        assert_eq!(e(&sum, '*', &lit(2)), "(4+8)*2");
        assert_eq!(e(&lit(2), '*', &sum), "2*(4+8)");
        assert_eq!(e(&lit(6), '/', &prod), "6/(2*3)");
        assert_eq!(e(&prod, '/', &lit(6)), "2*3/6");
        assert_eq!(e(&lit(1), '+', &sum), "1+4+8");
        // Each rendering evaluates to the combined value.
        let c = combine(&lit(6), '/', &prod).unwrap();
        assert_eq!(evaluate(&c.expr), Ok(c.value));
    }

    #[test]
    fn extraction_normalises_operators_and_a_trailing_equals() {
        let game = Game24 { puzzles: vec![] };
        assert_eq!(
            game.extract_answer("Answer: (4 + 8 − 6) × 4 = 24.")
                .as_deref(),
            Some("(4+8-6)*4")
        );
        assert_eq!(game.extract_answer("\\boxed{6*4}").as_deref(), Some("6*4"));
        assert_eq!(game.extract_answer("no idea"), None);
        assert!(!game.is_correct("4 4 6 8", "(4+8-6)*4="));
        assert!(!game.is_correct("not numbers", "(4+8-6)*4"));
    }

    #[test]
    fn csv_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("24.csv");
        std::fs::write(&p, "Rank,Puzzles,AMT (s)\n1,1 1 4 6,4.4\n2,1 1 x 6,4.4\n").unwrap();
        let err = Game24::from_csv(&p).unwrap_err().to_string();
        assert!(
            err.contains("24.csv:3:") && err.contains("1 1 x 6"),
            "{err}"
        );
        std::fs::write(&p, "Rank,Numbers\n1,1 1 4 6\n").unwrap();
        let err = Game24::from_csv(&p).unwrap_err().to_string();
        assert!(
            err.contains("24.csv:1:") && err.contains("Puzzles"),
            "{err}"
        );
        std::fs::write(&p, b"Rank,Puzzles\n1,\xff\n").unwrap();
        let err = Game24::from_csv(&p).unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
        // No trailing newline, CRLF: both fine.
        std::fs::write(&p, "Rank,Puzzles\r\n1,1 1 4 6\r\n2,2 3 5 12").unwrap();
        let g = Game24::from_csv(&p).unwrap();
        assert_eq!(g.puzzles().len(), 2);
        assert_eq!(g.puzzles()[1].gold(), "2 3 5 12");
        let err = g.problems(3, 0).unwrap_err().to_string();
        assert_eq!(err, "task `game24` holds 2 problems, 3 were asked for");
    }
}
