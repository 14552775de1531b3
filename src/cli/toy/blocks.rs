//! The block-finding task of Multi-Token Attention (Golovneva et al. 2025, §3; the reference
//! generator is facebookresearch/RAM `projects/mta/toy_task/generate_data.py`): blocks of N
//! distinct random letters separated by `.`, then `#` and L letters of one block, which is
//! the only block holding all of them; the model must copy that block.

use kiln_model::rng::Rng;

/// The 26 letters, then the block and query separators.
pub const VOCAB: &[u8] = b"abcdefghijklmnopqrstuvwxyz.#";
const LETTERS: usize = 26;
const BLOCK_SEPARATOR: u32 = 26;
const QUERY_SEPARATOR: u32 = 27;

/// Shape of the task's sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlocksTask {
    /// Blocks per sequence.
    pub blocks: usize,
    /// Letters per block, N.
    pub block_len: usize,
    /// Query letters, L.
    pub query_len: usize,
}

/// One example: the whole sequence (prompt then answer) as token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub tokens: Vec<u32>,
}

impl BlocksTask {
    /// The paper's N = 5 and L = 2 with `blocks` blocks (the paper has 52: 319 characters).
    pub fn new(blocks: usize) -> Self {
        Self {
            blocks,
            block_len: 5,
            query_len: 2,
        }
    }

    /// Characters per example: blocks and separators, `#`, query, answer.
    pub fn seq_len(&self) -> usize {
        self.blocks * (self.block_len + 1) - 1 + 1 + self.query_len + self.block_len
    }

    /// Tokens of the answer (the last `block_len` of every example).
    pub fn answer_len(&self) -> usize {
        self.block_len
    }

    /// A random example: the target block and L of its letters, and `blocks − 1` other blocks
    /// that do not contain all the query letters, in random order.
    pub fn sample(&self, rng: &mut Rng) -> Example {
        let target = distinct_letters(rng, self.block_len);
        let query = pick(rng, &target, self.query_len);
        let mut blocks = vec![target.clone()];
        while blocks.len() < self.blocks {
            let block = distinct_letters(rng, self.block_len);
            if !query.iter().all(|q| block.contains(q)) {
                blocks.push(block);
            }
        }
        // Fisher-Yates shuffle of the block order.
        for i in (1..blocks.len()).rev() {
            blocks.swap(i, rng.below(i + 1));
        }
        let mut tokens = Vec::with_capacity(self.seq_len());
        for (i, block) in blocks.iter().enumerate() {
            if i > 0 {
                tokens.push(BLOCK_SEPARATOR);
            }
            tokens.extend(block);
        }
        tokens.push(QUERY_SEPARATOR);
        tokens.extend(&query);
        tokens.extend(&target);
        Example { tokens }
    }
}

/// `n` distinct letters in random order.
fn distinct_letters(rng: &mut Rng, n: usize) -> Vec<u32> {
    let all: Vec<u32> = (0..LETTERS as u32).collect();
    pick(rng, &all, n)
}

/// `n` distinct elements of `from`, in random order (a partial Fisher-Yates shuffle).
fn pick(rng: &mut Rng, from: &[u32], n: usize) -> Vec<u32> {
    let mut pool = from.to_vec();
    for i in 0..n {
        let j = i + rng.below(pool.len() - i);
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool
}

/// The example as text, e.g. `abcde.fghij#bd` + `abcde`.
pub fn render(tokens: &[u32]) -> String {
    tokens.iter().map(|&t| VOCAB[t as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_block_holds_the_query_and_it_is_the_answer() {
        let task = BlocksTask::new(12);
        let mut rng = Rng::seed(5);
        for _ in 0..500 {
            let text = render(&task.sample(&mut rng).tokens);
            assert_eq!(text.len(), task.seq_len());
            let (prompt, answer) = text.split_at(text.len() - 5);
            let (blocks, query) = prompt.split_once('#').unwrap();
            assert_eq!(query.len(), 2);
            let blocks: Vec<&str> = blocks.split('.').collect();
            assert_eq!(blocks.len(), 12);
            for b in &blocks {
                assert_eq!(b.len(), 5);
                let mut letters: Vec<char> = b.chars().collect();
                letters.sort();
                letters.dedup();
                assert_eq!(letters.len(), 5, "letters of a block are distinct: {b}");
                assert!(letters.iter().all(char::is_ascii_lowercase));
            }
            let holding: Vec<&&str> = blocks
                .iter()
                .filter(|b| query.chars().all(|q| b.contains(q)))
                .collect();
            assert_eq!(holding, [&answer], "{text}");
            assert_ne!(query.as_bytes()[0], query.as_bytes()[1]);
        }
    }

    #[test]
    fn the_target_block_appears_anywhere() {
        let task = BlocksTask::new(4);
        let mut rng = Rng::seed(6);
        let mut seen = [0usize; 4];
        for _ in 0..400 {
            let text = render(&task.sample(&mut rng).tokens);
            let (prompt, answer) = text.split_at(text.len() - 5);
            let blocks: Vec<&str> = prompt.split('#').next().unwrap().split('.').collect();
            seen[blocks.iter().position(|b| *b == answer).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }

    #[test]
    fn paper_length_is_319_characters() {
        assert_eq!(BlocksTask::new(52).seq_len(), 319);
    }
}
