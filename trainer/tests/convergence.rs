//! A tiny model trained for a few hundred steps on real text learns, on the flex CPU backend
//! and on wgpu.

use kiln_model::TransformerConfig;
use kiln_model::device::test_devices;
use kiln_model::tokenizer::TextTokenizer;
use kiln_trainer::data::TokenData;
use kiln_trainer::objective::Objective;
use kiln_trainer::observer::Silent;
use kiln_trainer::{NextToken, TrainConfig, Trainer};

#[test]
fn loss_falls_well_below_its_start_on_cpu_and_wgpu() {
    let text = &include_str!("../../data/jargon/train.txt")[..40_000];
    let tokenizer = TextTokenizer::train_bpe(text.lines(), 384).unwrap();
    let ids = tokenizer.encode(text).unwrap();
    let split = ids.len() * 9 / 10;
    let config = TrainConfig::new()
        .with_steps(300)
        .with_batch_size(8)
        .with_seq_len(32)
        .with_warmup_steps(20)
        .with_learning_rate(1e-2)
        .with_eval_every(300)
        .with_eval_batches(4);
    let train = TokenData::new(ids[..split].to_vec(), config.seq_len, "train").unwrap();
    let valid = TokenData::new(ids[split..].to_vec(), config.seq_len, "valid").unwrap();
    let model_config = TransformerConfig::preset("tiny").unwrap();
    for (backend, device) in test_devices() {
        let trainer = Trainer {
            config: config.clone(),
            model_config: model_config.clone(),
            device: device.autodiff(),
            checkpoints: None,
            tokenizer_crc32: None,
            stop_at: None,
        };
        let mut objective =
            NextToken::new(&train, &valid, &config, model_config.vocab_size).unwrap();
        let held_out = |objective: &mut NextToken, model: &kiln_model::Transformer| {
            let eval = objective.evaluate(&burn::module::Module::valid(model));
            eval.unwrap().unwrap().lm.unwrap().loss
        };
        let state = trainer.fresh_state();
        let before = held_out(&mut objective, &state.model);
        let state = trainer.fit(state, &mut objective, &mut Silent).unwrap();
        let after = held_out(&mut objective, &state.model);
        // The loop's own evaluation at its last step is the same number.
        let last = state.last_eval.as_ref().unwrap().lm.unwrap().loss;
        assert!((last - after).abs() < 1e-9, "{backend}: {last} vs {after}");
        // A fresh model scores ~ln(384) = 5.95 nats; the tiny model must get well below it.
        assert!(before > 5.5, "{backend}: initial loss {before}");
        assert!(
            after < before - 1.5,
            "{backend}: held-out loss {before:.3} -> {after:.3}"
        );
    }
}
