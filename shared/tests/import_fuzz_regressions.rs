//! Regressions from the fuzzing sweep of the ONNX and safetensors importers
//! (repro files `slice_reverse_batch.onnx`, `concat_bomb.onnx`, ...): each case
//! is rebuilt here by hand and checked against hand-computed counts or the
//! exact error (field, node label, attribute).

use shared::import::onnx::import_onnx;
use shared::import::safetensors::{cross_check, SafetensorsSummary};
use shared::import::ImportOptions;
use shared::model::graph::{ForwardGraph, OpKind};
use shared::InputError;
use std::collections::BTreeMap;

/// `VmHWM` (peak resident size) and `VmRSS` of this process, in kB.
fn memory_kb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Runs `f` in a child process of this test binary that runs only `test`, so
/// the tests running in parallel here do not move its peak memory. In the
/// child: `Some(kB the peak resident size rose above the size before f)`
/// (`None` without /proc); in the parent: `None`, once the child passed.
fn in_own_process(test: &str, f: impl FnOnce()) -> Option<u64> {
    const CHILD: &str = "JOULEPRINT_MEMORY_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let before = memory_kb();
        f();
        let after = memory_kb();
        return before
            .zip(after)
            .map(|((_, rss), (hwm, _))| hwm.saturating_sub(rss));
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("runs the child");
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    None
}

// A protobuf writer for hand-made ONNX models (as in import_robust.rs, plus
// attributes, integer initializers with values, domains and symbolic dims).
#[path = "support/onnx_wire.rs"]
mod onnx_wire;
use onnx_wire::{bfield, varint, vfield};
fn packed(v: &[i64]) -> Vec<u8> {
    let mut o = Vec::new();
    for &x in v {
        varint(x as u64, &mut o);
    }
    o
}

/// An attribute value.
enum A<'a> {
    I(i64),
    Is(&'a [i64]),
    S(&'a str),
}

/// An unnamed node (the importer labels it `{op}_{index}`), in `domain`.
fn dnode(domain: &str, op: &str, ins: &[&str], outs: &[&str], attrs: &[(&str, A)]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in ins {
        n.extend(bfield(1, i.as_bytes()));
    }
    for o in outs {
        n.extend(bfield(2, o.as_bytes()));
    }
    n.extend(bfield(4, op.as_bytes()));
    for (name, a) in attrs {
        let mut at = bfield(1, name.as_bytes());
        match a {
            A::I(i) => at.extend(vfield(3, *i as u64)),
            A::Is(v) => at.extend(bfield(8, &packed(v))),
            A::S(s) => at.extend(bfield(4, s.as_bytes())),
        }
        n.extend(bfield(5, &at));
    }
    if !domain.is_empty() {
        n.extend(bfield(7, domain.as_bytes()));
    }
    bfield(1, &n)
}
fn node(op: &str, ins: &[&str], outs: &[&str], attrs: &[(&str, A)]) -> Vec<u8> {
    dnode("", op, ins, outs, attrs)
}

/// A dim: a value, or a symbol (`P`) bound by the options.
enum D<'a> {
    V(i64),
    P(&'a str),
}
fn input(name: &str, dims: &[D]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        shape.extend(bfield(
            1,
            &match d {
                D::V(v) => vfield(1, *v as u64),
                D::P(p) => bfield(2, p.as_bytes()),
            },
        ));
    }
    let mut tt = vfield(1, 1);
    tt.extend(bfield(2, &shape));
    let mut vi = bfield(1, name.as_bytes());
    vi.extend(bfield(2, &bfield(1, &tt)));
    bfield(11, &vi)
}
fn fixed(name: &str, dims: &[i64]) -> Vec<u8> {
    input(name, &dims.iter().map(|&d| D::V(d)).collect::<Vec<_>>())
}
/// A float initializer (a weight) of `dims`, no data.
fn weight(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        t.extend(vfield(1, d as u64));
    }
    t.extend(vfield(2, 1));
    t.extend(bfield(8, name.as_bytes()));
    bfield(5, &t)
}
/// A 1-D int64 initializer holding `v`.
fn ints(name: &str, v: &[i64]) -> Vec<u8> {
    let mut t = vfield(1, v.len() as u64);
    t.extend(vfield(2, 7));
    t.extend(bfield(7, &packed(v)));
    t.extend(bfield(8, name.as_bytes()));
    bfield(5, &t)
}
/// A 0-D int64 initializer.
fn scalar(name: &str, v: i64) -> Vec<u8> {
    let mut t = vfield(2, 7);
    t.extend(bfield(7, &packed(&[v])));
    t.extend(bfield(8, name.as_bytes()));
    bfield(5, &t)
}
fn model(graph: &[Vec<u8>]) -> Vec<u8> {
    let g: Vec<u8> = graph.concat();
    let mut m = vfield(1, 8);
    m.extend(bfield(8, &vfield(2, 17)));
    m.extend(bfield(7, &g));
    m
}

fn import(graph: &[Vec<u8>]) -> Result<ForwardGraph, InputError> {
    import_onnx(&model(graph), &ImportOptions::default())
}

/// The import fails with an error on `model.file` naming `node` and containing each of `parts`.
fn assert_refused(graph: &[Vec<u8>], node: &str, parts: &[&str]) {
    let e = import(graph).expect_err("must be refused");
    assert_eq!(e.field, "model.file");
    assert!(
        e.message.contains(&format!("node `{node}`")),
        "{}",
        e.message
    );
    for p in parts {
        assert!(e.message.contains(p), "{:?} lacks {p:?}", e.message);
    }
}

// 1. Slice with a negative step over an empty axis panicked (clamp(0, -1)).

#[test]
fn slice_negative_step_over_an_empty_axis_is_empty() {
    let slice = |x: &str| {
        vec![
            ints("st", &[-1]),
            ints("en", &[-(1 << 62)]),
            ints("ax", &[0]),
            ints("sp", &[-1]),
            weight("w", &[16, 3]),
            node("Slice", &[x, "st", "en", "ax", "sp"], &["s"], &[]),
            node("MatMul", &["s", "w"], &["y"], &[]),
        ]
    };
    // The batch bound to 0 (`--batch 0`): the reversed slice is empty too.
    let mut g = vec![input("x", &[D::P("batch"), D::V(20), D::V(16)])];
    g.extend(slice("x"));
    let opts = ImportOptions {
        batch: Some(0),
        ..ImportOptions::default()
    };
    let out = import_onnx(&model(&g), &opts).expect("imports");
    assert_eq!(out.nodes[1].flops, 0.0);
    assert!(out.warnings.iter().any(|w| w.contains("zero-sized")));
    // A batch of 4 reversed whole: 2 * 4*20 * 3 * 16 FLOPs in the MatMul.
    let mut g = vec![fixed("x", &[4, 20, 16])];
    g.extend(slice("x"));
    assert_eq!(import(&g).expect("imports").nodes[1].flops, 7680.0);
}

// 2. Integer values grew without bound (nested Concat) and were copied per view.

#[test]
fn concat_values_beyond_the_cap_are_dropped() {
    // Range(0, 4096) holds 4096 values; Concat(x, x) would hold 8192 > 4096,
    // so it is a data op that reads 2 x 4096 and writes 8192 elements.
    let g = [
        scalar("s", 0),
        scalar("l", 4096),
        scalar("d", 1),
        node("Range", &["s", "l", "d"], &["c0"], &[]),
        node("Concat", &["c0", "c0"], &["c1"], &[("axis", A::I(0))]),
    ];
    let out = import(&g).expect("imports");
    assert_eq!(out.nodes[1].kind, OpKind::Elementwise);
    assert_eq!(out.nodes[1].elements, 16384.0);
}

#[test]
fn nested_concat_of_a_range_stays_small() {
    let mut g = vec![
        scalar("s", 0),
        scalar("l", 4096),
        scalar("d", 1),
        node("Range", &["s", "l", "d"], &["c0"], &[]),
    ];
    let names: Vec<String> = (0..=20).map(|i| format!("c{i}")).collect();
    for i in 1..=20 {
        g.push(node(
            "Concat",
            &[&names[i - 1], &names[i - 1]],
            &[&names[i]],
            &[("axis", A::I(0))],
        ));
    }
    let out = import(&g).expect("imports");
    // The 20th doubles 4096 * 2^19 values into 4096 * 2^20: 2 * 4096 * 2^20 elements.
    assert_eq!(out.nodes[20].elements, 2.0 * 4096.0 * 1048576.0);
}

#[test]
fn a_long_identity_chain_shares_its_values() {
    // 20,000 views of one 4096-value tensor: a copy each would be 20,000 x 32 KB
    // = 655 MB; shared, each node costs its own few hundred bytes.
    let n = 20_000;
    let v: Vec<i64> = (0..4096).collect();
    let mut g = vec![ints("v0", &v)];
    for i in 1..=n {
        g.push(node(
            "Identity",
            &[&format!("v{}", i - 1)],
            &[&format!("v{i}")],
            &[],
        ));
    }
    let bytes = model(&g);
    let grew = in_own_process("a_long_identity_chain_shares_its_values", || {
        let out = import_onnx(&bytes, &ImportOptions::default()).expect("imports");
        assert_eq!(out.nodes.len(), n);
    });
    if let Some(kb) = grew {
        assert!(
            kb < 64 * 1024,
            "peak rose {kb} kB for {} file bytes",
            bytes.len()
        );
    }
}

// 3. Distinct unsupported ops were deduplicated by a linear scan (quadratic).

#[test]
fn a_hundred_thousand_distinct_unsupported_ops_take_linear_time() {
    let n = 100_000;
    let mut g = vec![fixed("x0", &[1])];
    for i in 1..=n {
        g.push(dnode(
            &format!("custom.d{i}"),
            &format!("Op{i}"),
            &[&format!("x{}", i - 1)],
            &[&format!("x{i}")],
            &[],
        ));
    }
    let bytes = model(&g);
    let t = std::time::Instant::now();
    let out = import_onnx(&bytes, &ImportOptions::default()).expect("imports");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(out.unsupported_ops.len(), n);
    assert_eq!(out.unsupported_ops[0], "custom.d1:Op1");
    assert_eq!(out.unsupported_ops[n - 1], "custom.d100000:Op100000");
    // Linear: well under a second in release; the quadratic scan took ~19 s.
    assert!(secs < 5.0, "{secs} s");
}

// 4. A pooling window of 2^62 per axis made other_flops infinite.

#[test]
fn a_pool_window_above_2_to_the_64_is_refused() {
    let big = 1i64 << 62;
    let g = [
        fixed("x", &[1, 1, 1, 1, 1]),
        node(
            "MaxPool",
            &["x"],
            &["y"],
            &[
                ("kernel_shape", A::Is(&[big, big, big])),
                ("pads", A::Is(&[big; 6])),
                ("strides", A::Is(&[big; 3])),
            ],
        ),
    ];
    assert_refused(&g, "MaxPool_0", &["attribute `kernel_shape`", "2^64"]);
    // A window of 2^62 x 1 x 1 over the input padded to 2^62: one output of 2^62.
    let g = [
        fixed("x", &[1, 1, 1, 1, 1]),
        node(
            "MaxPool",
            &["x"],
            &["y"],
            &[
                ("kernel_shape", A::Is(&[big, 1, 1])),
                ("pads", A::Is(&[big - 1, 0, 0, 0, 0, 0])),
            ],
        ),
    ];
    assert_eq!(
        import(&g).expect("imports").nodes[0].other_flops,
        2f64.powi(62)
    );
}

// 5. com.microsoft Attention: negative qkv_hidden_sizes gave negative FLOPs.

fn ms_attention(sizes: Option<&[i64]>) -> Vec<Vec<u8>> {
    let attrs: Vec<(&str, A)> = match sizes {
        Some(s) => vec![("num_heads", A::I(4)), ("qkv_hidden_sizes", A::Is(s))],
        None => vec![("num_heads", A::I(4))],
    };
    vec![
        fixed("x", &[2, 10, 32]),
        weight("w", &[32, 96]),
        dnode("com.microsoft", "Attention", &["x", "w"], &["y"], &attrs),
    ]
}

#[test]
fn packed_attention_checks_qkv_hidden_sizes() {
    let what = "attribute `qkv_hidden_sizes`";
    let neg = ms_attention(Some(&[-1_000_000_000_000, 32, -1_000_000_000_000]));
    assert_refused(&neg, "Attention_0", &[what, "non-negative"]);
    let short = ms_attention(Some(&[32, 32, 16]));
    assert_refused(
        &short,
        "Attention_0",
        &[what, "does not sum to the weight's width 96"],
    );
    // B=2, S=10, H=32, QKV width 96: projection 2*2*10*32*96, then Q x K^T and
    // scores x V over 10 x 10 scores of width 32: 2*2*10*10*32 each.
    let flops = 2.0 * 2.0 * 10.0 * 32.0 * 96.0 + 2.0 * (2.0 * 2.0 * 10.0 * 10.0 * 32.0);
    for ok in [ms_attention(Some(&[32, 32, 32])), ms_attention(None)] {
        assert_eq!(import(&ok).expect("imports").nodes[0].flops, flops);
    }
}

// 6. Opset-23 Attention with 3-D inputs: head counts must split the widths.

fn attention23(qh: i64, kvh: i64) -> Vec<Vec<u8>> {
    vec![
        fixed("q", &[2, 10, 8]),
        fixed("k", &[2, 12, 8]),
        fixed("v", &[2, 12, 6]),
        node(
            "Attention",
            &["q", "k", "v"],
            &["y"],
            &[("q_num_heads", A::I(qh)), ("kv_num_heads", A::I(kvh))],
        ),
    ]
}

#[test]
fn attention_23_checks_its_head_counts() {
    assert_refused(
        &attention23(0, 7),
        "Attention_0",
        &["attribute `q_num_heads`", "= 0"],
    );
    assert_refused(
        &attention23(2, 7),
        "Attention_0",
        &[
            "attribute `kv_num_heads`",
            "= 7 does not divide the key width 8",
        ],
    );
    // 2 heads of 4 over 10 queries and 12 keys, values 2 x 3 wide:
    // 2*B*S*L*8 + 2*B*S*L*6 with B=2, S=10, L=12.
    let g = import(&attention23(2, 2)).expect("imports");
    assert_eq!(g.nodes[0].flops, 2.0 * 240.0 * 8.0 + 2.0 * 240.0 * 6.0);
}

// 7. Einsum: three operands counted as zero, >10 ellipsis dims collided,
// mismatched index sizes were accepted.

#[test]
fn einsum_of_three_operands_is_counted_pairwise() {
    let g = [
        fixed("a", &[20, 30]),
        fixed("b", &[30, 40]),
        fixed("c", &[40, 50]),
        node(
            "Einsum",
            &["a", "b", "c"],
            &["y"],
            &[("equation", A::S("ij,jk,kl->il"))],
        ),
    ];
    let out = import(&g).expect("imports");
    // (ij,jk -> ik): 2*20*30*40, then (ik,kl -> il): 2*20*40*50.
    assert_eq!(out.nodes[0].flops, 48_000.0 + 80_000.0);
    assert_eq!(out.nodes[0].kind, OpKind::Matmul);
}

#[test]
fn einsum_ellipsis_over_twelve_dims_keeps_every_dim() {
    let dims = [2i64; 12];
    let g = [
        fixed("a", &dims),
        fixed("b", &dims),
        node(
            "Einsum",
            &["a", "b"],
            &["y"],
            &[("equation", A::S("...,...->..."))],
        ),
    ];
    // 12 distinct dims of 2: 2 * 2^12 (ten pseudo-letters would give 2 * 2^10).
    assert_eq!(import(&g).expect("imports").nodes[0].flops, 8192.0);
}

#[test]
fn einsum_index_sizes_must_agree() {
    let g = [
        fixed("a", &[2, 3]),
        fixed("b", &[5, 4]),
        node(
            "Einsum",
            &["a", "b"],
            &["y"],
            &[("equation", A::S("ij,jk->ik"))],
        ),
    ];
    assert_refused(&g, "Einsum_0", &["index `j` is 3 in one operand and 5"]);
}

// 8. Conv attributes that contradict the spec were used as given (or clamped).

fn conv(cin: i64, w: &[i64], attrs: &[(&str, A)]) -> Vec<Vec<u8>> {
    vec![
        fixed("x", &[1, cin, 8, 8]),
        weight("w", w),
        node("Conv", &["x", "w"], &["y"], attrs),
    ]
}

#[test]
fn conv_attributes_are_checked() {
    let w = [6, 3, 3, 3];
    assert_refused(
        &conv(4, &[6, 7, 3, 3], &[]),
        "Conv_0",
        &["weight `w`", "7 input channels per group"],
    );
    assert_refused(
        &conv(4, &[6, 2, 3, 3], &[("group", A::I(3))]),
        "Conv_0",
        &[
            "attribute `group`",
            "does not divide the input's 4 channels",
        ],
    );
    assert_refused(
        &conv(3, &w, &[("strides", A::Is(&[0, -1]))]),
        "Conv_0",
        &["attribute `strides` holds 0"],
    );
    assert_refused(
        &conv(3, &w, &[("dilations", A::Is(&[-3, -3]))]),
        "Conv_0",
        &["attribute `dilations` holds -3"],
    );
    assert_refused(
        &conv(3, &w, &[("group", A::I(-4))]),
        "Conv_0",
        &["attribute `group` = -4"],
    );
    // Two groups of 2 channels, 6 outputs, 3x3 over 8x8: 6x6 outputs,
    // 2 * 36 * (6 * 2 * 9) FLOPs.
    let g = import(&conv(4, &[6, 2, 3, 3], &[("group", A::I(2))])).expect("imports");
    assert_eq!(g.nodes[0].flops, 7776.0);
}

// 9. TopK with k above the axis.

#[test]
fn top_k_above_the_axis_is_refused() {
    let g = [
        fixed("x", &[2, 3]),
        ints("k", &[1 << 40]),
        node("TopK", &["x", "k"], &["v", "i"], &[]),
    ];
    assert_refused(
        &g,
        "TopK_0",
        &["input `K` (k)", "larger than axis 1's 3 elements"],
    );
}

// 10. A cycle through unnamed nodes named an empty node.

#[test]
fn a_cycle_names_the_node_by_its_label() {
    let g = [
        fixed("x", &[1]),
        node("Relu", &["b"], &["a"], &[]),
        node("Relu", &["a"], &["b"], &[]),
    ];
    let e = import(&g).expect_err("cycle");
    assert_eq!(e.field, "model.file");
    assert!(
        e.message.contains("cycle (through node `Relu_0`)"),
        "{}",
        e.message
    );
}

// 11. An empty safetensors header gave a NaN difference.

#[test]
fn cross_check_against_an_empty_header_has_no_difference() {
    let empty = SafetensorsSummary {
        tensors: 0,
        params: 0,
        params_by_dtype: BTreeMap::new(),
        data_bytes: 0,
        metadata: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let (diff, line) = cross_check(124_439_808.0, &empty);
    assert_eq!(diff, None);
    assert!(line.contains("lists no tensors"), "{line}");
    assert!(!line.contains("NaN"), "{line}");
    let half = SafetensorsSummary {
        tensors: 1,
        params: 100,
        ..empty
    };
    assert_eq!(cross_check(150.0, &half).0, Some(0.5));
}

// 12. A graph input or initializer listed twice was taken once, silently.

#[test]
fn a_name_listed_twice_is_refused() {
    let mm = || node("MatMul", &["x", "w"], &["y"], &[]);
    let ok = import(&[fixed("x", &[2, 4]), weight("w", &[4, 8]), mm()]).expect("imports");
    assert_eq!(ok.params, 32.0);
    for (graph, what) in [
        (
            vec![
                fixed("x", &[2, 4]),
                fixed("x", &[2, 4]),
                weight("w", &[4, 8]),
                mm(),
            ],
            "input `x` is listed twice",
        ),
        (
            vec![
                fixed("x", &[2, 4]),
                weight("w", &[4, 8]),
                weight("w", &[4, 8]),
                mm(),
            ],
            "initializer `w` is listed twice",
        ),
    ] {
        let e = import(&graph).expect_err(what);
        assert_eq!(e.field, "model.file");
        assert!(e.message.contains(what), "{}", e.message);
    }
}

// 13. Float initializers that are an op's settings (Clip's bounds, Resize's
// scales) were counted as parameters; a weight feeding Mul still is.

#[test]
fn float_settings_are_not_parameters() {
    let g = import(&[
        fixed("x", &[1, 4]),
        weight("lo", &[]),
        weight("hi", &[]),
        weight("s", &[4]),
        weight("r", &[2]),
        node("Clip", &["x", "lo", "hi"], &["c"], &[]),
        node("Mul", &["c", "s"], &["m"], &[]),
        node("Resize", &["m", "", "r"], &["y"], &[]),
    ])
    .expect("imports");
    assert_eq!(g.params, 4.0, "only Mul's weight `s`: {:?}", g.warnings);
}
