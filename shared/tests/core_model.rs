//! Parameters and FLOPs of the model library against published figures and
//! hand-worked formulas.

#![allow(clippy::unwrap_used)]

#[path = "support/plans.rs"]
mod plans;
use plans::first_plan;
use shared::estimate::parse_scenario;
use shared::resolve::architecture;

fn scenario(model: &str, workload: &str) -> shared::scenario::Scenario {
    parse_scenario(&format!(
        r#"{{"version":1,"model":{model},"stages":[{{"kind":"final_training","workload":{workload},"steps":1}}],"hardware":{{"device":"h100-sxm"}}}}"#
    ))
    .unwrap()
}

fn step(model: &str, workload: &str) -> shared::plan::StepPlan {
    first_plan(&scenario(model, workload))
}

/// The plan of the first stage of a whole scenario given as JSON.
fn plan_of(json: &str) -> shared::plan::StepPlan {
    first_plan(&parse_scenario(json).unwrap())
}

fn preset_params(id: &str) -> f64 {
    step(
        &format!(r#"{{"preset":"{id}"}}"#),
        r#"{"phase":"inference","precision":"bf16","batch":1,"seq":128}"#,
    )
    .params
}

/// Exact parameter counts of the reference implementations (torchvision,
/// Hugging Face `num_parameters()`), as published.
#[test]
fn preset_parameters_match_published_counts() {
    let published = [
        ("resnet18", 11_689_512.0),
        ("resnet34", 21_797_672.0),
        ("resnet50", 25_557_032.0),
        ("resnet101", 44_549_160.0),
        ("resnet152", 60_192_808.0),
        ("vit_b_16", 86_567_656.0),
        ("vit_l_16", 304_326_632.0),
        ("bert-base", 109_482_240.0),
        ("bert-large", 335_141_888.0),
        ("gpt2", 124_439_808.0),
        ("gpt2-medium", 354_823_168.0),
        ("gpt2-large", 774_030_080.0),
        ("gpt2-xl", 1_557_611_200.0),
        ("llama-2-7b", 6_738_415_616.0),
        ("llama-2-13b", 13_015_864_320.0),
        ("llama-2-70b", 68_976_648_192.0),
        ("llama-3-8b", 8_030_261_248.0),
        ("llama-3-70b", 70_553_706_496.0),
        ("mistral-7b", 7_241_732_096.0),
    ];
    for (id, n) in published {
        let got = preset_params(id);
        assert!(
            (got / n - 1.0).abs() < 1e-6,
            "{id}: {got} parameters, published {n}"
        );
    }
}

/// ResNet-50: about 4.1 G multiply-adds per 224x224 image (torchvision: 4.09 GFLOPS in MACs).
#[test]
fn resnet50_forward_is_4_1_gmacs_per_image() {
    let p = step(
        r#"{"preset":"resnet50"}"#,
        r#"{"phase":"inference","precision":"bf16","batch":1}"#,
    );
    let gmacs = p.counted_flops() / 2.0 / 1e9;
    assert!((gmacs - 4.09).abs() < 0.03, "{gmacs} GMACs");
}

/// Training counts 3x the forward, less the input gradient of the first convolution
/// (7x7x3 -> 64 at 112x112: 118.0 M MACs per image).
#[test]
fn resnet50_training_follows_flop_counter_rules() {
    let fwd = step(
        r#"{"preset":"resnet50"}"#,
        r#"{"phase":"inference","precision":"bf16","batch":64}"#,
    )
    .counted_flops();
    let train = step(
        r#"{"preset":"resnet50"}"#,
        r#"{"phase":"train","precision":"bf16-amp","batch":64,"optimizer":"sgd-momentum"}"#,
    )
    .counted_flops();
    let first_conv_dgrad = 2.0 * 64.0 * (7.0 * 7.0 * 3.0 * 64.0) * 112.0 * 112.0;
    assert!(
        (train - (3.0 * fwd - first_conv_dgrad)).abs() < 1.0,
        "{train} vs {}",
        3.0 * fwd - first_conv_dgrad
    );
}

/// GPT-2 training, worked by hand: per token the forward does 12 L h^2 + h V
/// weight MACs and 4 s h attention FLOPs per layer (two batched products over
/// the full score matrix); backward is 2x for matmuls and 2.5x for attention.
#[test]
fn gpt2_training_flops_hand_formula() {
    let (l, h, v, s, b) = (12.0, 768.0, 50257.0, 1024.0, 8.0);
    let t = b * s;
    let expected = 6.0 * t * (12.0 * l * h * h + h * v) + 3.5 * 4.0 * t * s * h * l;
    let p = step(
        r#"{"preset":"gpt2"}"#,
        r#"{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024,"optimizer":"adamw"}"#,
    );
    assert!(
        (p.counted_flops() / expected - 1.0).abs() < 1e-9,
        "{} vs {expected}",
        p.counted_flops()
    );
}

/// Decode: the prompt pass (head on the last position only), then n-1 single-token
/// passes against a cache of p+i keys.
#[test]
fn decode_flops_hand_formula() {
    let (l, h, i, v, b, p, n) = (16.0, 2048.0, 5632.0, 32000.0, 32.0, 128.0, 128.0);
    let weights = l * (4.0 * h * h + 3.0 * h * i); // per token, MACs
    let prompt = 2.0 * b * p * weights + 4.0 * b * p * p * h * l + 2.0 * b * h * v;
    let mut tokens = 0.0;
    for k in 1..(n as u64) {
        let sk = p + k as f64;
        tokens += 2.0 * b * weights + 4.0 * b * sk * h * l + 2.0 * b * h * v;
    }
    let cfg = r#"{"hf_config":{"model_type":"llama","hidden_size":2048,"intermediate_size":5632,"num_hidden_layers":16,"num_attention_heads":16,"vocab_size":32000}}"#;
    let got = step(
        cfg,
        r#"{"phase":"decode","precision":"bf16","batch":32,"prompt":128,"new_tokens":128}"#,
    )
    .counted_flops();
    assert!(
        (got / (prompt + tokens) - 1.0).abs() < 1e-9,
        "{got} vs {}",
        prompt + tokens
    );
}

/// Grouped-query attention shrinks k/v projections: Llama-2-70B has 8 KV heads of 128.
#[test]
fn gqa_and_tied_embeddings_change_parameters_as_documented() {
    let base = r#""model_type":"llama","hidden_size":1024,"intermediate_size":2816,"num_hidden_layers":2,"num_attention_heads":16,"vocab_size":1000"#;
    let w = r#"{"phase":"inference","precision":"bf16","batch":1,"seq":8}"#;
    let full = step(&format!(r#"{{"hf_config":{{{base}}}}}"#), w).params;
    let gqa = step(
        &format!(r#"{{"hf_config":{{{base},"num_key_value_heads":4}}}}"#),
        w,
    )
    .params;
    // k and v shrink from 1024x1024 to 1024x256 in each of 2 layers
    assert_eq!(full - gqa, 2.0 * 2.0 * (1024.0 * 1024.0 - 1024.0 * 256.0));
    let tied = step(
        &format!(r#"{{"hf_config":{{{base},"tie_word_embeddings":true}}}}"#),
        w,
    )
    .params;
    assert_eq!(full - tied, 1000.0 * 1024.0);
}

#[test]
fn hf_config_reports_ignored_fields() {
    let s = scenario(
        r#"{"hf_config":{"model_type":"gpt2","n_layer":2,"n_embd":64,"n_head":2,"architectures":["GPT2LMHeadModel"],"torch_dtype":"float32"}}"#,
        r#"{"phase":"inference","precision":"bf16","batch":1,"seq":8}"#,
    );
    let shared::model::Architecture::Transformer(t) = architecture(&s).unwrap() else {
        panic!("not a transformer")
    };
    let ignored = t
        .notes
        .iter()
        .find(|n| n.starts_with("fields ignored"))
        .expect("a note on ignored fields");
    assert!(
        ignored.contains("architectures") && ignored.contains("torch_dtype"),
        "{ignored}"
    );
}

/// The planner (which the energy model runs) counts the extra families' parameters as published:
/// T5-base 222.9 M (encoder, decoder with cross-attention), Mixtral-8x7B 46.7 B total, 12.9 B active.
#[test]
fn planner_counts_encoder_decoder_and_moe_parameters() {
    let t5 = step(
        r#"{"hf_config":{"model_type":"t5","d_model":768,"d_ff":3072,"d_kv":64,"num_heads":12,"num_layers":12,"num_decoder_layers":12,"vocab_size":32128,"feed_forward_proj":"relu","tie_word_embeddings":true}}"#,
        r#"{"phase":"inference","precision":"bf16","batch":1,"seq":64}"#,
    );
    assert!((t5.params / 222.9e6 - 1.0).abs() < 0.005, "{}", t5.params);
    let mixtral = step(
        r#"{"hf_config":{"model_type":"mixtral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":32000,"num_local_experts":8,"num_experts_per_tok":2}}"#,
        r#"{"phase":"inference","precision":"bf16","batch":1,"seq":64}"#,
    );
    assert!(
        (mixtral.params / 46.7e9 - 1.0).abs() < 0.005,
        "{}",
        mixtral.params
    );
    assert!(
        (mixtral.active_params / 12.9e9 - 1.0).abs() < 0.01,
        "{}",
        mixtral.active_params
    );
}

/// A small module-heavy step is bound by the host: ResNet-18 inference at
/// batch 1 launches ~100 kernels from Python; with 20 us of host per kernel
/// the step takes the kernels' host time plus (at most) the last kernel's run.
#[test]
fn host_time_of_a_small_module_heavy_step() {
    let json = r#"{"version":1,"model":{"preset":"resnet18"},"stages":[{"kind":"evaluation","workload":{"phase":"inference","precision":"bf16","batch":1},"steps":1}],"hardware":{"device":"h100-sxm"},"host":{"us_per_kernel":20}}"#;
    let s = shared::estimate::parse_scenario(json).expect("scenario");
    let arch = shared::resolve::architecture(&s).expect("arch");
    let pl = shared::plan::plan(&arch, &s.stages[0].workload, s.software, "w").expect("plan");
    let kernels = pl.kernels();
    assert!((50.0..300.0).contains(&kernels), "{kernels}");
    let e = shared::estimate::estimate_core(&s, &[]).expect("estimate");
    let t = e.seconds_per_step.expected;
    let host = kernels * 20e-6;
    assert!(t >= host && t < host + 1e-3, "{t} vs {host} s of host time");
    assert_eq!(e.stages[0].bound, "overhead");
    // without the override: the measured 8.94 us per kernel, x the measured host scale
    let mut s2 = s.clone();
    s2.host = None;
    let t2 = shared::estimate::estimate_core(&s2, &[])
        .expect("estimate")
        .seconds_per_step
        .expected;
    let measured =
        kernels * shared::step::constants::EAGER_US_PER_KERNEL * 1e-6 * shared::tuning::HOST_SCALE;
    assert!(t2 >= measured && t2 < measured + 1e-3, "{t2} vs {measured}");
}

/// ResNet-50 under a compiled INT8 inference engine (TensorRT-style): batch
/// norms folded into the convolutions, ReLUs and residual adds in their
/// epilogues, channels-last throughout, 8-bit tensors. What is left is 53
/// convolutions (1 stem + 16 blocks x 3 + 4 downsamples), the max pool, the
/// average pool and the classifier: 56 kernels. A convolution moves its input,
/// its weights and its output once, 1 byte each; a block's last convolution
/// also reads the identity. FLOPs are those of eager PyTorch.
#[test]
fn compiled_int8_resnet50_is_its_convolutions() {
    let s = |sw: &str| {
        plan_of(&format!(
            r#"{{"version":1,"model":{{"preset":"resnet50"}},"stages":[{{"kind":"evaluation","workload":{{"phase":"inference","precision":"int8","batch":8}},"steps":1}}],"hardware":{{"device":"h100-sxm"}},"software":"{sw}"}}"#
        ))
    };
    let compiled = s("compiled");
    let eager = s("pytorch-eager");
    assert_eq!(compiled.counted_flops(), eager.counted_flops());
    let mut kernels = 0.0;
    let mut ops = std::collections::HashMap::new();
    compiled.for_each_op(&mut |op, n| {
        kernels += op.kernels * n;
        ops.insert(op.name.clone(), op.bytes);
    });
    assert_eq!(kernels, 56.0);
    let b = 8.0;
    let conv1 = b * (3.0 * 224.0 * 224.0 + 64.0 * 112.0 * 112.0) + 64.0 * 3.0 * 49.0;
    assert_eq!(ops["conv1"], conv1);
    // layer1.1: 256 -> 64 -> 64 -> 256 channels at 56 x 56; conv3 reads 64 channels,
    // writes 256 and reads the 256-channel identity
    let side = 56.0 * 56.0;
    let conv3 = b * (64.0 + 256.0 + 256.0) * side + 64.0 * 256.0;
    assert_eq!(ops["layer1.1.conv3"], conv3);
    assert!(!ops
        .keys()
        .any(|k| k.contains("bn") || k.contains("relu") || k.contains("transpose")));
}

/// Channels-last ResNet-50 in eager PyTorch: cuDNN's tensor-core convolutions
/// read and write NHWC directly, so the layout transposes around each of the
/// 53 convolutions are gone (two kernels each in the forward pass, moving the
/// convolution's input and output twice); nothing else changes.
#[test]
fn channels_last_drops_the_layout_transposes() {
    let s = |cl: bool| {
        plan_of(&format!(
            r#"{{"version":1,"model":{{"preset":"resnet50"}},"stages":[{{"kind":"evaluation","workload":{{"phase":"inference","precision":"bf16","batch":4,"channels_last":{cl}}},"steps":1}}],"hardware":{{"device":"h100-sxm"}}}}"#
        ))
    };
    let (nchw, nhwc) = (s(false), s(true));
    let totals = |p: &shared::plan::StepPlan| {
        let (mut k, mut b) = (0.0, 0.0);
        p.for_each_op(&mut |op, n| {
            k += op.kernels * n;
            b += op.bytes * n;
        });
        (k, b)
    };
    let ((k0, b0), (k1, b1)) = (totals(&nchw), totals(&nhwc));
    assert_eq!(k0 - k1, 2.0 * 53.0);
    // the stem: a 3 x 224 x 224 input, a 64 x 112 x 112 output, 2 bytes each, read and written
    let stem = 2.0 * 4.0 * (3.0 * 224.0 * 224.0 + 64.0 * 112.0 * 112.0) * 2.0;
    let mut transposes = 0.0;
    nchw.for_each_op(&mut |op, n| {
        if op.name.ends_with("nchw_transpose") {
            transposes += op.bytes * n;
        }
    });
    let mut stem_t = 0.0;
    nchw.for_each_op(&mut |op, _| {
        if op.name == "conv1.nchw_transpose" {
            stem_t = op.bytes;
        }
    });
    assert_eq!(stem_t, stem);
    assert_eq!(b0 - b1, transposes);
    assert_eq!(nchw.counted_flops(), nhwc.counted_flops());
}

/// BERT-large fine-tuning (SQuAD, 32 x 384, fp16) with attention on the math
/// path, worked by hand per layer: E = 32 x 16 x 384^2 score elements, q, k
/// and v each 32 x 16 x 384 x 64 elements, 2 bytes each, dropout 0.1. The
/// products do the counted FLOPs of fused attention (4 E d forward), with
/// two GEMMs each in the backward (2x, where FlashAttention recomputes:
/// 2.5x); the score matrix is written and read by each kernel between them.
#[test]
fn math_attention_moves_the_score_matrix_between_its_kernels() {
    let s = |attention: &str| {
        step(
            r#"{"preset":"bert-large"}"#,
            &format!(
                r#"{{"phase":"train","precision":"fp16","batch":32,"seq":384,"optimizer":"adamw","attention":"{attention}"}}"#
            ),
        )
    };
    let (fused, math) = (s("fused"), s("math"));
    let (e, q, d, a) = (
        32.0 * 16.0 * 384.0 * 384.0,
        32.0 * 16.0 * 384.0 * 64.0,
        64.0,
        2.0,
    );
    let (mut fwd_ew, mut bwd_ew, mut fwd_mm, mut bwd_mm, mut kernels) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut layers = 0.0;
    math.for_each_op(&mut |op, n| {
        if !op.name.contains("attn.sdpa") {
            return;
        }
        if op.name == "attn.sdpa.scale" {
            layers += n;
        }
        let bwd = op.pass == shared::model::graph::Pass::Backward;
        match (op.kind, bwd) {
            (shared::model::graph::OpKind::Matmul, false) => fwd_mm += op.flops * n,
            (shared::model::graph::OpKind::Matmul, true) => bwd_mm += op.flops * n,
            (_, false) => fwd_ew += op.bytes * n,
            (_, true) => bwd_ew += op.bytes * n,
        }
        if !bwd {
            kernels += op.kernels * n;
        }
    });
    assert_eq!(layers, 24.0);
    assert_eq!(fwd_mm / layers, 4.0 * e * d);
    assert_eq!(bwd_mm / layers, 8.0 * e * d);
    // forward: q, k, v copies (read + write), scale (r + w), mask add (r + w, plus
    // the 32 x 384 mask), softmax (r + w), dropout (r, w + a 1-byte mask),
    // the context copy (r + w)
    let want_fwd = 3.0 * q * 2.0 * a
        + 2.0 * e * a
        + (2.0 * e * a + 32.0 * 384.0 * a)
        + 2.0 * e * a
        + (2.0 * e * a + e)
        + 2.0 * q * a;
    assert!((fwd_ew / layers / want_fwd - 1.0).abs() < 1e-12, "{fwd_ew}");
    // backward: the same copies; scale (r + w); softmax (dp, p read, ds written);
    // dropout (grad and mask read, grad written); the mask add passes the gradient on
    let want_bwd = 3.0 * q * 2.0 * a + 2.0 * e * a + 3.0 * e * a + (2.0 * e * a + e) + 2.0 * q * a;
    assert!((bwd_ew / layers / want_bwd - 1.0).abs() < 1e-12, "{bwd_ew}");
    // 2 products, the q/k/v copies (3), scale, mask, softmax, dropout, the context copy
    assert_eq!(kernels / layers, 2.0 + 3.0 + 4.0 + 1.0);
    // counted FLOPs: the same forward, a backward of 2x instead of FlashAttention's 2.5x
    assert_eq!(
        math.counted_flops(),
        fused.counted_flops() - 24.0 * 0.5 * 4.0 * e * d
    );
}

/// A decode step on the math path reads q (one token) and the cached keys and
/// values in place: only the prompt pass copies q, k, v and the context (4
/// kernels per layer, 32 layers), not the 16 token steps. Every pass runs the
/// products and the softmax chain (scale, mask, softmax; no dropout at
/// inference): three element-wise kernels per two products. Llama's 2023 code
/// also copies its mask value to the device once per layer and pass.
#[test]
fn math_attention_in_a_decode_step_copies_nothing() {
    let p = step(
        r#"{"preset":"llama-2-7b"}"#,
        r#"{"phase":"decode","precision":"fp16","batch":1,"prompt":128,"new_tokens":16,"attention":"math"}"#,
    );
    let (mut copy_kernels, mut products, mut chain, mut to_device) = (0.0, 0.0, 0.0, 0.0);
    p.for_each_op(&mut |op, n| {
        if !op.name.starts_with("attn.sdpa") {
            return;
        }
        if op.name.ends_with("_contiguous") {
            copy_kernels += op.kernels * n;
        } else if op.name.ends_with(".mask_value_to_device") {
            to_device += op.kernels * n;
        } else if op.kind == shared::model::graph::OpKind::Matmul {
            products += n;
        } else {
            chain += n;
        }
    });
    assert_eq!(copy_kernels, 4.0 * 32.0);
    assert!(products >= 2.0 * 32.0 * 16.0, "{products}");
    assert_eq!(chain, 1.5 * products);
    assert_eq!(to_device, products / 2.0);
}

/// 8-bit training quantizes every GEMM operand: per linear layer a
/// cast-transpose of the 16-bit input (read 2 bytes, write the 8-bit copy and
/// its transpose, 2 bytes), of the weight, and in the backward of the output
/// gradient. Worked for GPT-2's fused qkv (m = 4 x 64 tokens, k = 64,
/// n = 192); none of it in bf16-amp training or in 8-bit inference.
#[test]
fn eight_bit_training_quantizes_each_gemm_operand() {
    let model = r#"{"hf_config":{"model_type":"gpt2","n_embd":64,"n_layer":2,"n_head":4,"vocab_size":100,"n_positions":64}}"#;
    let bytes = |workload: &str, name: &str| {
        let mut found = vec![];
        step(model, workload).for_each_op(&mut |op, n| {
            if op.name == name {
                found.push((op.bytes, n, op.kernels));
            }
        });
        found
    };
    let fp8 = r#"{"phase":"train","precision":"fp8","batch":4,"seq":64,"optimizer":"adamw"}"#;
    let (m, k, n) = (4.0 * 64.0, 64.0, 192.0);
    // one op per layer, repeated over the 2 layers, one kernel each
    assert_eq!(
        bytes(fp8, "attn.qkv.quantize_in"),
        vec![(m * k * (2.0 + 2.0), 2.0, 1.0)]
    );
    assert_eq!(
        bytes(fp8, "attn.qkv.quantize_w"),
        vec![(k * n * (2.0 + 2.0), 2.0, 1.0)]
    );
    assert_eq!(
        bytes(fp8, "attn.qkv.quantize_grad"),
        vec![(m * n * (2.0 + 2.0), 2.0, 1.0)]
    );
    let amp = fp8.replace("\"fp8\"", "\"bf16-amp\"");
    let inference = r#"{"phase":"inference","precision":"fp8","batch":4,"seq":64}"#;
    for w in [amp.as_str(), inference] {
        for op in ["quantize_in", "quantize_w", "quantize_grad"] {
            assert!(bytes(w, &format!("attn.qkv.{op}")).is_empty(), "{w} {op}");
        }
    }
}
