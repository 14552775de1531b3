//! Swi+FT and StochA inside the training loop: the switch to RELU happens at update
//! `(1 − α)·steps + 1`, and StochA's draws repeat with the seed.
//!
//! One test function on purpose: Burn's CPU backend seeds one generator for the whole
//! process, so tests running in parallel threads would interleave their draws.

use kiln_model::tokenizer::TextTokenizer;
use kiln_model::{Activation, HiddenAct, TransformerConfig};
use kiln_trainer::data::TokenData;
use kiln_trainer::observer::TrainObserver;
use kiln_trainer::{NextToken, TrainConfig, Trainer};

struct Losses(Vec<f64>);

impl TrainObserver for Losses {
    fn on_step(&mut self, _step: usize, loss: f64, _tokens_per_sec: f64) {
        self.0.push(loss);
    }
}

fn data() -> (TokenData, TokenData) {
    let text = &include_str!("../../data/jargon/train.txt")[..20_000];
    let tokenizer = TextTokenizer::train_bpe(text.lines(), 384).unwrap();
    let ids = tokenizer.encode(text).unwrap();
    let split = ids.len() * 9 / 10;
    (
        TokenData::new(ids[..split].to_vec(), 16, "train").unwrap(),
        TokenData::new(ids[split..].to_vec(), 16, "valid").unwrap(),
    )
}

/// Trains the tiny model for up to `stop_at` of 6 updates; the final activation and losses.
fn train(hidden_act: HiddenAct, alpha: f64, stop_at: usize) -> (Activation, Vec<f64>) {
    let (train, valid) = data();
    let trainer = Trainer {
        config: TrainConfig::new()
            .with_steps(6)
            .with_batch_size(4)
            .with_seq_len(16)
            .with_warmup_steps(1)
            .with_eval_batches(1)
            .with_relu_finetune(alpha),
        model_config: TransformerConfig::preset("tiny")
            .unwrap()
            .with_hidden_act(hidden_act)
            .with_stocha_p(0.5),
        device: burn::tensor::Device::flex().autodiff(),
        checkpoints: None,
        tokenizer_crc32: None,
        stop_at: Some(stop_at),
    };
    let mut losses = Losses(Vec::new());
    let mut objective = NextToken::new(
        &train,
        &valid,
        &trainer.config,
        trainer.model_config.vocab_size,
    )
    .unwrap();
    let state = trainer
        .fit(trainer.fresh_state(), &mut objective, &mut losses)
        .unwrap();
    (state.model.activation(), losses.0)
}

#[test]
fn swi_ft_switches_at_the_right_update_and_stocha_repeats_with_the_seed() {
    // α = 0.5 of 6 updates: updates 1-3 with SILU, 4-6 with RELU.
    assert_eq!(train(HiddenAct::Silu, 0.5, 3).0, Activation::Silu);
    let (act, with_switch) = train(HiddenAct::Silu, 0.5, 4);
    assert_eq!(act, Activation::Relu);
    let (_, without) = train(HiddenAct::Silu, 0.0, 4);
    assert_eq!(with_switch[..3], without[..3]);
    assert_ne!(with_switch[3], without[3]);

    let (act, a) = train(HiddenAct::Stocha, 0.0, 6);
    assert!(matches!(act, Activation::Stocha { p, .. } if p == 0.5));
    let (_, b) = train(HiddenAct::Stocha, 0.0, 6);
    assert_eq!(a, b);
    let (_, silu) = train(HiddenAct::Silu, 0.0, 6);
    assert_ne!(a, silu);
}
