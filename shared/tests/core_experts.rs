//! Expert parallelism worked by hand: a mixture of experts' routed experts
//! split over e devices run e times the tokens on 1/e of the experts (same
//! FLOPs, 1/e of the expert weights), ZeRO shards an expert's state over the
//! d/e replicas that hold it, and the all-to-all that moves the tokens crosses
//! the fabric inside a node and the NICs beyond it.
//! Formulas: docs/energy-model.md, "Expert parallelism".

#![allow(clippy::unwrap_used)]

#[path = "support/chooser.rs"]
mod chooser;
use chooser::chosen;
use shared::device::{DeviceProfile, Links};
use shared::estimate::parse_scenario;
use shared::model::graph::Op;
use shared::model::Architecture;
use shared::plan::{Node, StepPlan};
use shared::resolve::{architecture, device_profile};
use shared::scenario::{HostCosts, Parallelism, Scenario};
use shared::schedule::{alltoall_seconds, memory_of, stage_step, Strategy};

// A small Mixtral: h 256, i 512, 2 layers, 8 experts, 2 per token, vocab 1000.
const H: f64 = 256.0;
const I: f64 = 512.0;
const L: f64 = 2.0;
const E: f64 = 8.0;
const K: f64 = 2.0;
const BATCH: u64 = 4;
const SEQ: u64 = 512;

fn scenario(count: u64) -> Scenario {
    parse_scenario(&format!(
        r#"{{"version":1,"model":{{"hf_config":{{"model_type":"mixtral","hidden_size":256,"intermediate_size":512,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":4,"vocab_size":1000,"num_local_experts":8,"num_experts_per_tok":2,"max_position_embeddings":4096}}}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"bf16","batch":{BATCH},"seq":{SEQ},"optimizer":"adamw"}},"steps":1}}],"hardware":{{"device":"h100-sxm","count":{count}}},"software":"megatron"}}"#
    ))
    .unwrap()
}

fn setup(count: u64) -> (Scenario, Architecture, DeviceProfile) {
    let sc = scenario(count);
    let arch = architecture(&sc).unwrap();
    (sc, arch, device_profile("h100-sxm", &[]).unwrap())
}

fn strategy(p: Parallelism, count: u64) -> Result<Strategy, shared::error::InputError> {
    Strategy::given(&p, count, BATCH, "stages[0].parallelism")
}

/// The first op named `name`, and the product of the repeats above it.
fn find(p: &StepPlan, name: &str) -> (Op, f64) {
    fn walk(nodes: &[Node], repeat: f64, name: &str) -> Option<(Op, f64)> {
        for n in nodes {
            match n {
                Node::Op(op) if op.name == name => return Some((op.clone(), repeat)),
                Node::Op(_) => {}
                Node::Seq(s) => {
                    if let Some(x) = walk(&s.nodes, repeat * s.repeat, name) {
                        return Some(x);
                    }
                }
            }
        }
        None
    }
    walk(&p.root.nodes, p.root.repeat, name).unwrap_or_else(|| panic!("no op {name}"))
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        ((got - want) / want).abs() <= rel,
        "{what}: {got} vs {want} (by hand)"
    );
}

fn try_step(
    sc: &Scenario,
    arch: &Architecture,
    dev: &DeviceProfile,
    st: &Strategy,
) -> Result<shared::schedule::StageStep, shared::error::InputError> {
    stage_step(
        arch,
        &sc.stages[0].workload,
        sc.software,
        "stages[0]",
        st,
        dev,
        &HostCosts::default(),
    )
}

fn run(
    sc: &Scenario,
    arch: &Architecture,
    dev: &DeviceProfile,
    st: &Strategy,
) -> shared::schedule::StageStep {
    try_step(sc, arch, dev, st).unwrap()
}

/// t = 4 x 512 = 2048 tokens per device, each to 2 of 8 experts: 512 tokens per
/// expert on one device. Split over 4 devices, a device holds 2 experts and
/// each gets the tokens routed to it from all 4: 2048. The expert matmuls'
/// FLOPs are 2 t k h i per projection and layer either way; the device's
/// parameters lose 3/4 of the routed experts' L x E x 3 h i.
#[test]
fn four_way_expert_parallelism_runs_4x_the_tokens_on_a_quarter_of_the_experts() {
    let (sc, arch, dev) = setup(8);
    let t = (BATCH * SEQ) as f64;
    let whole = run(
        &sc,
        &arch,
        &dev,
        &strategy(Parallelism::default(), 8).unwrap(),
    );
    let ep = run(
        &sc,
        &arch,
        &dev,
        &strategy(
            Parallelism {
                expert: Some(4),
                ..Default::default()
            },
            8,
        )
        .unwrap(),
    );
    let (gate1, n1) = find(&whole.plan, "mlp.gate");
    let (gate4, n4) = find(&ep.plan, "mlp.gate");
    assert_eq!(gate1.mnk.unwrap()[0], t * K / E, "tokens per expert, whole");
    assert_eq!(
        gate4.mnk.unwrap()[0],
        t * K / E * 4.0,
        "tokens per expert, 4-way"
    );
    assert_eq!(n1 / n4, 4.0, "a quarter of the experts' instances");
    let by_hand = 2.0 * t * K * H * I * L;
    close(
        "mlp.gate FLOPs, whole",
        gate1.flops * gate1.count * n1,
        by_hand,
        1e-12,
    );
    close(
        "mlp.gate FLOPs, 4-way",
        gate4.flops * gate4.count * n4,
        by_hand,
        1e-12,
    );
    let routed = L * E * 3.0 * H * I;
    close(
        "a device's parameters",
        whole.plan.params - ep.plan.params,
        routed * 0.75,
        1e-9,
    );
    assert_eq!(ep.model_params, whole.model_params, "the model is whole");
    assert_eq!(ep.model_active_params, whole.model_active_params);
}

/// ZeRO-1 shards optimizer state over the data-parallel devices; an expert
/// exists on d / e of them, so its state is sharded over those only:
/// optimizer = B (dense / d + experts_here / (d / e)), B bytes per parameter.
#[test]
fn an_experts_optimizer_state_is_sharded_over_the_replicas_that_hold_it() {
    let (sc, arch, dev) = setup(8);
    let w = &sc.stages[0].workload;
    let (d, e) = (8.0, 4.0);
    let plain = strategy(Parallelism::default(), 8).unwrap();
    let zero1_ep = strategy(
        Parallelism {
            expert: Some(4),
            zero: Some(1),
            ..Default::default()
        },
        8,
    )
    .unwrap();
    let mut cache = vec![];
    let m0 = memory_of(&arch, w, sc.software, "stages[0]", &plain, &mut cache).unwrap();
    let m1 = memory_of(&arch, w, sc.software, "stages[0]", &zero1_ep, &mut cache).unwrap();
    let all = run(&sc, &arch, &dev, &plain).plan.params;
    let bytes = m0.optimizer / all;
    let routed_here = L * E * 3.0 * H * I / e;
    let here = all - L * E * 3.0 * H * I + routed_here;
    let want = bytes * ((here - routed_here) / d + routed_here / (d / e));
    close("optimizer state per device", m1.optimizer, want, 1e-9);
    let ss = run(&sc, &arch, &dev, &zero1_ep);
    close("the stage's memory agrees", ss.memory.optimizer, want, 1e-9);
}

/// Each device sends `bytes` spread over its n - 1 peers; those in its node
/// over the fabric, the rest through its own NIC share, at the same time.
#[test]
fn an_all_to_all_crosses_the_network_for_peers_outside_the_node() {
    let links = Links {
        domain: 8,
        intra_gbs: 480.0,
        network_gbs: 40.0,
        nvls: false,
    };
    let b = 8e9; // the ring curve's large-message point: full bus bandwidth
    close(
        "8 in one node",
        alltoall_seconds(b, 8, 1, &links),
        b / 480e9,
        1e-12,
    );
    close(
        "64 one per node (stride 16)",
        alltoall_seconds(b, 64, 16, &links),
        b / 40e9,
        1e-12,
    );
    // 16 in two nodes: 7 of 15 peers near, 8 far; the NIC is the slower
    close(
        "16 over two nodes",
        alltoall_seconds(b, 16, 1, &links),
        (8.0 / 15.0 * b / 40e9).max(7.0 / 15.0 * b / 480e9),
        1e-12,
    );
    assert_eq!(alltoall_seconds(b, 1, 1, &links), 0.0);
}

/// Training: dispatch and combine forward, both again backward: 4 all-to-alls
/// per MoE layer and micro-batch, each sending t k h a (e-1)/e bytes. Not
/// overlapped they all add to the step; overlapped with another micro-batch's
/// compute only what exceeds it does: m max(0, n a2a - T_mb).
#[test]
fn the_all_to_all_is_exposed_unless_overlapped_with_another_micro_batch() {
    let (sc, arch, mut dev) = setup(4);
    // a slow network (one device per node) so the all-to-all outlasts the compute
    let links = Links {
        domain: 1,
        intra_gbs: 1.0,
        network_gbs: 0.5,
        nvls: false,
    };
    dev.links = Some(links);
    let (e, m) = (4u64, 4u64);
    let par = |overlap: bool| Parallelism {
        expert: Some(e),
        micro_batches: Some(m),
        overlap_expert_comm: Some(overlap),
        ..Default::default()
    };
    let plain = run(&sc, &arch, &dev, &strategy(par(false), 4).unwrap());
    let hidden = run(&sc, &arch, &dev, &strategy(par(true), 4).unwrap());
    let tokens_mb = (BATCH / m * SEQ) as f64;
    let sent = tokens_mb * K * H * 2.0 * (e as f64 - 1.0) / e as f64;
    let per_mb = 4.0 * L * alltoall_seconds(sent, e, 1, &links);
    close(
        "one all-to-all",
        alltoall_seconds(sent, e, 1, &links),
        sent / 0.5e9,
        1e-12,
    );
    let dp = |ss: &shared::schedule::StageStep| ss.expert_comm_seconds;
    close(
        "exposed, not overlapped",
        dp(&plain),
        m as f64 * per_mb,
        1e-9,
    );
    let want = m as f64 * (per_mb - hidden.cost.seconds).max(0.0);
    assert!(
        want > 0.0,
        "the test needs the all-to-all to outlast the compute"
    );
    close("exposed, overlapped", dp(&hidden), want, 1e-9);
    assert!(hidden.seconds < plain.seconds);
}

/// Bad degrees are refused with the field named: e must divide the
/// data-parallel replicas and the model's experts, and needs experts at all.
#[test]
fn expert_degrees_that_cannot_be_run_are_refused() {
    let (sc, arch, dev) = setup(16);
    let bad = strategy(
        Parallelism {
            expert: Some(3),
            ..Default::default()
        },
        16,
    )
    .unwrap_err();
    assert_eq!(bad.field, "stages[0].parallelism.expert");
    let st = strategy(
        Parallelism {
            expert: Some(16),
            ..Default::default()
        },
        16,
    )
    .unwrap();
    let e = try_step(&sc, &arch, &dev, &st).unwrap_err();
    assert_eq!(e.field, "stages[0].parallelism.expert");
    assert!(e.message.contains("8 routed experts"), "{}", e.message);
    let dense = parse_scenario(
        r#"{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16","batch":4,"seq":512},"steps":1}],"hardware":{"device":"h100-sxm","count":2}}"#,
    )
    .unwrap();
    let st = strategy(
        Parallelism {
            expert: Some(2),
            ..Default::default()
        },
        2,
    )
    .unwrap();
    let e = try_step(&dense, &architecture(&dense).unwrap(), &dev, &st).unwrap_err();
    assert_eq!(e.field, "stages[0].parallelism.expert");
}

/// Given only a count, a mixture of experts is trained with its experts split
/// over as many data-parallel replicas as divide them: gcd(8, 16) = 8.
#[test]
fn the_chooser_splits_the_experts_over_the_replicas() {
    let (sc, arch, dev) = setup(16);
    let ss = chosen(&sc, &arch, &dev, 16);
    assert_eq!(ss.strategy.expert, 8);
    assert_eq!(ss.strategy.data, 16);
}

/// DeepSeek-V3's shape (671B, 256 experts of which 8 per token) on 2048
/// H800s given only the count: it fits no device whole, so the chooser goes
/// by Megatron-Core's MoE guide: pipeline stages before tensor parallelism
/// (tensor 1), experts split inside the 8-GPU NVLink domain: e = 8, which
/// divides the 256 experts and the data-parallel replicas.
#[test]
fn a_large_mixture_of_experts_takes_pipeline_stages_and_experts_inside_the_node() {
    let sc = parse_scenario(
        r#"{"version":1,"model":{"hf_config":{"model_type":"deepseek_v3","hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,"num_hidden_layers":61,"first_k_dense_replace":3,"num_attention_heads":128,"n_routed_experts":256,"n_shared_experts":1,"num_experts_per_tok":8,"q_lora_rank":1536,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,"vocab_size":129280}},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"fp8","batch":8,"seq":4096,"optimizer":"adamw"},"tokens":1e12}],"hardware":{"device":"h800","count":2048},"software":"megatron"}"#,
    )
    .unwrap();
    let arch = architecture(&sc).unwrap();
    let dev = device_profile("h800", &[]).unwrap();
    assert_eq!(dev.links.unwrap().domain, 8);
    let ss = chosen(&sc, &arch, &dev, 2048);
    let st = ss.strategy;
    assert_eq!(st.tensor, 1, "{}", st.describe());
    assert!(st.pipeline > 1, "{}", st.describe());
    assert_eq!(st.expert, 8, "{}", st.describe());
    assert_eq!(st.data * st.pipeline, 2048);
    assert!(
        shared::schedule::fits(&ss.memory, &dev),
        "{}",
        st.describe()
    );
}
