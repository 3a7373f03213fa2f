//! Training at scale, worked by hand: a matmul's tensor-parallel shard, the
//! 1F1B pipeline bubble, ZeRO-3 / FSDP memory per device, the FLOPs of full
//! recomputation, and the strategy chosen for a 70B model on 64 x 80 GB.
//! Formulas: docs/energy-model.md, "Training at scale".

#![allow(clippy::unwrap_used)]

use shared::device::DeviceProfile;
#[path = "support/chooser.rs"]
mod chooser;
#[path = "support/plans.rs"]
mod plans;
use chooser::chosen;
use plans::first_plan;
use shared::estimate::parse_scenario;
use shared::model::Architecture;
use shared::plan::{MemoryNeed, Node, StepPlan};
use shared::resolve::{architecture, device_profile};
use shared::scenario::{HostCosts, Parallelism, Recompute, Scenario};
use shared::schedule::{memory_of, stage_step, Strategy};

const GPT2_TRAIN: &str =
    r#"{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024,"optimizer":"adamw"}"#;

fn scenario(preset: &str, workload: &str) -> Scenario {
    parse_scenario(&format!(
        r#"{{"version":1,"model":{{"preset":"{preset}"}},"stages":[{{"kind":"final_training","workload":{workload},"steps":1}}],"hardware":{{"device":"h100-sxm"}},"software":"megatron"}}"#
    ))
    .unwrap()
}

/// A training scenario's architecture and the H100's built-in profile.
fn setup(preset: &str, workload: &str) -> (Scenario, Architecture, DeviceProfile) {
    let sc = scenario(preset, workload);
    let arch = architecture(&sc).unwrap();
    (sc, arch, device_profile("h100-sxm", &[]).unwrap())
}

/// The memory per device of the first stage under `st`.
fn first_memory(
    sc: &Scenario,
    arch: &Architecture,
    st: &Strategy,
    cache: &mut Vec<(u64, u64, MemoryNeed, f64)>,
) -> MemoryNeed {
    memory_of(
        arch,
        &sc.stages[0].workload,
        sc.software,
        "stages[0]",
        st,
        cache,
    )
    .unwrap()
}

fn strategy(p: Parallelism, count: u64, batch: u64) -> Strategy {
    Strategy::given(&p, count, batch, "stages[0].parallelism").unwrap()
}

/// FLOPs of the ops whose name ends with `suffix`, times their counts.
fn flops_of(p: &StepPlan, suffix: &str) -> f64 {
    fn walk(nodes: &[Node], repeat: f64, suffix: &str, total: &mut f64) {
        for n in nodes {
            match n {
                Node::Op(op) if op.name.ends_with(suffix) => *total += op.flops * op.count * repeat,
                Node::Op(_) => {}
                Node::Seq(s) => walk(&s.nodes, repeat * s.repeat, suffix, total),
            }
        }
    }
    let mut total = 0.0;
    walk(&p.root.nodes, p.root.repeat, suffix, &mut total);
    total
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        ((got - want) / want).abs() <= rel,
        "{what}: {got} vs {want} (by hand)"
    );
}

/// GPT-2 (L 12, h 768, V 50257), 8 x 1024 tokens. The MLP's first matmul (mlp.fc) is
/// 2 t h (4h) FLOPs per layer forward; under tensor parallelism of 4 each
/// device computes a quarter (column-parallel). The whole step's counted
/// FLOPs (6 t (12 L h^2 + h V) + 3.5 x 4 t s h L, as in core_model.rs) shard
/// by 4 too, the vocabulary-parallel head included.
#[test]
fn a_matmul_under_tensor_parallelism_is_a_quarter_on_each_of_4_devices() {
    let (l, h, v, s, b) = (12.0, 768.0, 50257.0, 1024.0, 8.0);
    let t = b * s;
    let sc = scenario("gpt2", GPT2_TRAIN);
    let mut p = first_plan(&sc);
    let up_fwd = 2.0 * t * h * 4.0 * h * l;
    close(
        "mlp.fc forward, whole",
        flops_of(&p, "mlp.fc"),
        up_fwd,
        1e-12,
    );
    p.shard(
        &strategy(
            Parallelism {
                tensor: Some(4),
                ..Default::default()
            },
            4,
            8,
        )
        .shard(),
    );
    close(
        "mlp.fc forward, one of 4",
        flops_of(&p, "mlp.fc"),
        up_fwd / 4.0,
        1e-12,
    );
    let step = 6.0 * t * (12.0 * l * h * h + h * v) + 3.5 * 4.0 * t * s * h * l;
    close("step FLOPs, one of 4", p.counted_flops(), step / 4.0, 1e-9);
}

/// 1F1B over p = 4 stages with m = 8 micro-batches: the step is (m + p - 1)
/// micro-batch times, of which p - 1 are the bubble: (p-1)/(m+p-1) = 3/11 of
/// the pipelined part. Interleaving v = 2 virtual stages halves the bubble.
#[test]
fn the_1f1b_bubble_is_p_minus_1_micro_batches() {
    let (sc, arch, dev) = setup(
        "llama-2-7b",
        r#"{"phase":"train","precision":"bf16-amp","batch":8,"seq":2048,"optimizer":"adamw"}"#,
    );
    let host = HostCosts::default();
    let run = |interleave: u64| {
        let st = strategy(
            Parallelism {
                pipeline: Some(4),
                micro_batches: Some(8),
                interleave: Some(interleave),
                ..Default::default()
            },
            4,
            8,
        );
        stage_step(
            &arch,
            &sc.stages[0].workload,
            sc.software,
            "stages[0]",
            &st,
            &dev,
            &host,
        )
        .unwrap()
    };
    let s = run(1);
    let mb = s.cost.seconds;
    close("bubble", s.bubble_seconds, 3.0 * mb, 1e-12);
    close(
        "bubble share of the pipelined time",
        s.bubble_seconds / (8.0 * mb + s.bubble_seconds),
        3.0 / 11.0,
        1e-12,
    );
    close("interleaved bubble", run(2).bubble_seconds, 1.5 * mb, 1e-12);
}

/// Model state of mixed-precision training is 18 bytes per parameter either
/// way, split differently. Megatron-style (bf16 parameters 2, fp32 main
/// gradients 4, and in the optimizer fp32 main parameters 4 and AdamW
/// moments 8; Megatron-LM README, "Distributed Optimizer": 18, or 6 + 12/d
/// distributed): ZeRO-3 / FSDP over 8 data-parallel devices keeps 18 P / 8 on
/// each; ZeRO-1 shards the optimizer: 6 P + 12 P / 8; ZeRO-2 the gradients
/// too: 2 P + 16 P / 8. Eager AMP (fp32 weights 4 and autocast's bf16 copies
/// 2, fp32 gradients 4, AdamW moments 8): ZeRO-1 leaves (6 + 4) P + 8 P / 8.
#[test]
fn zero_and_fsdp_memory_per_device() {
    const W: &str =
        r#"{"phase":"train","precision":"bf16-amp","batch":1,"seq":2048,"optimizer":"adamw"}"#;
    let sc = scenario("llama-2-7b", W);
    let arch = architecture(&sc).unwrap();
    let params = first_plan(&sc).params;
    let state_of = |sc: &Scenario, zero: u8| {
        let st = strategy(
            Parallelism {
                zero: Some(zero),
                ..Default::default()
            },
            8,
            1,
        );
        let m = first_memory(sc, &arch, &st, &mut vec![]);
        m.weights + m.gradients + m.optimizer
    };
    let state = |zero: u8| state_of(&sc, zero);
    close("ZeRO-3 / FSDP", state(3), 18.0 * params / 8.0, 1e-12);
    close(
        "ZeRO-2",
        state(2),
        2.0 * params + 16.0 * params / 8.0,
        1e-12,
    );
    close(
        "ZeRO-1",
        state(1),
        6.0 * params + 12.0 * params / 8.0,
        1e-12,
    );
    close("no ZeRO", state(0), 18.0 * params, 1e-12);
    let eager = parse_scenario(&format!(
        r#"{{"version":1,"model":{{"preset":"llama-2-7b"}},"stages":[{{"kind":"final_training","workload":{W},"steps":1}}],"hardware":{{"device":"h100-sxm"}},"software":"pytorch-eager"}}"#
    ))
    .unwrap();
    close(
        "eager ZeRO-1",
        state_of(&eager, 1),
        10.0 * params + 8.0 * params / 8.0,
        1e-12,
    );
    close("eager, no ZeRO", state_of(&eager, 0), 18.0 * params, 1e-12);
}

/// Full recomputation runs each layer's forward again before its backward:
/// the step's FLOPs grow by the layers' forward, 2 t (12 L h^2) + 4 t s h L
/// for GPT-2 (the head and embedding are not recomputed). Selective
/// recomputation adds the attention core only: 4 t s h L.
#[test]
fn full_recomputation_adds_one_forward_of_the_layers() {
    let (l, h, s, b) = (12.0, 768.0, 1024.0, 8.0);
    let t = b * s;
    let sc = scenario("gpt2", GPT2_TRAIN);
    let base = first_plan(&sc).counted_flops();
    let with = |r: Recompute| {
        let mut p = first_plan(&sc);
        p.shard(
            &strategy(
                Parallelism {
                    recompute: Some(r),
                    ..Default::default()
                },
                1,
                8,
            )
            .shard(),
        );
        p.counted_flops() - base
    };
    close(
        "full",
        with(Recompute::Full),
        2.0 * t * 12.0 * l * h * h + 4.0 * t * s * h * l,
        1e-9,
    );
    close(
        "selective",
        with(Recompute::Selective),
        4.0 * t * s * h * l,
        1e-9,
    );
}

/// Llama-2-70B (P = 69 B) on 64 H100s of 80 GB (72 GB usable), 4096 tokens
/// per device: 18 P = 1.24 TB of state. Data parallelism with ZeRO-1 leaves
/// 6 P = 414 GB per device; FSDP across nodes is the last resort; tensor 8
/// within a node leaves 6 P / 8 + 12 P / 64 = 65 GB of state plus 11.3 GB of
/// activations (below): too much. Tensor 8 x pipeline 2 leaves 6 P / 16 +
/// 12 P / 64 = 39 GB of state plus the activations of about one micro-batch
/// of 4096 tokens (33.5 s h bytes per layer, 80 layers, / 8 with sequence
/// parallelism: 11.3 GB): 50 GB, fits.
#[test]
fn a_70b_model_on_64_devices_of_80_gb_takes_tensor_8_pipeline_2() {
    let (sc, arch, dev) = setup(
        "llama-2-70b",
        r#"{"phase":"train","precision":"bf16-amp","batch":1,"seq":4096,"optimizer":"adamw"}"#,
    );
    let step = chosen(&sc, &arch, &dev, 64);
    let st = step.strategy;
    assert!(st.chosen);
    assert_eq!(
        (st.tensor, st.pipeline, st.data, st.zero, st.recompute),
        (8, 2, 4, 1, Recompute::Selective),
        "{}",
        st.describe()
    );
    let p = step.model_params;
    let m = step.memory;
    close(
        "state per device",
        m.weights + m.gradients + m.optimizer,
        6.0 * p / 16.0 + 12.0 * p / 64.0,
        1e-9,
    );
    // per token and layer: norm inputs 2h, QKV and MLP inputs 2h, Q h, K and
    // V 2 x h/8 (8 KV heads), attention output h, gate and up 2 x 3.5h, SwiGLU
    // output 3.5h: 16.75 h elements of 2 bytes; then the final norm's input
    // and fp32 logits (vocabulary 32000); all / 8 under sequence parallelism
    let (s, h) = (4096.0, 8192.0);
    let whole = 80.0 * s * 16.75 * h * 2.0 + s * (2.0 * h + 4.0 * 32000.0);
    close("activations per device", m.activations, whole / 8.0, 1e-9);
    assert!(m.total() <= 80e9 * 0.9, "{:?}", m);
}

/// A GPU count that no power of two divides well still gets tensor and
/// pipeline parallelism: the 530B GPT (105 layers, hidden 20480) on 2520
/// A100s of 80 GB, Megatron-LM's own count (Narayanan et al. 2021, Table 1:
/// tensor 8 x pipeline 35). The chooser takes tensor 8 and the fewest
/// stages among the divisors of 2520 / 8 = 315 that fit (each smaller
/// divisor checked not to fit), not ZeRO-3 over 315 nodes, which measured
/// 2021 runs of this model show 3x slower than the model gives.
#[test]
fn an_odd_device_count_still_gets_tensor_and_pipeline_parallelism() {
    let sc = parse_scenario(
        r#"{"version":1,"model":{"hf_config":{"model_type":"gpt2","n_layer":105,"n_embd":20480,"n_head":128,"vocab_size":51200,"n_positions":2048}},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":1,"seq":2048,"optimizer":"adam"},"steps":1}],"hardware":{"device":"a100-sxm-80gb","count":2520},"software":"megatron"}"#,
    )
    .unwrap();
    let arch = architecture(&sc).unwrap();
    let dev = device_profile("a100-sxm-80gb", &[]).unwrap();
    let step = chosen(&sc, &arch, &dev, 2520);
    let st = step.strategy;
    assert!(st.chosen && st.zero < 3, "{}", st.describe());
    assert_eq!(st.tensor, 8, "{}", st.describe());
    assert!(
        st.pipeline > 1 && 315 % st.pipeline == 0,
        "{}",
        st.describe()
    );
    assert!(
        shared::schedule::fits(&step.memory, &dev),
        "{:?}",
        step.memory
    );
    // every smaller stage count dividing 315 does not fit
    let mut cache = vec![];
    for p in (2..st.pipeline).filter(|p| 315 % p == 0) {
        let cand = Strategy {
            pipeline: p,
            data: 2520 / (8 * p),
            micro_batches: 8 * p,
            micro_batch: 1,
            ..st
        };
        let m = first_memory(&sc, &arch, &cand, &mut cache);
        assert!(
            !shared::schedule::fits(&m, &dev),
            "pipeline {p} fits: {m:?}"
        );
    }
}

/// Megatron-style activation memory is Korthikanti et al. 2022's 34 s b h
/// bytes per GPT layer with FlashAttention (norm inputs 4, QKV input 2, Q K V
/// 6, attention output 2, its dropout mask 1, MLP input 2, fc 8, GeLU 8, its
/// dropout mask 1), plus the final norm's input (2 s b h) and fp32 logits
/// (4 s b V); eager PyTorch keeps more (every op's saved output).
#[test]
fn megatron_activations_are_34_sbh_per_gpt_layer() {
    let (l, h, v, s, b) = (12.0, 768.0, 50257.0, 1024.0, 8.0);
    let t = b * s;
    let mega = first_plan(&scenario("gpt2", GPT2_TRAIN));
    close(
        "activations",
        mega.memory.activations,
        l * 34.0 * t * h + t * (2.0 * h + 4.0 * v),
        1e-12,
    );
    let eager = parse_scenario(&format!(
        r#"{{"version":1,"model":{{"preset":"gpt2"}},"stages":[{{"kind":"final_training","workload":{GPT2_TRAIN},"steps":1}}],"hardware":{{"device":"h100-sxm"}},"software":"pytorch-eager"}}"#
    ))
    .unwrap();
    assert!(first_plan(&eager).memory.activations > mega.memory.activations);
}

/// MFU counts model FLOPs (PaLM's definition): a fully recomputed GPT-2 step
/// runs the layers' forward twice, but its MFU is the closed-form training
/// FLOPs, 6 t (12 L h^2 + h V) + 3.5 x 4 t s h L, over the step's time and
/// the H100's dense 16-bit peak.
#[test]
fn mfu_leaves_recomputation_out() {
    let (l, h, v, s, b) = (12.0, 768.0, 50257.0, 1024.0, 8.0);
    let t = b * s;
    let model = 6.0 * t * (12.0 * l * h * h + h * v) + 3.5 * 4.0 * t * s * h * l;
    let sc = parse_scenario(&format!(
        r#"{{"version":1,"model":{{"preset":"gpt2"}},"stages":[{{"kind":"final_training","workload":{GPT2_TRAIN},"steps":1,"parallelism":{{"recompute":"full"}}}}],"hardware":{{"device":"h100-sxm"}},"software":"megatron"}}"#
    ))
    .unwrap();
    let e = shared::estimate::estimate_core(&sc, &[]).unwrap();
    let st = &e.stages[0];
    let peak = shared::catalog::find("h100-sxm")
        .unwrap()
        .dense_tflops
        .iter()
        .filter(|(m, _)| {
            matches!(
                m,
                shared::units::MathMode::Bf16 | shared::units::MathMode::Fp16
            )
        })
        .map(|x| x.1)
        .fold(0.0, f64::max)
        * 1e12;
    let want = model / st.seconds_per_step.expected / peak;
    close("MFU", st.mfu.unwrap(), want, 1e-9);
    // the counted FLOPs do include the recomputed forward
    assert!(st.flops_per_step > model * 1.2, "{}", st.flops_per_step);
}

/// Knobs that change nothing are said, naming their field, and the estimate
/// is the one without them (links made while they were dropped still load).
#[test]
fn knobs_that_change_nothing_are_warned_not_dropped() {
    let est = |stage: &str| {
        let sc = parse_scenario(&format!(
            r#"{{"version":1,"model":{{"preset":"llama-2-7b"}},"stages":[{stage}],"hardware":{{"device":"h100-sxm","count":8}}}}"#
        ))
        .unwrap();
        shared::estimate::estimate_core(&sc, &[]).unwrap()
    };
    let eval = r#"{"kind":"evaluation","workload":{"phase":"inference","precision":"bf16","batch":8,"seq":512},"steps":100PAR}"#;
    let plain = est(&eval.replace("PAR", ""));
    let knobs = est(&eval.replace(
        "PAR",
        r#","parallelism":{"zero":1,"recompute":"full","interleave":2}"#,
    ));
    assert_eq!(knobs.energy_kwh, plain.energy_kwh);
    for k in ["zero", "recompute", "interleave"] {
        let field = format!("stages[0].parallelism.{k}");
        assert!(
            knobs.warnings.iter().any(|w| w.starts_with(&field)),
            "{field}: {:?}",
            knobs.warnings
        );
    }
    assert!(!plain.warnings.iter().any(|w| w.contains("parallelism.")));
    let served = r#"{"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":64,"prompt":256,"new_tokens":256},"requests_per_day":10000,"days":1,"serving":{"replicas":1},"parallelism":{"tensor":2PAR}}"#;
    let e = est(&served.replace("PAR", r#","pipeline":2,"overlap_expert_comm":true"#));
    assert_eq!(e.energy_kwh, est(&served.replace("PAR", "")).energy_kwh);
    for k in ["pipeline", "overlap_expert_comm"] {
        let field = format!("stages[0].parallelism.{k}");
        assert!(
            e.warnings.iter().any(|w| w.starts_with(&field)),
            "{field}: {:?}",
            e.warnings
        );
    }
}

/// ZeRO-3 whose data-parallel group crosses nodes is modelled with ideal
/// gathers, which measured runs do not reach: the estimate says so; inside
/// one node (8 H100s share NVSwitch) it does not.
#[test]
fn zero3_across_nodes_is_flagged_as_maybe_low() {
    let est = |count: u64, zero: u64| {
        let sc = parse_scenario(&format!(
            r#"{{"version":1,"model":{{"preset":"gpt2"}},"stages":[{{"kind":"final_training","workload":{GPT2_TRAIN},"steps":1,"parallelism":{{"zero":{zero}}}}}],"hardware":{{"device":"h100-sxm","count":{count}}},"software":"megatron"}}"#
        ))
        .unwrap();
        shared::estimate::estimate_core(&sc, &[]).unwrap().warnings
    };
    let flagged = |w: Vec<String>| w.iter().any(|w| w.contains("ZeRO-3/FSDP across nodes"));
    assert!(flagged(est(16, 3)));
    assert!(!flagged(est(8, 3)), "one node");
    assert!(!flagged(est(16, 1)), "ZeRO-1 gathers nothing per pass");
}

/// MFU is against the peak of the math the matrix products run in: an FP8
/// step on an H100 over its 1,978.9 dense FP8 TFLOP/s (datasheet), the same
/// step on an A100, which has no FP8 and runs it in 16 bits, over its 312;
/// fp32 convolutions over the TF32 peak cuDNN runs them at.
#[test]
fn fp8_mfu_is_against_the_fp8_peak() {
    let (l, h, v, s, b) = (12.0, 768.0, 50257.0, 1024.0, 8.0);
    let t = b * s;
    let model = 6.0 * t * (12.0 * l * h * h + h * v) + 3.5 * 4.0 * t * s * h * l;
    for (device, peak) in [("h100-sxm", 1978.9e12), ("a100-sxm-80gb", 312e12)] {
        let sc = parse_scenario(&format!(
            r#"{{"version":1,"model":{{"preset":"gpt2"}},"stages":[{{"kind":"final_training","workload":{},"steps":1}}],"hardware":{{"device":"{device}"}},"software":"megatron"}}"#,
            GPT2_TRAIN.replace("bf16-amp", "fp8")
        ))
        .unwrap();
        let e = shared::estimate::estimate_core(&sc, &[]).unwrap();
        let st = &e.stages[0];
        close(
            device,
            st.mfu.unwrap(),
            model / st.seconds_per_step.expected / peak,
            1e-9,
        );
        assert!(st.mfu.unwrap() < 1.0);
    }
    // an fp32 ResNet-50 trains its convolutions in TF32 (cuDNN's default):
    // against the A100's 156 TF32 TFLOP/s, not its 19.5 FP32 ones
    let sc = parse_scenario(
        r#"{"version":1,"model":{"preset":"resnet50"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"fp32","batch":256,"optimizer":"sgd"},"steps":1}],"hardware":{"device":"a100-sxm-80gb"},"software":"compiled"}"#,
    )
    .unwrap();
    let e = shared::estimate::estimate_core(&sc, &[]).unwrap();
    let st = &e.stages[0];
    close(
        "resnet50 fp32",
        st.mfu.unwrap(),
        st.flops_per_step / st.seconds_per_step.expected / 156e12,
        1e-9,
    );
}

/// Across nodes a group moves data over its members' NICs together (NCCL: one
/// ring per NIC, NVLink between them): a DGX A100 has 8 x 200 Gb/s HDR NICs,
/// 25 GB/s per GPU at line rate, 21.25 GB/s at NCCL's 0.85. Sixteen GPUs of two
/// whole nodes reduce at 8 x 21.25 = 170 GB/s; the data-parallel groups beside
/// tensor parallelism of 8 (members 8 apart) have one GPU, one NIC per node;
/// with tensor parallelism of 2, four. Inside the node: NVLink's 231.58.
#[test]
fn a_group_across_nodes_uses_its_members_nics_together() {
    use shared::catalog::network::links;
    use shared::schedule::group_link;
    let a100 = links("a100-sxm-80gb").unwrap();
    let nic = 25.0 * 0.85;
    close(
        "16 GPUs, stride 1",
        group_link(&a100, 16, 1).0,
        8.0 * nic,
        1e-12,
    );
    close("16 GPUs, stride 8", group_link(&a100, 16, 8).0, nic, 1e-12);
    close(
        "16 GPUs, stride 2",
        group_link(&a100, 16, 2).0,
        4.0 * nic,
        1e-12,
    );
    close("8 GPUs in a node", group_link(&a100, 8, 1).0, 231.58, 1e-12);
    // 8 x 400 Gb/s on an H100 node: 340 GB/s, under NVLink's 479.98
    let h100 = links("h100-sxm").unwrap();
    close(
        "H100 nodes",
        group_link(&h100, 64, 1).0,
        8.0 * 50.0 * 0.85,
        1e-12,
    );
    assert!(!group_link(&h100, 64, 1).1, "NVLS is inside a node only");
}

/// A DeepSeek-V3-shaped model (MLA, 8 of 256 routed experts plus one shared;
/// every layer a mixture of experts here) trained in FP8 under Megatron, 1,024
/// tokens per device. Per token and layer the step keeps, in bytes (activation
/// precision 2; Transformer Engine keeps the FP8 cast of each matmul's input, 1):
/// the two norms' inputs 2 h x 2; the QKV and MLP inputs 2 h, the k = 8 copies
/// of the token the routed experts take in 8 h, the attention output nh v and
/// the activation's output (8 + 1) I_e, all x 1; Q, K and V, (2 nh (d_nope +
/// d_rope) + nh v) x 2; the first expert matmuls' output 2 (8 + 1) I_e x 2.
/// Recomputing the norms, the MLA up-projections and the experts' activation
/// (DeepSeek-V3, arXiv:2412.19437, section 3.3.2; Megatron-Core's
/// `--recompute-modules layernorm mla_up_proj moe_act`) drops the QKV and MLP
/// inputs and the routed share of the activation's output, and keeps the
/// latents (d_q + d_kv) x 1 and the rotary key d_rope x 2 instead of Q, K, V.
/// After the layers: the final norm's input h x 2 and fp32 logits 4 V.
/// The up-projections then run once more: 2 t (d_q nh (d_nope + d_rope) + d_kv
/// nh (d_nope + v)) FLOPs per layer.
#[test]
fn recomputed_modules_keep_the_latents_and_run_the_up_projections_again() {
    let (l, h, nh, ie, k, v_vocab) = (4.0, 7168.0, 128.0, 2048.0, 8.0, 129280.0);
    let (dq, dkv, nope, rope, v) = (1536.0, 512.0, 128.0, 64.0, 128.0);
    let t = 1024.0;
    let config = r#"{"model_type":"deepseek_v3","hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,"num_hidden_layers":4,"first_k_dense_replace":0,"num_attention_heads":128,"n_routed_experts":256,"n_shared_experts":1,"num_experts_per_tok":8,"q_lora_rank":1536,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,"vocab_size":129280}"#;
    let sc = |par: &str, software: &str| {
        parse_scenario(&format!(
            r#"{{"version":1,"model":{{"hf_config":{config}}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"fp8","batch":1,"seq":1024,"optimizer":"adamw"}},"steps":1,"parallelism":{par}}}],"hardware":{{"device":"h100-sxm","count":8}},"software":"{software}"}}"#
        ))
    };
    let all = sc(r#"{"recompute":"selective"}"#, "megatron").unwrap();
    let modules = sc(
        r#"{"recompute":"selective","recompute_modules":["layernorm","mla_up_proj","moe_act"]}"#,
        "megatron",
    )
    .unwrap();
    let arch = architecture(&all).unwrap();
    let dev = device_profile("h100-sxm", &[]).unwrap();
    let run = |s: &Scenario| {
        let st = strategy(s.stages[0].parallelism.clone().unwrap(), 8, 1);
        let ss = stage_step(
            &arch,
            &s.stages[0].workload,
            s.software,
            "stages[0]",
            &st,
            &dev,
            &HostCosts::default(),
        )
        .unwrap();
        let m = first_memory(s, &arch, &st, &mut vec![]);
        assert_eq!(m.activations, ss.memory.activations);
        ss
    };
    let (a, lin) = (2.0, 1.0);
    let qk = nh * (nope + rope);
    let out = h * a + 4.0 * v_vocab;
    let kept_all = 2.0 * h * a
        + (2.0 * h + k * h + nh * v + (k + 1.0) * ie) * lin
        + (2.0 * qk + nh * v) * a
        + 2.0 * (k + 1.0) * ie * a;
    let kept_modules = 2.0 * h * a
        + (k * h + nh * v + ie) * lin
        + (dq + dkv) * lin
        + rope * a
        + 2.0 * (k + 1.0) * ie * a;
    let base = run(&all);
    let with = run(&modules);
    close(
        "activations, attention core recomputed",
        base.memory.activations,
        t * (l * kept_all + out),
        1e-12,
    );
    close(
        "activations, norms, up-projections and expert activation recomputed",
        with.memory.activations,
        t * (l * kept_modules + out),
        1e-12,
    );
    // Megatron-Core's list replaces the default: the attention core is not run again
    assert_eq!(flops_of(&with.plan, "attn.sdpa.recompute"), 0.0);
    assert!(flops_of(&base.plan, "attn.sdpa.recompute") > 0.0);
    close(
        "up-projections run again",
        flops_of(&with.plan, "attn.q_b.recompute") + flops_of(&with.plan, "attn.kv_b.recompute"),
        2.0 * t * (dq * qk + dkv * nh * (nope + v)) * l,
        1e-9,
    );
    assert!(with
        .strategy
        .describe()
        .contains("selective recomputation of layernorm, mla_up_proj, moe_act"));

    // what does not apply is refused, naming the field and the fix
    let err = |s: Scenario| {
        shared::estimate::estimate_core(&s, &[])
            .unwrap_err()
            .to_string()
    };
    let e = err(sc(r#"{"recompute_modules":["layernorm"]}"#, "megatron").unwrap());
    assert!(
        e.contains("stages[0].parallelism.recompute_modules") && e.contains("selective"),
        "{e}"
    );
    let e = err(sc(
        r#"{"recompute":"selective","recompute_modules":["layernorm"]}"#,
        "pytorch-eager",
    )
    .unwrap());
    assert!(
        e.contains("stages[0].parallelism.recompute_modules") && e.contains("megatron"),
        "{e}"
    );
    let llama = parse_scenario(
        r#"{"version":1,"model":{"preset":"llama-2-7b"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16","batch":1,"seq":1024,"optimizer":"adamw"},"steps":1,"parallelism":{"recompute":"selective","recompute_modules":["mla_up_proj"]}}],"hardware":{"device":"h100-sxm","count":8},"software":"megatron"}"#,
    )
    .unwrap();
    let e = err(llama);
    assert!(
        e.contains("stages[0].parallelism.recompute_modules") && e.contains("latent"),
        "{e}"
    );
}

/// A step on several devices takes the `multi` width; a multi-node training
/// stage's totals (device-hours, wall-hours, device energy) the `campaign`
/// width and shift of the committed file (`shared/data/uncertainty.json`):
/// [v e^(-s-u), v e^(-s+u)], centred where published campaigns fell; within
/// one node (8 H100s) the totals follow the step's range, centred on v.
#[test]
fn campaign_totals_and_steps_take_their_own_widths() {
    use shared::ranges::{width, Cell};
    let est = |count: u64| {
        let sc = parse_scenario(&format!(
            r#"{{"version":1,"model":{{"preset":"gpt2"}},"stages":[{{"kind":"final_training","workload":{GPT2_TRAIN},"steps":1000}}],"hardware":{{"device":"h100-sxm","count":{count}}},"software":"megatron"}}"#
        ))
        .unwrap();
        shared::estimate::estimate_core(&sc, &[]).unwrap()
    };
    let (multi_e, multi_t) = width(Cell::Multi);
    let (campaign_e, campaign_t) = width(Cell::Campaign);
    let s = shared::ranges::shift(Cell::Campaign);
    assert!(
        s < 0.0,
        "published campaigns took longer than their steps: {s}"
    );
    assert_eq!(shared::ranges::shift(Cell::Multi), 0.0);
    assert!(
        campaign_t > multi_t && campaign_e > multi_e,
        "the campaigns spread wider"
    );
    // the range is [v e^(-s-u), v e^(-s+u)] about its expected value v
    let spans = |r: shared::units::Range, s: f64, u: f64, what: &str| {
        for (got, want, side) in [
            (r.high / r.expected, (u - s).exp(), "high"),
            (r.low / r.expected, (-s - u).exp(), "low"),
        ] {
            assert!(
                (got / want - 1.0).abs() < 1e-9,
                "{what} {side}: {got} vs {want}"
            );
        }
    };
    for (count, s, (u_e, u_t)) in [
        (16, s, (campaign_e, campaign_t)),
        (8, 0.0, (multi_e, multi_t)),
    ] {
        let st = &est(count).stages[0];
        spans(
            st.seconds_per_step,
            0.0,
            multi_t,
            &format!("{count}: step time"),
        );
        spans(st.device_hours, s, u_t, &format!("{count}: device-hours"));
        spans(st.wall_hours, s, u_t, &format!("{count}: wall-hours"));
        spans(st.device_kwh, s, u_e, &format!("{count}: device kWh"));
    }
}
