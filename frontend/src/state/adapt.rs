//! A new model adapts the stages it can: a sequence longer than the model's
//! learned positions is clamped to them, a phase the model cannot run (decode
//! on a vision model, an encoder, an imported graph or bare FLOPs) becomes
//! inference, and a language model gets a sequence where a vision model had
//! none. Each change is said in words. What cannot be adapted is left to the
//! core's check, under its field.

use crate::defaults;
use shared::model::{Architecture, HeadKind, InputKind, PositionKind, TransformerSpec};
use shared::scenario::{Phase, Scenario, Workload};

/// What the model can take.
struct Fit {
    /// Generates tokens (decode).
    decodes: bool,
    /// Reads token sequences (a language model, not images).
    tokens: bool,
    /// Learned positions: no sequence may be longer.
    max_positions: Option<u64>,
}

fn fit(arch: &Architecture) -> Fit {
    match arch {
        Architecture::Transformer(t) => transformer(t),
        Architecture::ResNet(_) => Fit {
            decodes: false,
            tokens: false,
            max_positions: None,
        },
        Architecture::Graph(_) | Architecture::Flops(_) => Fit {
            decodes: false,
            tokens: true,
            max_positions: None,
        },
    }
}

fn transformer(t: &TransformerSpec) -> Fit {
    let vision = matches!(t.input, InputKind::Patches { .. });
    Fit {
        decodes: t.causal && t.head == HeadKind::CausalLm && !vision,
        tokens: !vision,
        max_positions: (t.position == PositionKind::Learned && !vision && t.max_positions > 0)
            .then_some(t.max_positions),
    }
}

/// The stages of `s` adapted to its model, and what changed (`stage 1:
/// sequence 1,024 instead of 2,048 (gpt2-xl has 1,024 positions)`). Unchanged
/// when the model cannot be resolved (its field shows why).
pub fn stages(s: &Scenario) -> (Scenario, Vec<String>) {
    let Ok(arch) = shared::resolve::architecture(s) else {
        return (s.clone(), vec![]);
    };
    let f = fit(&arch);
    let name = model_name(s);
    let mut t = s.clone();
    let mut changes = vec![];
    for (i, st) in t.stages.iter_mut().enumerate() {
        let mut said = vec![];
        adapt(&mut st.workload, &f, &name, &mut said);
        changes.extend(said.into_iter().map(|c| format!("stage {}: {c}", i + 1)));
    }
    (t, changes)
}

fn adapt(w: &mut Workload, f: &Fit, name: &str, said: &mut Vec<String>) {
    let was = w.phase;
    let can_run = match w.phase {
        Phase::Decode => f.decodes,
        Phase::Prefill => f.tokens,
        Phase::Train | Phase::Inference => true,
    };
    if !can_run {
        w.phase = Phase::Inference;
        let why = if f.tokens {
            "does not generate tokens"
        } else {
            "reads images"
        };
        said.push(format!(
            "phase inference instead of {} ({name} {why})",
            was.as_str()
        ));
        if f.tokens && w.seq.is_none() {
            // the prompt is the sequence read in one pass
            w.seq = w.prompt;
        }
        w.prompt = None;
        w.new_tokens = None;
    }
    if !f.tokens {
        return;
    }
    if w.phase != Phase::Decode
        && w.seq.is_none()
        && (w.phase != Phase::Prefill || w.prompt.is_none())
    {
        // a vision model had no sequence: start from the page's default
        let seq = defaults::train_workload().seq.unwrap_or(1024);
        let seq = f.max_positions.map_or(seq, |m| seq.min(m));
        w.seq = Some(seq);
        said.push(format!(
            "sequence {} (a language model reads sequences)",
            group(seq)
        ));
    }
    let Some(max) = f.max_positions else { return };
    clamp(&mut w.seq, max, name, said);
    if w.phase == Phase::Prefill {
        clamp(&mut w.prompt, max, name, said);
    }
    if w.phase == Phase::Decode {
        let (p, n) = (w.prompt.unwrap_or(0), w.new_tokens.unwrap_or(0));
        if p + n > max {
            // keep the generated tokens when they fit, else share the positions
            let new = if n < max { n } else { max / 2 };
            let prompt = (max - new).max(1);
            said.push(format!(
                "prompt {} and {} new tokens instead of {} and {} ({name} has {} positions)",
                group(prompt),
                group(new),
                group(p),
                group(n),
                group(max)
            ));
            w.prompt = Some(prompt);
            w.new_tokens = Some(new);
        }
    }
}

/// A sequence past the model's positions, set to them.
fn clamp(slot: &mut Option<u64>, max: u64, name: &str, said: &mut Vec<String>) {
    if let Some(n) = slot.filter(|n| *n > max) {
        *slot = Some(max);
        said.push(format!(
            "sequence {} instead of {} ({name} has {} positions)",
            group(max),
            group(n),
            group(max)
        ));
    }
}

fn model_name(s: &Scenario) -> String {
    let m = &s.model;
    if let Some(p) = &m.preset {
        p.clone()
    } else if m.hf_config.is_some() {
        "the config".into()
    } else if let Some(g) = &m.graph {
        g.source.clone()
    } else {
        "a model given by FLOPs".into()
    }
}

fn group(n: u64) -> String {
    shared::check::thousands(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::example_scenario;

    fn with_preset(p: &str) -> Scenario {
        let mut s = example_scenario();
        s.model.preset = Some(p.into());
        s
    }

    /// GPT-2 XL has 1,024 learned positions: the example's 2,048-token
    /// training stages are clamped, and its 512 + 256 deployment fits.
    #[test]
    fn a_longer_sequence_is_clamped_to_the_positions() {
        let s = with_preset("gpt2-xl");
        assert!(shared::estimate::estimate_core(&s, &[]).is_err());
        let (t, said) = stages(&s);
        assert_eq!(t.stages[0].workload.seq, Some(1024));
        assert_eq!(t.stages[1].workload.seq, Some(1024));
        assert_eq!(t.stages[2].workload.prompt, Some(512));
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(
            said[0],
            "stage 1: sequence 1,024 instead of 2,048 (gpt2-xl has 1,024 positions)"
        );
        assert!(shared::estimate::estimate_core(&t, &[]).is_ok());
    }

    #[test]
    fn a_decode_longer_than_the_positions_keeps_its_new_tokens() {
        let mut s = with_preset("gpt2");
        s.stages[2].workload.prompt = Some(1000);
        s.stages[2].workload.new_tokens = Some(100);
        let (t, said) = stages(&s);
        let w = &t.stages[2].workload;
        // 1,024 positions: 100 new tokens kept, 924 of prompt
        assert_eq!((w.prompt, w.new_tokens), (Some(924), Some(100)));
        assert!(
            said.iter().any(|c| c
                .starts_with("stage 3: prompt 924 and 100 new tokens instead of 1,000 and 100")),
            "{said:?}"
        );
        assert!(shared::estimate::estimate_core(&t, &[]).is_ok());
    }

    /// ResNet-50 reads images: the deployment's decode becomes inference.
    #[test]
    fn a_vision_model_serves_by_inference() {
        let s = with_preset("resnet50");
        assert!(shared::estimate::estimate_core(&s, &[]).is_err());
        let (t, said) = stages(&s);
        let w = &t.stages[2].workload;
        assert_eq!(w.phase, Phase::Inference);
        assert_eq!((w.prompt, w.new_tokens), (None, None));
        assert_eq!(
            said,
            ["stage 3: phase inference instead of decode (resnet50 reads images)"]
        );
        assert!(shared::estimate::estimate_core(&t, &[]).is_ok());
        // and back to a language model: sequences again
        let mut back = t.clone();
        back.model.preset = Some("gpt2".into());
        for st in &mut back.stages {
            st.workload.seq = None;
        }
        let (u, said) = stages(&back);
        assert_eq!(u.stages[2].workload.seq, Some(1024));
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(shared::estimate::estimate_core(&u, &[]).is_ok());
    }

    /// BERT does not generate: decode becomes inference over the prompt.
    #[test]
    fn an_encoder_reads_the_prompt_in_one_pass() {
        let s = with_preset("bert-base");
        let (t, said) = stages(&s);
        let w = &t.stages[2].workload;
        assert_eq!(w.phase, Phase::Inference);
        assert_eq!(w.seq, Some(512));
        assert_eq!(
            said,
            [
                "stage 1: sequence 512 instead of 2,048 (bert-base has 512 positions)",
                "stage 2: sequence 512 instead of 2,048 (bert-base has 512 positions)",
                "stage 3: phase inference instead of decode (bert-base does not generate tokens)"
            ]
        );
        assert!(
            shared::estimate::estimate_core(&t, &[]).is_ok(),
            "{:?}",
            shared::estimate::estimate_core(&t, &[]).err()
        );
    }

    #[test]
    fn a_model_that_fits_changes_nothing() {
        let s = with_preset("llama-2-7b");
        let (t, said) = stages(&s);
        assert_eq!(t, s);
        assert!(said.is_empty());
    }
}
