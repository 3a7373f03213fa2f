//! ONNX import: `ModelProto` bytes -> [`ForwardGraph`].
//!
//! The file is walked in place ([`decode`], on top of [`super::proto`]):
//! initializer data, inline (`raw_data`, `float_data`...) or external, is never
//! copied; only names, dtypes and dims are read, plus the values of small integer
//! tensors (shapes, axes), which shape inference needs. Nodes are then taken in
//! topological order from the graph inputs, with symbolic dimensions bound by the
//! caller; each node's op is looked up once in the op table ([`ops`]: one entry
//! per op holding its shape inference and its cost), in FlopCounterMode's
//! convention: matmuls, convolutions and attention count 2 FLOPs per
//! multiply-add; everything else goes to `other_flops`.

mod decode;
mod ops;

use super::ImportOptions;
use crate::model::graph::{ForwardGraph, GraphNode, OpKind};
use crate::InputError;
use decode::{DimP, Node, ValueInfo};
use ops::{is_float, is_int, numel, to_dim, to_dims, Cost, Cx, Fail, Table, Val};
use std::collections::{HashMap, HashSet};

fn bad(msg: impl Into<String>) -> InputError {
    InputError::new("model.file", msg)
}

fn seq(opts: &ImportOptions, warnings: &mut Vec<String>) -> u64 {
    opts.seq.unwrap_or_else(|| {
        let w = "the sequence length is not given: 128 by default (--seq)".to_string();
        if !warnings.contains(&w) {
            warnings.push(w);
        }
        128
    })
}

/// Binds a symbolic dimension (warnings say how a default was chosen).
fn bind_dim(
    name: &str,
    axis: usize,
    input_dtype: i32,
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
    bound: &mut HashMap<String, u64>,
) -> u64 {
    if let Some(&v) = bound.get(name).filter(|_| !name.is_empty()) {
        return v;
    }
    let lower = name.to_ascii_lowercase();
    let v = if let Some(&v) = opts.dims.get(name) {
        v
    } else if lower.contains("batch") {
        opts.batch.unwrap_or(1)
    } else if lower.contains("seq") || lower.contains("len") || lower.contains("token") {
        seq(opts, warnings)
    } else if axis == 0 {
        opts.batch.unwrap_or(1)
    } else if axis == 1 && is_int(input_dtype) {
        seq(opts, warnings)
    } else {
        warnings.push(format!(
            "symbolic dimension `{name}` (axis {axis}) is not bound: taken as 1 (--dim {name}=N)"
        ));
        1
    };
    if !name.is_empty() {
        bound.insert(name.to_string(), v);
    }
    v
}

/// Imports an ONNX `ModelProto` (the file's bytes) into a forward graph.
pub fn import_onnx(bytes: &[u8], opts: &ImportOptions) -> Result<ForwardGraph, InputError> {
    let model = decode::parse_model(bytes)?;
    let g = &model.graph;
    let mut warnings = Vec::new();
    if let Some(v) = model.opset {
        if v < 7 {
            warnings.push(format!(
                "opset {v} is old: some attributes may be read with newer semantics"
            ));
        }
    }
    if g.sparse_inits > 0 {
        warnings.push(format!(
            "{} sparse initializers ignored in the parameter count",
            g.sparse_inits
        ));
    }
    let mut vals: HashMap<&str, Val> = HashMap::new();
    let mut float_inits: HashSet<&str> = HashSet::new();
    for t in &g.inits {
        let shape = to_dims(&t.dims)
            .ok_or_else(|| bad(format!("initializer `{}` has a negative dim", t.name)))?;
        numel(&shape)?;
        if is_float(t.dtype) {
            float_inits.insert(t.name);
        }
        if vals
            .insert(t.name, Val::of(t.dtype, shape, t.ints.clone()))
            .is_some()
        {
            return Err(bad(format!("initializer `{}` is listed twice", t.name)));
        }
    }
    // Graph inputs, with symbolic dims bound.
    let mut bound: HashMap<String, u64> = HashMap::new();
    let mut batch = None;
    let mut symbolic: Vec<&str> = Vec::new();
    let mut inputs: HashSet<&str> = HashSet::new();
    for vi in &g.inputs {
        if !inputs.insert(vi.name) {
            return Err(bad(format!("input `{}` is listed twice", vi.name)));
        }
        if vals.contains_key(vi.name) {
            continue; // an initializer listed as an input (old exporters)
        }
        let Some(shape) = &vi.shape else {
            warnings.push(format!("input `{}` has no shape", vi.name));
            continue;
        };
        let mut s = Vec::with_capacity(shape.len());
        for (axis, d) in shape.iter().enumerate() {
            let v = match d {
                DimP::Value(v) if *v > 0 => *v as u64,
                DimP::Value(0) => {
                    warnings.push(format!("input `{}` has a zero-sized dim {axis}", vi.name));
                    0
                }
                DimP::Value(_) => bind_dim("", axis, vi.dtype, opts, &mut warnings, &mut bound),
                DimP::Param(p) => {
                    if !p.is_empty() && !symbolic.contains(p) {
                        symbolic.push(*p);
                    }
                    bind_dim(p, axis, vi.dtype, opts, &mut warnings, &mut bound)
                }
            };
            s.push(v);
        }
        numel(&s)?;
        if batch.is_none() {
            batch = s.first().copied();
            if let (Some(b), Some(&want)) = (opts.batch, s.first()) {
                if b != want && matches!(shape.first(), Some(DimP::Value(_))) {
                    warnings.push(format!(
                        "the graph's batch is fixed at {want}: --batch {b} ignored"
                    ));
                }
            }
        }
        vals.insert(vi.name, Val::new(vi.dtype, s));
    }
    // A named dimension the inputs do not have is a typo, not a no-op.
    if let Some(k) = opts.dims.keys().find(|k| !symbolic.contains(&k.as_str())) {
        return Err(bad(format!(
            "no input has a symbolic dimension `{k}` (they have: {})",
            symbolic.join(", ")
        )));
    }
    // value_info: a fallback for outputs this importer cannot infer.
    let mut hints: HashMap<&str, &ValueInfo<'_>> = HashMap::new();
    for vi in &g.value_info {
        hints.insert(vi.name, vi);
    }

    let order = topo_order(&g.nodes, &vals)?;
    let table = Table::new();

    let mut nodes = Vec::with_capacity(order.len());
    // In the file's order, with a set beside it: 100k distinct ops must not take quadratic time.
    let mut unsupported: Vec<String> = Vec::new();
    let mut unsupported_seen: HashSet<String> = HashSet::new();
    let mut counted_params: HashSet<&str> = HashSet::new();
    let mut params = 0.0;
    let mut zero_warned = false;
    for &i in &order {
        let n = &g.nodes[i];
        let ins: Vec<Option<&Val>> = n
            .inputs
            .iter()
            .map(|s| if s.is_empty() { None } else { vals.get(s) })
            .collect();
        let label = label(n, i);
        let foreign = !n.domain.is_empty() && !matches!(n.domain, "ai.onnx" | "com.microsoft");
        let def = if foreign { None } else { table.get(n) };
        let (outs, inferred) = match def {
            None => (None, false),
            Some(def) => match (def.infer)(&Cx { n, ins: &ins }) {
                Ok(o) => {
                    let ok = o
                        .as_ref()
                        .is_some_and(|o| o.first().is_some_and(Option::is_some));
                    (o, ok)
                }
                Err(Fail::Skip(e)) => {
                    warnings.push(format!("{label}: {}", e.message));
                    (Some(vec![None; n.outputs.len()]), false)
                }
                Err(Fail::Invalid(e)) => {
                    return Err(InputError::new(
                        e.field,
                        format!("node `{label}` ({}): {}", n.op, e.message),
                    ))
                }
            },
        };
        let mut outs = outs.unwrap_or_else(|| {
            let op = if n.domain.is_empty() {
                n.op.to_string()
            } else {
                format!("{}:{}", n.domain, n.op)
            };
            if unsupported_seen.insert(op.clone()) {
                unsupported.push(op);
            }
            Vec::new()
        });
        outs.resize(n.outputs.len(), None);
        if n.attrs.iter().any(|a| a.graph) {
            warnings.push(format!("{label}: {} has a subgraph, not counted", n.op));
        }
        // Fallback to the file's own value_info for what inference could not do.
        for (o, name) in outs.iter_mut().zip(&n.outputs) {
            if o.is_none() {
                *o = hints.get(name).and_then(|vi| {
                    let s = vi.shape.as_ref()?;
                    let dims = s
                        .iter()
                        .map(|d| match d {
                            DimP::Value(v) => to_dim(*v),
                            DimP::Param(p) => bound.get(*p).copied(),
                        })
                        .collect::<Option<Vec<_>>>()?;
                    numel(&dims).ok()?;
                    Some(Val::new(vi.dtype, dims))
                });
            }
        }
        // Parameters: float initializers, counted at their first use. Inputs that
        // are settings, not weights, are not: BatchNorm's running statistics,
        // Resize's roi and scales, Upsample's scales, Clip's bounds, Pad's value.
        let mut p = 0.0;
        for (j, name) in n.inputs.iter().enumerate() {
            let setting = match n.op {
                "BatchNormalization" => j >= 3,
                "Resize" | "Upsample" | "Clip" | "Pad" => j >= 1,
                _ => false,
            };
            if setting {
                continue;
            }
            if float_inits.contains(name) && counted_params.insert(name) {
                p += vals
                    .get(name)
                    .map_or(0.0, |v| v.numel().unwrap_or(0) as f64);
            }
        }
        params += p;
        // Costs only from shapes this importer inferred itself (consistent with its checks).
        let c = match def.filter(|_| inferred).map(|d| d.cost(n, &ins, &outs)) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                warnings.push(format!("{label}: {}", e.message));
                None
            }
        };
        // Empty constants (an empty axes list) are normal; an empty activation is not.
        let computes = c.as_ref().is_some_and(|c| c.kind != OpKind::Shape);
        if !zero_warned
            && computes
            && outs
                .iter()
                .flatten()
                .any(|v| v.shape.contains(&0) && v.ints.is_none())
        {
            warnings.push(format!(
                "{label}: zero-sized output: the graph has an empty dimension"
            ));
            zero_warned = true;
        }
        let c = c.unwrap_or(Cost::zero(OpKind::Elementwise));
        check_cost(&c, &label, n.op)?;
        for (name, o) in n.outputs.iter().zip(outs) {
            if let Some(o) = o {
                if !name.is_empty() {
                    vals.insert(name, o);
                }
            }
        }
        nodes.push(GraphNode {
            name: label,
            op_type: if n.domain.is_empty() || n.domain == "ai.onnx" {
                n.op.to_string()
            } else {
                format!("{}:{}", n.domain, n.op)
            },
            kind: c.kind,
            flops: c.flops,
            other_flops: c.other,
            elements: c.elements,
            params: p,
            mnk: c.mnk,
        });
    }
    // A sum of finite costs can still overflow to infinity.
    for (what, total) in [
        ("FLOPs", nodes.iter().map(|n| n.flops).sum::<f64>()),
        ("other FLOPs", nodes.iter().map(|n| n.other_flops).sum()),
        ("elements", nodes.iter().map(|n| n.elements).sum()),
    ] {
        if !total.is_finite() {
            return Err(bad(format!(
                "the graph's total {what} overflow: the file's shapes are implausibly large"
            )));
        }
    }
    if !unsupported.is_empty() {
        warnings.push(format!(
            "unsupported ops counted as zero: {}",
            unsupported.join(", ")
        ));
    }
    let source = if g.name.is_empty() {
        opts.source.clone()
    } else {
        format!("{} ({})", opts.source, g.name)
    };
    Ok(ForwardGraph {
        source,
        batch: batch.unwrap_or(1),
        params,
        nodes,
        unsupported_ops: unsupported,
        warnings,
    })
}

/// A node's name, or `{op}_{index}` when the file gives none.
fn label(n: &Node<'_>, i: usize) -> String {
    if n.name.is_empty() {
        format!("{}_{i}", n.op)
    } else {
        n.name.to_string()
    }
}

/// Every cost an answer shows is finite and non-negative; an op formula fed by
/// hostile attributes that breaks this is an error naming the node, not a NaN later.
fn check_cost(c: &Cost, label: &str, op: &str) -> Result<(), InputError> {
    let mnk = c.mnk.unwrap_or_default();
    let fields = [
        ("FLOPs", c.flops),
        ("other FLOPs", c.other),
        ("elements", c.elements),
    ];
    let bad_field = fields
        .iter()
        .copied()
        .chain(mnk.iter().map(|&x| ("m, n, k", x)))
        .find(|(_, x)| !x.is_finite() || *x < 0.0);
    match bad_field {
        None => Ok(()),
        Some((what, x)) => Err(bad(format!(
            "node `{label}` ({op}): its {what} come to {x}: an attribute or shape of this node is out of range; fix the node in the exporter"
        ))),
    }
}

/// Kahn's algorithm over the nodes (the spec requires sorted nodes; a hostile file
/// may not be): errors on a cycle or a value produced twice.
fn topo_order(nodes: &[Node<'_>], known: &HashMap<&str, Val>) -> Result<Vec<usize>, InputError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for o in &n.outputs {
            if o.is_empty() {
                continue;
            }
            if producer.insert(o, i).is_some() || known.contains_key(o) {
                return Err(bad(format!(
                    "value `{o}` is produced twice (the graph is not in SSA form)"
                )));
            }
        }
    }
    let mut indeg = vec![0usize; nodes.len()];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for inp in &n.inputs {
            if let Some(&p) = producer.get(inp) {
                indeg[i] += 1;
                users[p].push(i);
            }
        }
    }
    // Keep the file's order where it is already valid: a min-heap on the index.
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..nodes.len())
        .filter(|&i| indeg[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.push(std::cmp::Reverse(u));
            }
        }
    }
    if order.len() != nodes.len() {
        let stuck = (0..nodes.len())
            .find(|&i| indeg[i] > 0)
            .map_or_else(|| "?".to_string(), |i| label(&nodes[i], i));
        return Err(bad(format!(
            "the graph has a cycle (through node `{stuck}`)"
        )));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backstop behind every op formula: a non-finite or negative count is
    /// an error naming the node, never a number in an answer.
    #[test]
    fn non_finite_or_negative_costs_are_errors() {
        let cost = |flops, other, mnk| Cost {
            flops,
            other,
            mnk,
            ..Cost::zero(OpKind::Matmul)
        };
        assert!(check_cost(&cost(2.0, 1.0, Some([1.0, 2.0, 3.0])), "mm", "MatMul").is_ok());
        for (c, what) in [
            (cost(f64::INFINITY, 0.0, None), "its FLOPs come to inf"),
            (cost(-8.0, 0.0, None), "its FLOPs come to -8"),
            (cost(0.0, f64::NAN, None), "its other FLOPs come to NaN"),
            (
                cost(0.0, 0.0, Some([1.0, -2.0, 1.0])),
                "its m, n, k come to -2",
            ),
        ] {
            let e = check_cost(&c, "pool1", "MaxPool").expect_err(what);
            assert_eq!(e.field, "model.file");
            assert!(
                e.message
                    .starts_with(&format!("node `pool1` (MaxPool): {what}")),
                "{}",
                e.message
            );
        }
    }
}
