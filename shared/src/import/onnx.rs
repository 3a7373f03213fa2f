//! ONNX import: `ModelProto` bytes -> [`ForwardGraph`].
//!
//! The file is walked in place (see [`super::proto`]): initializer data, inline
//! (`raw_data`, `float_data`...) or external, is never copied; only names, dtypes
//! and dims are read, plus the values of small integer tensors (shapes, axes),
//! which shape inference needs. Shapes are then inferred node by node from the
//! graph inputs, with symbolic dimensions bound by the caller, and each node is
//! costed in FlopCounterMode's convention: matmuls, convolutions and attention
//! count 2 FLOPs per multiply-add; everything else goes to `other_flops`.

use super::proto::{self, WireError};
use super::ImportOptions;
use crate::model::graph::{ForwardGraph, GraphNode, OpKind};
use crate::InputError;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Highest tensor rank accepted.
const MAX_RANK: usize = 64;
/// Integer tensors up to this many elements have their values tracked.
const MAX_INTS: usize = 4096;
/// Float constants up to this many elements are tracked when their values are integral.
const MAX_FLOAT_CONSTS: usize = 64;

fn werr(e: WireError) -> InputError {
    InputError::new("model.file", format!("not a valid ONNX file: {}", e.0))
}

fn bad(msg: impl Into<String>) -> InputError {
    InputError::new("model.file", msg)
}

// ---------------------------------------------------------------------------
// The few message types needed, read from the wire.

#[derive(Debug, Clone, Default)]
struct Tensor<'a> {
    name: &'a str,
    dtype: i32,
    dims: Vec<i64>,
    ints: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Default)]
struct Attr<'a> {
    name: &'a str,
    f: Option<f32>,
    i: Option<i64>,
    s: Option<&'a [u8]>,
    t: Option<Tensor<'a>>,
    ints: Vec<i64>,
    floats: usize,
    graph: bool,
}

#[derive(Debug, Clone, Default)]
struct Node<'a> {
    name: &'a str,
    op: &'a str,
    domain: &'a str,
    inputs: Vec<&'a str>,
    outputs: Vec<&'a str>,
    attrs: Vec<Attr<'a>>,
}

#[derive(Debug, Clone)]
enum DimP<'a> {
    Value(i64),
    Param(&'a str),
}

#[derive(Debug, Clone, Default)]
struct ValueInfo<'a> {
    name: &'a str,
    dtype: i32,
    shape: Option<Vec<DimP<'a>>>,
}

#[derive(Debug, Default)]
struct Graph<'a> {
    name: &'a str,
    nodes: Vec<Node<'a>>,
    inits: Vec<Tensor<'a>>,
    inputs: Vec<ValueInfo<'a>>,
    value_info: Vec<ValueInfo<'a>>,
    sparse_inits: usize,
}

fn parse_tensor(buf: &[u8]) -> Result<Tensor<'_>, WireError> {
    let mut t = Tensor::default();
    let mut raw: Option<&[u8]> = None;
    let mut vals: Vec<i64> = Vec::new();
    let mut too_many = false;
    let mut floats: Vec<f64> = Vec::new();
    proto::for_each(buf, |f, v| {
        match f {
            1 => proto::push_i64s(v, &mut t.dims, MAX_RANK)?,
            4 | 10 if floats.len() <= MAX_FLOAT_CONSTS => match v {
                proto::Value::Bytes(b) if f == 4 => floats.extend(
                    b.chunks_exact(4)
                        .take(MAX_FLOAT_CONSTS + 1)
                        .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))),
                ),
                proto::Value::Bytes(b) => floats.extend(
                    b.chunks_exact(8)
                        .take(MAX_FLOAT_CONSTS + 1)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
                ),
                proto::Value::Fixed32(x) => floats.push(f64::from(f32::from_bits(x))),
                proto::Value::Fixed64(x) => floats.push(f64::from_bits(x)),
                proto::Value::Varint(_) => {}
            },
            2 => t.dtype = v.as_i64()? as i32,
            8 => t.name = v.as_str()?,
            9 => raw = Some(v.as_bytes()?),
            5 | 7 if !too_many && proto::push_i64s(v, &mut vals, MAX_INTS).is_err() => {
                too_many = true;
            }
            _ => {}
        }
        Ok(())
    })?;
    // Small float constants with integral values (0.0, 1.0) take part in shape
    // arithmetic too (CastLike of a float constant to an int64 size).
    if matches!(t.dtype, 1 | 11) {
        let n = t
            .dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?));
        if let Some(n) = n.filter(|&n| n as usize <= MAX_FLOAT_CONSTS) {
            let n = n as usize;
            if let Some(raw) = raw {
                let w = if t.dtype == 1 { 4 } else { 8 };
                if raw.len() == n * w {
                    floats = raw
                        .chunks_exact(w)
                        .map(|c| {
                            if w == 4 {
                                f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                            } else {
                                f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))
                            }
                        })
                        .collect();
                }
            }
            if floats.len() == n && floats.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15) {
                t.ints = Some(floats.iter().map(|&x| x as i64).collect());
            }
        }
    }
    if matches!(t.dtype, 6 | 7) && !too_many {
        let n = t
            .dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?));
        if let Some(n) = n.filter(|&n| n as usize <= MAX_INTS) {
            let n = n as usize;
            if let Some(raw) = raw {
                let w = if t.dtype == 7 { 8 } else { 4 };
                if raw.len() == n * w {
                    t.ints = Some(
                        raw.chunks_exact(w)
                            .map(|c| {
                                if w == 8 {
                                    i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))
                                } else {
                                    i64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                                }
                            })
                            .collect(),
                    );
                }
            } else if vals.len() == n {
                // int32_data holds int32 values as varints (sign-extended).
                if t.dtype == 6 {
                    vals.iter_mut().for_each(|v| *v = i64::from(*v as i32));
                }
                t.ints = Some(vals);
            }
        }
    }
    Ok(t)
}

fn parse_attr(buf: &[u8]) -> Result<Attr<'_>, WireError> {
    let mut a = Attr::default();
    proto::for_each(buf, |f, v| {
        match f {
            1 => a.name = v.as_str()?,
            2 => a.f = Some(v.as_f32()?),
            3 => a.i = Some(v.as_i64()?),
            4 => a.s = Some(v.as_bytes()?),
            5 => a.t = Some(parse_tensor(v.as_bytes()?)?),
            6 | 11 => a.graph = true,
            7 => a.floats += 1,
            8 => proto::push_i64s(v, &mut a.ints, 1 << 20)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(a)
}

fn parse_node(buf: &[u8]) -> Result<Node<'_>, WireError> {
    let mut n = Node::default();
    proto::for_each(buf, |f, v| {
        match f {
            1 => n.inputs.push(v.as_str()?),
            2 => n.outputs.push(v.as_str()?),
            3 => n.name = v.as_str()?,
            4 => n.op = v.as_str()?,
            5 => n.attrs.push(parse_attr(v.as_bytes()?)?),
            7 => n.domain = v.as_str()?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(n)
}

fn parse_value_info(buf: &[u8]) -> Result<ValueInfo<'_>, WireError> {
    let mut vi = ValueInfo::default();
    proto::for_each(buf, |f, v| {
        match f {
            1 => vi.name = v.as_str()?,
            2 => proto::for_each(v.as_bytes()?, |f, v| {
                if f == 1 {
                    // TypeProto.Tensor
                    proto::for_each(v.as_bytes()?, |f, v| {
                        match f {
                            1 => vi.dtype = v.as_i64()? as i32,
                            2 => {
                                let mut dims = Vec::new();
                                proto::for_each(v.as_bytes()?, |f, v| {
                                    if f == 1 {
                                        if dims.len() >= MAX_RANK {
                                            return Err(WireError("rank above 64".into()));
                                        }
                                        let mut d = DimP::Param("");
                                        proto::for_each(v.as_bytes()?, |f, v| {
                                            match f {
                                                1 => d = DimP::Value(v.as_i64()?),
                                                2 => d = DimP::Param(v.as_str()?),
                                                _ => {}
                                            }
                                            Ok(())
                                        })?;
                                        dims.push(d);
                                    }
                                    Ok(())
                                })?;
                                vi.shape = Some(dims);
                            }
                            _ => {}
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(vi)
}

fn parse_graph(buf: &[u8]) -> Result<Graph<'_>, WireError> {
    let mut g = Graph::default();
    proto::for_each(buf, |f, v| {
        match f {
            1 => g.nodes.push(parse_node(v.as_bytes()?)?),
            2 => g.name = v.as_str()?,
            5 => g.inits.push(parse_tensor(v.as_bytes()?)?),
            11 => g.inputs.push(parse_value_info(v.as_bytes()?)?),
            13 => g.value_info.push(parse_value_info(v.as_bytes()?)?),
            15 => g.sparse_inits += 1,
            _ => {}
        }
        Ok(())
    })?;
    Ok(g)
}

struct Model<'a> {
    graph: Graph<'a>,
    opset: Option<i64>,
    producer: &'a str,
}

fn parse_model(buf: &[u8]) -> Result<Model<'_>, InputError> {
    let mut graph = None;
    let mut opset = None;
    let mut producer = "";
    let mut ir = None;
    proto::for_each(buf, |f, v| {
        match f {
            1 => ir = Some(v.as_i64()?),
            2 => producer = v.as_str()?,
            7 => graph = Some(parse_graph(v.as_bytes()?)?),
            8 => {
                let (mut dom, mut ver) = ("", 0);
                proto::for_each(v.as_bytes()?, |f, v| {
                    match f {
                        1 => dom = v.as_str()?,
                        2 => ver = v.as_i64()?,
                        _ => {}
                    }
                    Ok(())
                })?;
                if dom.is_empty() || dom == "ai.onnx" {
                    opset = Some(ver);
                }
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(werr)?;
    let graph = graph.ok_or_else(|| bad("not an ONNX model: no graph (is this an ONNX file?)"))?;
    if ir.is_none() && graph.nodes.is_empty() {
        return Err(bad("not an ONNX model: no ir_version and no nodes"));
    }
    Ok(Model {
        graph,
        opset,
        producer,
    })
}

// ---------------------------------------------------------------------------
// Shape inference.

/// What is known about one value.
#[derive(Debug, Clone, PartialEq)]
struct Val {
    dtype: i32,
    shape: Vec<u64>,
    /// The values of a small integer tensor (shape computations).
    ints: Option<Vec<i64>>,
}

impl Val {
    fn new(dtype: i32, shape: Vec<u64>) -> Self {
        Val {
            dtype,
            shape,
            ints: None,
        }
    }
    fn ints(dtype: i32, shape: Vec<u64>, ints: Vec<i64>) -> Self {
        let ints = (ints.len() <= MAX_INTS).then_some(ints);
        Val { dtype, shape, ints }
    }
    fn numel(&self) -> Result<u64, InputError> {
        numel(&self.shape)
    }
    fn rank(&self) -> usize {
        self.shape.len()
    }
}

fn numel(s: &[u64]) -> Result<u64, InputError> {
    s.iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("a shape {s:?} has more than 2^64 elements")))
}

fn is_float(dtype: i32) -> bool {
    matches!(dtype, 1 | 10 | 11 | 16 | 17 | 18 | 19 | 20 | 23)
}

fn is_int(dtype: i32) -> bool {
    matches!(dtype, 2..=7 | 12 | 13)
}

fn attr<'b, 'a>(n: &'b Node<'a>, name: &str) -> Option<&'b Attr<'a>> {
    n.attrs.iter().find(|a| a.name == name)
}
fn attr_i(n: &Node<'_>, name: &str, default: i64) -> i64 {
    attr(n, name).and_then(|a| a.i).unwrap_or(default)
}
fn attr_ints(n: &Node<'_>, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}
fn attr_s<'a>(n: &Node<'a>, name: &str) -> Option<&'a str> {
    attr(n, name)
        .and_then(|a| a.s)
        .and_then(|s| std::str::from_utf8(s).ok())
}

fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

fn broadcast(shapes: &[&[u64]]) -> Option<Vec<u64>> {
    let rank = shapes.iter().map(|s| s.len()).max()?;
    let mut out = vec![1u64; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return None;
            }
        }
    }
    Some(out)
}

/// Elementwise integer arithmetic on small constant tensors (shape computations).
fn int_binary(op: &str, a: &Val, b: &Val, shape: &[u64]) -> Option<Vec<i64>> {
    // Float division of integral values stays exact only when it divides evenly.
    let exact_div = is_float(a.dtype) || is_float(b.dtype);
    let (x, y) = (a.ints.as_ref()?, b.ints.as_ref()?);
    let n = numel(shape).ok()? as usize;
    if n > MAX_INTS || (x.len() != n && x.len() != 1) || (y.len() != n && y.len() != 1) {
        return None;
    }
    let get = |v: &Vec<i64>, i: usize| if v.len() == 1 { v[0] } else { v[i] };
    (0..n)
        .map(|i| {
            let (p, q) = (get(x, i), get(y, i));
            Some(match op {
                "Add" => p.checked_add(q)?,
                "Sub" => p.checked_sub(q)?,
                "Mul" => p.checked_mul(q)?,
                "Div" if exact_div && p.checked_rem(q)? != 0 => return None,
                "Div" => p.checked_div_euclid(q).map(|_| p / q)?,
                "Pow" => p.checked_pow(u32::try_from(q).ok()?)?,
                "Mod" => p.checked_rem(q)?,
                "Max" => p.max(q),
                "Min" => p.min(q),
                "Equal" => i64::from(p == q),
                "Less" => i64::from(p < q),
                "Greater" => i64::from(p > q),
                "LessOrEqual" => i64::from(p <= q),
                "GreaterOrEqual" => i64::from(p >= q),
                "And" => i64::from(p != 0 && q != 0),
                "Or" => i64::from(p != 0 || q != 0),
                _ => return None,
            })
        })
        .collect()
}

fn to_dim(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

fn conv_out(
    n: &Node<'_>,
    spatial: &[u64],
    kernel: &[u64],
    ceil: bool,
) -> Result<Vec<u64>, InputError> {
    let k = kernel.len();
    let strides = attr_ints(n, "strides").unwrap_or_else(|| vec![1; k]);
    let dil = attr_ints(n, "dilations").unwrap_or_else(|| vec![1; k]);
    let pads = attr_ints(n, "pads").unwrap_or_else(|| vec![0; 2 * k]);
    let auto = attr_s(n, "auto_pad").unwrap_or("NOTSET");
    if strides.len() != k || dil.len() != k || pads.len() != 2 * k || spatial.len() != k {
        return Err(bad(format!("{}: inconsistent kernel attributes", n.op)));
    }
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let s = strides[i].max(1) as i128;
        let x = spatial[i] as i128;
        let o = match auto {
            "SAME_UPPER" | "SAME_LOWER" => (x + s - 1) / s,
            _ => {
                let (pb, pe) = if auto == "VALID" {
                    (0, 0)
                } else {
                    (pads[i] as i128, pads[i + k] as i128)
                };
                let eff = dil[i] as i128 * (kernel[i] as i128 - 1) + 1;
                let num = x + pb + pe - eff;
                if num < 0 {
                    return Err(bad(format!("{}: kernel larger than its input", n.op)));
                }
                if ceil {
                    (num + s - 1) / s + 1
                } else {
                    num / s + 1
                }
            }
        };
        out.push(u64::try_from(o).map_err(|_| bad("convolution output size overflows"))?);
    }
    Ok(out)
}

/// Infers the outputs of one node. `Ok(None)` for an op this importer does not know.
#[allow(clippy::too_many_lines)]
fn infer(n: &Node<'_>, ins: &[Option<&Val>]) -> Result<Option<Vec<Option<Val>>>, InputError> {
    let inp = |i: usize| ins.get(i).copied().flatten();
    let need = |i: usize| {
        inp(i).ok_or_else(|| {
            bad(format!(
                "{} `{}`: the shape of input {} is unknown",
                n.op,
                n.name,
                n.inputs.get(i).copied().unwrap_or("?")
            ))
        })
    };
    let same = |v: &Val| Ok(Some(vec![Some(Val::new(v.dtype, v.shape.clone()))]));
    let one = |v: Val| Ok(Some(vec![Some(v)]));
    // The ints of an optional input, or of an attribute of older opsets.
    let ints_of = |i: usize, name: &str| -> Option<Vec<i64>> {
        match inp(i) {
            Some(v) if n.inputs.get(i).is_some_and(|s| !s.is_empty()) => v.ints.clone(),
            _ => attr_ints(n, name),
        }
    };
    match n.op {
        "Relu"
        | "Gelu"
        | "FastGelu"
        | "BiasGelu"
        | "QuickGelu"
        | "Sigmoid"
        | "Tanh"
        | "Erf"
        | "Sqrt"
        | "Neg"
        | "Exp"
        | "Log"
        | "Abs"
        | "Reciprocal"
        | "Softmax"
        | "LogSoftmax"
        | "Identity"
        | "Not"
        | "Sin"
        | "Cos"
        | "HardSigmoid"
        | "HardSwish"
        | "LeakyRelu"
        | "Elu"
        | "Selu"
        | "Softplus"
        | "Clip"
        | "Floor"
        | "Ceil"
        | "Round"
        | "Mish"
        | "IsNaN"
        | "IsInf"
        | "Sign"
        | "Trilu"
        | "CumSum"
        | "Celu"
        | "PRelu"
        | "Silu"
        | "Swish"
        | "BatchNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "LpNormalization"
        | "LayerNormalization"
        | "SimplifiedLayerNormalization"
        | "SkipLayerNormalization"
        | "SkipSimplifiedLayerNormalization"
        | "RMSNormalization"
        | "RotaryEmbedding"
        | "ScatterND"
        | "ScatterElements"
        | "Dropout" => {
            let v = need(0)?;
            let mut o = vec![Some(Val::new(v.dtype, v.shape.clone()))];
            // Identity and Dropout carry shape values through.
            if matches!(n.op, "Identity" | "Dropout") {
                if let Some(o) = o[0].as_mut() {
                    o.ints = v.ints.clone();
                }
            }
            if n.op == "Dropout" && n.outputs.len() > 1 {
                o.push(Some(Val::new(9, v.shape.clone())));
            }
            Ok(Some(o))
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Mod" | "Max" | "Min" | "Equal" | "Less"
        | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor" | "Sum" | "Mean"
        | "BitShift" => {
            let vals: Vec<&Val> = (0..n.inputs.len()).map(need).collect::<Result<_, _>>()?;
            let shapes: Vec<&[u64]> = vals.iter().map(|v| v.shape.as_slice()).collect();
            let shape = broadcast(&shapes).ok_or_else(|| {
                bad(format!(
                    "{} `{}`: shapes {shapes:?} do not broadcast",
                    n.op, n.name
                ))
            })?;
            let dtype = if matches!(
                n.op,
                "Equal"
                    | "Less"
                    | "Greater"
                    | "LessOrEqual"
                    | "GreaterOrEqual"
                    | "And"
                    | "Or"
                    | "Xor"
            ) {
                9
            } else {
                vals[0].dtype
            };
            let ints = if vals.len() == 2 {
                int_binary(n.op, vals[0], vals[1], &shape)
            } else {
                None
            };
            one(Val { dtype, shape, ints })
        }
        "Where" => {
            let (c, a, b) = (need(0)?, need(1)?, need(2)?);
            let shape = broadcast(&[&c.shape, &a.shape, &b.shape])
                .ok_or_else(|| bad(format!("Where `{}`: shapes do not broadcast", n.name)))?;
            let ints = (|| {
                let (ci, ai, bi) = (c.ints.as_ref()?, a.ints.as_ref()?, b.ints.as_ref()?);
                let k = numel(&shape).ok()? as usize;
                let g = |v: &Vec<i64>, i: usize| v.get(if v.len() == 1 { 0 } else { i }).copied();
                (0..k)
                    .map(|i| if g(ci, i)? != 0 { g(ai, i) } else { g(bi, i) })
                    .collect()
            })();
            one(Val {
                dtype: a.dtype,
                shape,
                ints,
            })
        }
        "Cast" | "CastLike" => {
            let v = need(0)?;
            let to = if n.op == "Cast" {
                attr_i(n, "to", 1) as i32
            } else {
                need(1)?.dtype
            };
            // Integral values survive casts to ints and floats (shape arithmetic).
            let ints = match to {
                9 => v
                    .ints
                    .as_ref()
                    .map(|x| x.iter().map(|&x| i64::from(x != 0)).collect()),
                t if is_int(t) || is_float(t) => v.ints.clone(),
                _ => None,
            };
            one(Val {
                dtype: to,
                shape: v.shape.clone(),
                ints,
            })
        }
        "Constant" => {
            if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
                let shape = t
                    .dims
                    .iter()
                    .map(|&d| to_dim(d))
                    .collect::<Option<Vec<_>>>();
                let shape = shape.ok_or_else(|| bad("Constant with a negative dim"))?;
                return one(Val {
                    dtype: t.dtype,
                    shape,
                    ints: t.ints.clone(),
                });
            }
            if let Some(i) = attr(n, "value_int").and_then(|a| a.i) {
                return one(Val::ints(7, vec![], vec![i]));
            }
            if let Some(a) = attr(n, "value_ints") {
                return one(Val::ints(7, vec![a.ints.len() as u64], a.ints.clone()));
            }
            if attr(n, "value_float").is_some() {
                return one(Val::new(1, vec![]));
            }
            if let Some(a) = attr(n, "value_floats") {
                return one(Val::new(1, vec![a.floats as u64]));
            }
            Ok(None)
        }
        "ConstantOfShape" => {
            let s = need(0)?
                .ints
                .clone()
                .ok_or_else(|| bad("ConstantOfShape: unknown shape"))?;
            let shape = s.iter().map(|&d| to_dim(d)).collect::<Option<Vec<_>>>();
            let shape = shape.ok_or_else(|| bad("ConstantOfShape: negative dim"))?;
            let t = attr(n, "value").and_then(|a| a.t.as_ref());
            let dtype = t.map_or(1, |t| t.dtype);
            let fill = t
                .and_then(|t| t.ints.as_ref())
                .and_then(|v| v.first().copied());
            let count = numel(&shape)?;
            let ints = fill
                .filter(|_| count as usize <= MAX_INTS)
                .map(|f| vec![f; count as usize]);
            one(Val { dtype, shape, ints })
        }
        "Shape" => {
            let v = need(0)?;
            let r = v.rank() as i64;
            let clamp = |a: i64| (if a < 0 { a + r } else { a }).clamp(0, r) as usize;
            let s = clamp(attr_i(n, "start", 0));
            let e = clamp(attr_i(n, "end", r));
            let dims: Vec<i64> = v.shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
            one(Val::ints(7, vec![dims.len() as u64], dims))
        }
        "Size" => {
            let v = need(0)?;
            one(Val::ints(7, vec![], vec![v.numel()? as i64]))
        }
        "Range" => {
            let g = |i: usize| {
                need(i)
                    .ok()
                    .and_then(|v| v.ints.as_ref())
                    .and_then(|v| v.first().copied())
            };
            let (Some(s), Some(l), Some(d)) = (g(0), g(1), g(2)) else {
                return Err(bad(format!(
                    "Range `{}`: start, limit or delta unknown",
                    n.name
                )));
            };
            if d == 0 {
                return Err(bad("Range with delta 0"));
            }
            let len = ((l as i128 - s as i128) + d as i128 - d.signum() as i128) / d as i128;
            let len = u64::try_from(len.max(0)).map_err(|_| bad("Range too long"))?;
            let ints =
                (len as usize <= MAX_INTS).then(|| (0..len as i64).map(|i| s + i * d).collect());
            one(Val {
                dtype: need(0)?.dtype,
                shape: vec![len],
                ints,
            })
        }
        "Flatten" => {
            let v = need(0)?;
            let a = attr_i(n, "axis", 1);
            let a = if a < 0 { a + v.rank() as i64 } else { a }.clamp(0, v.rank() as i64) as usize;
            one(Val::new(
                v.dtype,
                vec![numel(&v.shape[..a])?, numel(&v.shape[a..])?],
            ))
        }
        "Reshape" => {
            let v = need(0)?;
            let s = need(1)?.ints.clone().ok_or_else(|| {
                bad(format!(
                    "Reshape `{}`: the target shape is not a known constant",
                    n.name
                ))
            })?;
            let allowzero = attr_i(n, "allowzero", 0) != 0;
            let total = v.numel()?;
            let mut out = Vec::with_capacity(s.len());
            let mut infer_at = None;
            for (i, &d) in s.iter().enumerate() {
                match d {
                    0 if !allowzero => out.push(
                        *v.shape
                            .get(i)
                            .ok_or_else(|| bad("Reshape: 0 past the input's rank"))?,
                    ),
                    -1 if infer_at.is_none() => {
                        infer_at = Some(i);
                        out.push(1);
                    }
                    d => out.push(
                        to_dim(d)
                            .ok_or_else(|| bad(format!("Reshape `{}`: bad dim {d}", n.name)))?,
                    ),
                }
            }
            if let Some(i) = infer_at {
                let rest = numel(&out)?;
                if rest == 0 || total % rest != 0 {
                    return Err(bad(format!(
                        "Reshape `{}`: {total} elements do not fit {s:?}",
                        n.name
                    )));
                }
                out[i] = total / rest;
            }
            if numel(&out)? != total {
                return Err(bad(format!(
                    "Reshape `{}`: {:?} -> {s:?} changes the element count",
                    n.name, v.shape
                )));
            }
            one(Val {
                dtype: v.dtype,
                shape: out,
                ints: v.ints.clone(),
            })
        }
        "Transpose" => {
            let v = need(0)?;
            let perm = attr_ints(n, "perm").unwrap_or_else(|| (0..v.rank() as i64).rev().collect());
            let shape = perm
                .iter()
                .map(|&p| norm_axis(p, v.rank()).and_then(|p| v.shape.get(p).copied()))
                .collect::<Option<Vec<_>>>()
                .filter(|s| s.len() == v.rank())
                .ok_or_else(|| bad(format!("Transpose `{}`: bad perm", n.name)))?;
            one(Val::new(v.dtype, shape))
        }
        "Squeeze" | "Unsqueeze" => {
            let v = need(0)?;
            let axes = ints_of(1, "axes");
            let mut shape = v.shape.clone();
            if n.op == "Squeeze" {
                match axes {
                    None => shape.retain(|&d| d != 1),
                    Some(ax) => {
                        let mut ax: Vec<usize> = ax
                            .iter()
                            .map(|&a| norm_axis(a, v.rank()))
                            .collect::<Option<_>>()
                            .ok_or_else(|| bad("Squeeze: bad axis"))?;
                        ax.sort_unstable();
                        ax.dedup();
                        for a in ax.into_iter().rev() {
                            shape.remove(a);
                        }
                    }
                }
            } else {
                let ax =
                    axes.ok_or_else(|| bad(format!("Unsqueeze `{}`: axes unknown", n.name)))?;
                let r = v.rank() + ax.len();
                let mut ax: Vec<usize> = ax
                    .iter()
                    .map(|&a| norm_axis(a, r))
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad("Unsqueeze: bad axis"))?;
                ax.sort_unstable();
                for a in ax {
                    if a > shape.len() {
                        return Err(bad("Unsqueeze: bad axis"));
                    }
                    shape.insert(a, 1);
                }
            }
            one(Val {
                dtype: v.dtype,
                shape,
                ints: v.ints.clone(),
            })
        }
        "Concat" => {
            let vals: Vec<&Val> = (0..n.inputs.len()).map(need).collect::<Result<_, _>>()?;
            let first = vals.first().ok_or_else(|| bad("Concat without inputs"))?;
            let ax = norm_axis(attr_i(n, "axis", 0), first.rank())
                .ok_or_else(|| bad("Concat: bad axis"))?;
            let mut shape = first.shape.clone();
            let mut sum = 0u64;
            for v in &vals {
                if v.rank() != first.rank() {
                    return Err(bad(format!("Concat `{}`: ranks differ", n.name)));
                }
                sum = sum
                    .checked_add(v.shape[ax])
                    .ok_or_else(|| bad("Concat overflows"))?;
            }
            shape[ax] = sum;
            let ints = if first.rank() <= 1 {
                vals.iter()
                    .map(|v| v.ints.clone())
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.concat())
            } else {
                None
            };
            one(Val {
                dtype: first.dtype,
                shape,
                ints,
            })
        }
        "Split" => {
            let v = need(0)?;
            let ax =
                norm_axis(attr_i(n, "axis", 0), v.rank()).ok_or_else(|| bad("Split: bad axis"))?;
            let k = n.outputs.len().max(1) as u64;
            let sizes = match ints_of(1, "split") {
                Some(s) if !s.is_empty() => s
                    .iter()
                    .map(|&d| to_dim(d))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("Split: negative size"))?,
                _ => {
                    let d = v.shape[ax];
                    let chunk = d.div_ceil(k);
                    (0..k)
                        .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                        .collect()
                }
            };
            Ok(Some(
                sizes
                    .iter()
                    .map(|&s| {
                        let mut sh = v.shape.clone();
                        sh[ax] = s;
                        Some(Val::new(v.dtype, sh))
                    })
                    .collect(),
            ))
        }
        "Slice" => {
            let v = need(0)?;
            let (starts, ends) = (ints_of(1, "starts"), ints_of(2, "ends"));
            let (Some(starts), Some(ends)) = (starts, ends) else {
                return Err(bad(format!("Slice `{}`: starts/ends unknown", n.name)));
            };
            let axes = ints_of(3, "axes").unwrap_or_else(|| (0..starts.len() as i64).collect());
            let steps = ints_of(4, "steps").unwrap_or_else(|| vec![1; starts.len()]);
            if axes.len() != starts.len()
                || ends.len() != starts.len()
                || steps.len() != starts.len()
            {
                return Err(bad(format!(
                    "Slice `{}`: inconsistent starts/ends/axes/steps",
                    n.name
                )));
            }
            let mut shape = v.shape.clone();
            let mut ints = v
                .ints
                .clone()
                .filter(|i| v.rank() == 1 && i.len() as u64 == v.shape[0]);
            for i in 0..starts.len() {
                let a = norm_axis(axes[i], v.rank()).ok_or_else(|| bad("Slice: bad axis"))?;
                let d = v.shape[a] as i128;
                let step = steps[i] as i128;
                if step == 0 {
                    return Err(bad("Slice with step 0"));
                }
                let fix = |x: i64, lo: i128, hi: i128| {
                    let x = x as i128;
                    (if x < 0 { x + d } else { x }).clamp(lo, hi)
                };
                let (s, e) = if step > 0 {
                    (fix(starts[i], 0, d), fix(ends[i], 0, d))
                } else {
                    (fix(starts[i], 0, d - 1), fix(ends[i], -1, d - 1))
                };
                let len = if step > 0 {
                    ((e - s).max(0) + step - 1) / step
                } else {
                    ((s - e).max(0) + (-step) - 1) / (-step)
                };
                shape[a] = len as u64;
                if let Some(v) = ints.as_mut() {
                    let mut out = Vec::new();
                    let mut j = s;
                    while out.len() < len as usize {
                        out.push(v.get(j as usize).copied().unwrap_or(0));
                        j += step;
                    }
                    *v = out;
                }
            }
            one(Val {
                dtype: v.dtype,
                shape,
                ints,
            })
        }
        "Gather" => {
            let (d, idx) = (need(0)?, need(1)?);
            let ax =
                norm_axis(attr_i(n, "axis", 0), d.rank()).ok_or_else(|| bad("Gather: bad axis"))?;
            let mut shape = d.shape[..ax].to_vec();
            shape.extend_from_slice(&idx.shape);
            shape.extend_from_slice(&d.shape[ax + 1..]);
            let ints = (|| {
                let (dv, iv) = (d.ints.as_ref()?, idx.ints.as_ref()?);
                if d.rank() != 1 {
                    return None;
                }
                let len = dv.len() as i64;
                iv.iter()
                    .map(|&i| dv.get((if i < 0 { i + len } else { i }) as usize).copied())
                    .collect()
            })();
            one(Val {
                dtype: d.dtype,
                shape,
                ints,
            })
        }
        "GatherElements" => one(Val::new(need(0)?.dtype, need(1)?.shape.clone())),
        "GatherND" => {
            let (d, idx) = (need(0)?, need(1)?);
            let b = attr_i(n, "batch_dims", 0).max(0) as usize;
            let k = idx
                .shape
                .last()
                .map(|&k| k as usize)
                .filter(|&k| b + k <= d.rank())
                .ok_or_else(|| {
                    bad(format!(
                        "GatherND `{}`: index depth exceeds the data's rank",
                        n.name
                    ))
                })?;
            let mut shape = idx.shape[..idx.rank() - 1].to_vec();
            shape.extend_from_slice(&d.shape[b + k..]);
            one(Val::new(d.dtype, shape))
        }
        "Expand" => {
            let v = need(0)?;
            let s = need(1)?
                .ints
                .clone()
                .ok_or_else(|| bad(format!("Expand `{}`: shape unknown", n.name)))?;
            let s: Vec<u64> = s
                .iter()
                .map(|&d| to_dim(d))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("Expand: negative dim"))?;
            let shape = broadcast(&[&v.shape, &s])
                .ok_or_else(|| bad(format!("Expand `{}`: does not broadcast", n.name)))?;
            let ints = match &v.ints {
                Some(iv) if iv.len() == 1 && numel(&shape)? as usize <= MAX_INTS => {
                    Some(vec![iv[0]; numel(&shape)? as usize])
                }
                Some(iv) if shape == v.shape => Some(iv.clone()),
                _ => None,
            };
            one(Val {
                dtype: v.dtype,
                shape,
                ints,
            })
        }
        "Tile" => {
            let v = need(0)?;
            let r = need(1)?
                .ints
                .clone()
                .ok_or_else(|| bad("Tile: repeats unknown"))?;
            if r.len() != v.rank() {
                return Err(bad("Tile: repeats do not match the rank"));
            }
            let shape = v
                .shape
                .iter()
                .zip(&r)
                .map(|(&d, &k)| to_dim(k).and_then(|k| d.checked_mul(k)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("Tile overflows"))?;
            one(Val::new(v.dtype, shape))
        }
        "Pad" => {
            let v = need(0)?;
            let p = ints_of(1, "pads").ok_or_else(|| bad("Pad: pads unknown"))?;
            if p.len() != 2 * v.rank() {
                return Err(bad(
                    "Pad: pads do not match the rank (axes input not supported)",
                ));
            }
            let r = v.rank();
            let shape = (0..r)
                .map(|i| u64::try_from(v.shape[i] as i128 + p[i] as i128 + p[i + r] as i128).ok())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("Pad: negative size"))?;
            one(Val::new(v.dtype, shape))
        }
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceSumSquare" | "ReduceLogSumExp" | "ArgMax" | "ArgMin" => {
            let v = need(0)?;
            let keep = attr_i(n, "keepdims", 1) != 0;
            let axes = if n.op.starts_with("Arg") {
                Some(vec![attr_i(n, "axis", 0)])
            } else {
                ints_of(1, "axes")
            };
            let axes: Vec<usize> = match axes {
                Some(a) if !a.is_empty() => a
                    .iter()
                    .map(|&a| norm_axis(a, v.rank()))
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad(format!("{}: bad axis", n.op)))?,
                _ if attr_i(n, "noop_with_empty_axes", 0) != 0 => return same(v),
                _ => (0..v.rank()).collect(),
            };
            let mut shape = Vec::new();
            for (i, &d) in v.shape.iter().enumerate() {
                if !axes.contains(&i) {
                    shape.push(d);
                } else if keep {
                    shape.push(1);
                }
            }
            let dtype = if n.op.starts_with("Arg") { 7 } else { v.dtype };
            one(Val::new(dtype, shape))
        }
        "TopK" => {
            let v = need(0)?;
            let k = need(1)?
                .ints
                .as_ref()
                .and_then(|k| k.first().copied())
                .and_then(to_dim);
            let k = k.ok_or_else(|| bad("TopK: k unknown"))?;
            let ax =
                norm_axis(attr_i(n, "axis", -1), v.rank()).ok_or_else(|| bad("TopK: bad axis"))?;
            let mut shape = v.shape.clone();
            shape[ax] = k;
            Ok(Some(vec![
                Some(Val::new(v.dtype, shape.clone())),
                Some(Val::new(7, shape)),
            ]))
        }
        "MatMul" => {
            let (a, b) = (need(0)?, need(1)?);
            Ok(Some(vec![Some(Val::new(
                a.dtype,
                matmul_shape(n, a, b)?.0,
            ))]))
        }
        "Gemm" => {
            let (a, b) = (need(0)?, need(1)?);
            let (m, _, nn) = gemm_dims(n, a, b)?;
            one(Val::new(a.dtype, vec![m, nn]))
        }
        "Einsum" => {
            let e = einsum(n, ins)?;
            one(Val::new(need(0)?.dtype, e.out_shape))
        }
        "Conv" | "ConvTranspose" => {
            let (v, w) = (need(0)?, need(1)?);
            if v.rank() < 3 || w.rank() != v.rank() {
                return Err(bad(format!(
                    "{} `{}`: input rank {} and weight rank {} do not match",
                    n.op,
                    n.name,
                    v.rank(),
                    w.rank()
                )));
            }
            let kernel = &w.shape[2..];
            let group = attr_i(n, "group", 1).max(1) as u64;
            let spatial = if n.op == "Conv" {
                conv_out(n, &v.shape[2..], kernel, false)?
            } else if let Some(os) = attr_ints(n, "output_shape") {
                os.iter()
                    .map(|&d| to_dim(d))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("ConvTranspose: bad output_shape"))?
            } else {
                let k = kernel.len();
                let strides = attr_ints(n, "strides").unwrap_or_else(|| vec![1; k]);
                let dil = attr_ints(n, "dilations").unwrap_or_else(|| vec![1; k]);
                let pads = attr_ints(n, "pads").unwrap_or_else(|| vec![0; 2 * k]);
                let op = attr_ints(n, "output_padding").unwrap_or_else(|| vec![0; k]);
                if strides.len() != k || dil.len() != k || pads.len() != 2 * k || op.len() != k {
                    return Err(bad("ConvTranspose: inconsistent attributes"));
                }
                (0..k)
                    .map(|i| {
                        let o = strides[i] as i128 * (v.shape[2 + i] as i128 - 1)
                            + op[i] as i128
                            + (kernel[i] as i128 - 1) * dil[i] as i128
                            + 1
                            - pads[i] as i128
                            - pads[i + k] as i128;
                        u64::try_from(o).ok()
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("ConvTranspose: bad output size"))?
            };
            let cout = if n.op == "Conv" {
                w.shape[0]
            } else {
                w.shape[1]
                    .checked_mul(group)
                    .ok_or_else(|| bad("overflow"))?
            };
            let mut shape = vec![v.shape[0], cout];
            shape.extend(spatial);
            one(Val::new(v.dtype, shape))
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            let v = need(0)?;
            let k = attr_ints(n, "kernel_shape").ok_or_else(|| bad("pool without kernel_shape"))?;
            let k: Vec<u64> = k
                .iter()
                .map(|&d| to_dim(d))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("bad kernel"))?;
            if v.rank() != k.len() + 2 {
                return Err(bad(format!(
                    "{} `{}`: kernel rank does not match",
                    n.op, n.name
                )));
            }
            let sp = conv_out(n, &v.shape[2..], &k, attr_i(n, "ceil_mode", 0) != 0)?;
            let mut shape = v.shape[..2].to_vec();
            shape.extend(sp);
            Ok(Some(vec![
                Some(Val::new(v.dtype, shape.clone())),
                Some(Val::new(7, shape)),
            ]))
        }
        "GlobalAveragePool" | "GlobalMaxPool" => {
            let v = need(0)?;
            let mut shape = v.shape.clone();
            shape.iter_mut().skip(2).for_each(|d| *d = 1);
            one(Val::new(v.dtype, shape))
        }
        "Attention" if n.domain == "com.microsoft" => {
            let (v, w) = (need(0)?, need(1)?);
            if v.rank() != 3 || w.rank() != 2 {
                return Err(bad("Attention: expects input (B,S,H) and weights (H, 3H)"));
            }
            let vh = attr_ints(n, "qkv_hidden_sizes")
                .and_then(|s| s.get(2).copied())
                .and_then(to_dim)
                .unwrap_or(w.shape[1] / 3);
            one(Val::new(v.dtype, vec![v.shape[0], v.shape[1], vh]))
        }
        "MultiHeadAttention" => {
            let q = need(0)?;
            let ok = |v: Option<&Val>| v.is_none_or(|v| matches!(v.rank(), 3 | 4));
            if q.rank() != 3 || !ok(inp(1)) || !ok(inp(2)) {
                return Err(bad(
                    "MultiHeadAttention: expects rank-3 query and rank-3 or rank-4 key and value",
                ));
            }
            let vdim = match inp(2) {
                Some(v) if v.rank() == 3 => v.shape[2],
                Some(v) if v.rank() == 4 => v.shape[1] * v.shape[3],
                _ => *q.shape.last().unwrap_or(&0),
            };
            one(Val::new(
                q.dtype,
                vec![q.shape[0], q.shape.get(1).copied().unwrap_or(1), vdim],
            ))
        }
        "Attention" => {
            let (q, k, v) = (need(0)?, need(1)?, need(2)?);
            if k.rank() != q.rank() {
                return Err(bad("Attention: Q and K ranks differ"));
            }
            let mut shape = q.shape.clone();
            if q.rank() == 4 && v.rank() == 4 {
                shape[3] = v.shape[3];
            } else if q.rank() == 3 && v.rank() == 3 {
                let qh = attr_i(n, "q_num_heads", 1).max(1) as u64;
                let kvh = attr_i(n, "kv_num_heads", 1).max(1) as u64;
                shape[2] = v.shape[2] / kvh * qh;
            } else {
                return Err(bad("Attention: expects rank-3 or rank-4 Q and V"));
            }
            one(Val::new(q.dtype, shape))
        }
        _ => Ok(None),
    }
}

fn matmul_shape(n: &Node<'_>, a: &Val, b: &Val) -> Result<(Vec<u64>, [u64; 4]), InputError> {
    if a.rank() == 0 || b.rank() == 0 {
        return Err(bad(format!("MatMul `{}`: scalar operand", n.name)));
    }
    let (m, k) = if a.rank() == 1 {
        (1, a.shape[0])
    } else {
        (a.shape[a.rank() - 2], a.shape[a.rank() - 1])
    };
    let (k2, nn) = if b.rank() == 1 {
        (b.shape[0], 1)
    } else {
        (b.shape[b.rank() - 2], b.shape[b.rank() - 1])
    };
    if k != k2 {
        return Err(bad(format!(
            "MatMul `{}`: inner dims {:?} x {:?} differ",
            n.name, a.shape, b.shape
        )));
    }
    let ab = if a.rank() > 2 {
        &a.shape[..a.rank() - 2]
    } else {
        &[][..]
    };
    let bb = if b.rank() > 2 {
        &b.shape[..b.rank() - 2]
    } else {
        &[][..]
    };
    let batch = broadcast(&[ab, bb]).unwrap_or_default();
    if ab.len().max(bb.len()) > 0 && broadcast(&[ab, bb]).is_none() {
        return Err(bad(format!(
            "MatMul `{}`: batch dims do not broadcast",
            n.name
        )));
    }
    let mut out = batch.clone();
    if a.rank() > 1 {
        out.push(m);
    }
    if b.rank() > 1 {
        out.push(nn);
    }
    Ok((out, [numel(&batch)?, m, nn, k]))
}

fn gemm_dims(n: &Node<'_>, a: &Val, b: &Val) -> Result<(u64, u64, u64), InputError> {
    if a.rank() != 2 || b.rank() != 2 {
        return Err(bad(format!("Gemm `{}`: operands must be matrices", n.name)));
    }
    let (m, k) = if attr_i(n, "transA", 0) != 0 {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let (k2, nn) = if attr_i(n, "transB", 0) != 0 {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if k != k2 {
        return Err(bad(format!("Gemm `{}`: inner dims differ", n.name)));
    }
    Ok((m, k, nn))
}

struct Einsum {
    out_shape: Vec<u64>,
    /// Product of every index size (the multiply-adds of a two-operand contraction).
    all: f64,
    mnk: [f64; 3],
}

fn einsum(n: &Node<'_>, ins: &[Option<&Val>]) -> Result<Einsum, InputError> {
    let eq: String = attr_s(n, "equation")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ins.len() || ins.iter().any(Option::is_none) {
        return Err(bad(format!(
            "Einsum `{}`: equation {eq:?} does not match its inputs",
            n.name
        )));
    }
    let mut sizes: HashMap<char, u64> = HashMap::new();
    let mut ell: Vec<u64> = Vec::new();
    let mut expand = |t: &str, v: &Val| -> Result<Vec<char>, InputError> {
        let letters: Vec<char> = t.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        let has_ell = t.contains("...");
        let ne = if has_ell {
            v.rank()
                .checked_sub(letters.len())
                .ok_or_else(|| bad("Einsum: rank too small"))?
        } else {
            0
        };
        if !has_ell && letters.len() != v.rank() {
            return Err(bad(format!(
                "Einsum `{}`: term {t:?} does not match rank {}",
                n.name,
                v.rank()
            )));
        }
        let mut out = Vec::new();
        let mut dim = 0;
        let mut it = t.chars().peekable();
        while let Some(c) = it.next() {
            if c == '.' {
                it.next();
                it.next();
                // ellipsis dims as pseudo-letters '0'..
                let base = ell.len().saturating_sub(ne);
                if ell.len() < ne {
                    ell.resize(ne, 1);
                }
                for j in 0..ne {
                    let d = *v
                        .shape
                        .get(dim)
                        .ok_or_else(|| bad("Einsum: bad ellipsis"))?;
                    let e = &mut ell[base + j];
                    *e = (*e).max(d);
                    out.push(char::from(b'0' + (base + j) as u8 % 10));
                    dim += 1;
                }
            } else {
                let d = *v
                    .shape
                    .get(dim)
                    .ok_or_else(|| bad("Einsum: term longer than its input's rank"))?;
                let e = sizes.entry(c).or_insert(d);
                if *e == 1 {
                    *e = d;
                }
                out.push(c);
                dim += 1;
            }
        }
        Ok(out)
    };
    let mut in_letters = Vec::new();
    for (t, v) in terms.iter().zip(ins) {
        in_letters.push(expand(t, v.ok_or_else(|| bad("Einsum input unknown"))?)?);
    }
    for (i, e) in ell.iter().enumerate() {
        sizes.insert(char::from(b'0' + i as u8 % 10), *e);
    }
    let out_letters: Vec<char> = match rhs {
        Some(r) => {
            let mut o = Vec::new();
            let mut it = r.chars();
            while let Some(c) = it.next() {
                if c == '.' {
                    it.next();
                    it.next();
                    o.extend((0..ell.len()).map(|i| char::from(b'0' + i as u8 % 10)));
                } else {
                    o.push(c);
                }
            }
            o
        }
        None => {
            let mut o: Vec<char> = (0..ell.len())
                .map(|i| char::from(b'0' + i as u8 % 10))
                .collect();
            let mut once: Vec<char> = sizes
                .keys()
                .filter(|c| {
                    c.is_ascii_alphabetic()
                        && in_letters.iter().flatten().filter(|x| x == c).count() == 1
                })
                .copied()
                .collect();
            once.sort_unstable();
            o.extend(once);
            o
        }
    };
    let out_shape = out_letters
        .iter()
        .map(|c| sizes.get(c).copied())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            bad(format!(
                "Einsum `{}`: output index not in the inputs",
                n.name
            ))
        })?;
    let all: f64 = sizes.values().map(|&d| d as f64).product();
    let mut mnk = [1.0f64; 3];
    if in_letters.len() == 2 {
        let (a, b) = (&in_letters[0], &in_letters[1]);
        let mut seen = BTreeSet::new();
        for c in a.iter().chain(b.iter()) {
            if !seen.insert(*c) {
                continue;
            }
            let d = sizes[c] as f64;
            let (ia, ib, io) = (a.contains(c), b.contains(c), out_letters.contains(c));
            match (ia, ib, io) {
                (true, false, true) => mnk[0] *= d,
                (false, true, true) => mnk[1] *= d,
                (true, true, false) => mnk[2] *= d,
                _ => {}
            }
        }
    }
    Ok(Einsum {
        out_shape,
        all,
        mnk,
    })
}

// ---------------------------------------------------------------------------
// Costs.

struct Cost {
    kind: OpKind,
    flops: f64,
    other: f64,
    elements: f64,
    mnk: Option<[f64; 3]>,
}

fn cost(n: &Node<'_>, ins: &[Option<&Val>], outs: &[Option<Val>]) -> Result<Cost, InputError> {
    let e = |v: Option<&Val>| v.map_or(Ok(0.0), |v| v.numel().map(|x| x as f64));
    let in_el: f64 = ins.iter().map(|v| e(*v)).sum::<Result<f64, _>>()?;
    let out_el: f64 = outs.iter().map(|v| e(v.as_ref())).sum::<Result<f64, _>>()?;
    let out0 = e(outs.first().and_then(Option::as_ref))?;
    let in0 = e(ins.first().copied().flatten())?;
    let mut c = Cost {
        kind: OpKind::Elementwise,
        flops: 0.0,
        other: 0.0,
        elements: in_el + out_el,
        mnk: None,
    };
    let shape_only = Cost {
        kind: OpKind::Shape,
        flops: 0.0,
        other: 0.0,
        elements: 0.0,
        mnk: None,
    };
    // Values computed from shapes alone (constant-folded shape arithmetic) cost nothing.
    if !outs.is_empty()
        && outs
            .iter()
            .all(|o| o.as_ref().is_some_and(|o| o.ints.is_some()))
    {
        return Ok(shape_only);
    }
    let per_out = |k: f64| k * out0;
    match n.op {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Shape" | "Size" | "Constant"
        | "Identity" | "Dropout" => return Ok(shape_only),
        "MatMul" => {
            let (a, b) = (
                ins[0].ok_or_else(|| bad("MatMul"))?,
                ins[1].ok_or_else(|| bad("MatMul"))?,
            );
            let (_, [batch, m, nn, k]) = matmul_shape(n, a, b)?;
            c.kind = OpKind::Matmul;
            c.flops = 2.0 * batch as f64 * m as f64 * nn as f64 * k as f64;
            // A weight (2-D right operand) folds the left operand's batch into m.
            c.mnk = Some(if b.rank() <= 2 {
                [batch as f64 * m as f64, nn as f64, k as f64]
            } else {
                [m as f64, nn as f64, k as f64]
            });
        }
        "Gemm" => {
            let (a, b) = (
                ins[0].ok_or_else(|| bad("Gemm"))?,
                ins[1].ok_or_else(|| bad("Gemm"))?,
            );
            let (m, k, nn) = gemm_dims(n, a, b)?;
            c.kind = OpKind::Matmul;
            c.flops = 2.0 * m as f64 * nn as f64 * k as f64;
            c.mnk = Some([m as f64, nn as f64, k as f64]);
        }
        "Einsum" => {
            let es = einsum(n, ins)?;
            if ins.len() == 2 {
                c.kind = OpKind::Matmul;
                c.flops = 2.0 * es.all;
                c.mnk = Some(es.mnk);
            } else {
                c.other = in_el;
            }
        }
        "Conv" | "ConvTranspose" => {
            let (x, w) = (
                ins[0].ok_or_else(|| bad("Conv"))?,
                ins[1].ok_or_else(|| bad("Conv"))?,
            );
            let out = outs[0].as_ref().ok_or_else(|| bad("Conv"))?;
            let wn = w.numel()? as f64;
            c.kind = OpKind::Conv;
            let group = attr_i(n, "group", 1).max(1) as f64;
            let kk: f64 = w.shape[2..].iter().map(|&d| d as f64).product();
            if n.op == "Conv" {
                // N * prod(out spatial) * weight elements (Cout * Cin/g * k) multiply-adds.
                let sp: f64 = out.shape[2..].iter().map(|&d| d as f64).product();
                c.flops = 2.0 * x.shape[0] as f64 * sp * wn;
                c.mnk = Some([
                    x.shape[0] as f64 * sp,
                    w.shape[0] as f64 / group,
                    w.shape[1] as f64 * kk,
                ]);
            } else {
                // FlopCounterMode's transposed convolution: over the input's spatial size.
                let sp: f64 = x.shape[2..].iter().map(|&d| d as f64).product();
                c.flops = 2.0 * x.shape[0] as f64 * sp * wn;
                c.mnk = Some([
                    x.shape[0] as f64 * sp,
                    w.shape[1] as f64,
                    w.shape[0] as f64 / group * kk,
                ]);
            }
            c.other = if ins.len() > 2 { out0 } else { 0.0 };
        }
        "Attention" if n.domain == "com.microsoft" => {
            let (x, w) = (
                ins[0].ok_or_else(|| bad("Attention"))?,
                ins[1].ok_or_else(|| bad("Attention"))?,
            );
            let (b, s, h) = (x.shape[0] as f64, x.shape[1] as f64, x.shape[2] as f64);
            let qkv = w.shape[1] as f64;
            let sizes = attr_ints(n, "qkv_hidden_sizes").filter(|s| s.len() == 3);
            let (qh, vh) = sizes.map_or((qkv / 3.0, qkv / 3.0), |s| (s[0] as f64, s[2] as f64));
            let heads = attr_i(n, "num_heads", 1).max(1) as f64;
            let past = ins
                .get(4)
                .copied()
                .flatten()
                .map_or(0.0, |p| p.shape.get(3).copied().unwrap_or(0) as f64);
            let l = s + past;
            c.kind = OpKind::Attention;
            c.flops = 2.0 * b * s * h * qkv + 2.0 * b * s * l * qh + 2.0 * b * s * l * vh;
            c.mnk = Some([b * s, qkv, h]);
            c.other = 5.0 * b * heads * s * l;
        }
        "MultiHeadAttention" | "Attention" => {
            let (q, k, v) = (
                ins[0].ok_or_else(|| bad("Attention"))?,
                ins.get(1)
                    .copied()
                    .flatten()
                    .ok_or_else(|| bad("Attention: key unknown"))?,
                ins.get(2)
                    .copied()
                    .flatten()
                    .ok_or_else(|| bad("Attention: value unknown"))?,
            );
            let (b, s) = (
                q.shape[0] as f64,
                if q.rank() == 4 {
                    q.shape[2]
                } else {
                    q.shape[1]
                } as f64,
            );
            let l = if k.rank() == 4 {
                k.shape[2]
            } else {
                k.shape[1]
            } as f64;
            // Total query width (heads x head size) and value width.
            let heads = attr_i(
                n,
                if n.op == "Attention" {
                    "q_num_heads"
                } else {
                    "num_heads"
                },
                1,
            )
            .max(1) as f64;
            let (qw, hq) = if q.rank() == 4 {
                (q.shape[1] as f64 * q.shape[3] as f64, q.shape[1] as f64)
            } else {
                (q.shape[2] as f64, heads)
            };
            let vw = if v.rank() == 4 {
                hq * v.shape[3] as f64
            } else {
                let kvh = attr_i(n, "kv_num_heads", 0);
                if n.op == "Attention" && kvh > 0 {
                    v.shape[2] as f64 / kvh as f64 * hq
                } else {
                    v.shape[2] as f64
                }
            };
            c.kind = OpKind::Attention;
            c.flops = 2.0 * b * s * l * qw + 2.0 * b * s * l * vw;
            c.mnk = Some([s, l, qw / hq]);
            c.other = 5.0 * b * hq * s * l;
        }
        "Relu" | "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Sqrt" | "Where" | "Neg" | "Abs"
        | "Reciprocal" | "Max" | "Min" | "Clip" | "LeakyRelu" | "PRelu" | "Equal" | "Less"
        | "Greater" | "Not" | "And" | "Or" | "Mod" | "Floor" | "Ceil" | "Round" => {
            c.other = per_out(1.0)
        }
        "Sigmoid" | "Tanh" | "Erf" | "Exp" | "Log" | "Sin" | "Cos" | "Softplus" | "Elu"
        | "Selu" | "HardSigmoid" | "HardSwish" | "Silu" | "Swish" => c.other = per_out(4.0),
        "Gelu" | "FastGelu" | "BiasGelu" | "QuickGelu" | "Mish" => c.other = per_out(8.0),
        "Softmax" | "LogSoftmax" => c.other = per_out(5.0),
        "BatchNormalization" => c.other = per_out(2.0),
        "LayerNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "SimplifiedLayerNormalization"
        | "SkipLayerNormalization"
        | "RMSNormalization"
        | "SkipSimplifiedLayerNormalization"
        | "LpNormalization" => c.other = per_out(8.0),
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceSumSquare" | "ReduceLogSumExp" | "ArgMax" | "ArgMin"
        | "GlobalAveragePool" | "GlobalMaxPool" | "CumSum" => c.other = in0,
        "MaxPool" | "AveragePool" | "LpPool" => {
            let k: f64 = attr_ints(n, "kernel_shape")
                .unwrap_or_default()
                .iter()
                .map(|&d| d as f64)
                .product();
            c.other = per_out(k);
            c.elements = in0 + out0;
        }
        "Gather" | "GatherElements" | "GatherND" => {
            // Reads the gathered rows and the indices, writes the output.
            c.elements = 2.0 * out0 + e(ins.get(1).copied().flatten())?;
        }
        "RotaryEmbedding" => c.other = per_out(3.0),
        _ => {}
    }
    Ok(c)
}

// ---------------------------------------------------------------------------
// The import.

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
    let model = parse_model(bytes)?;
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
    let _ = model.producer;
    let mut vals: HashMap<&str, Val> = HashMap::new();
    let mut float_inits: HashSet<&str> = HashSet::new();
    for t in &g.inits {
        let shape = t
            .dims
            .iter()
            .map(|&d| to_dim(d))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(format!("initializer `{}` has a negative dim", t.name)))?;
        numel(&shape)?;
        if is_float(t.dtype) {
            float_inits.insert(t.name);
        }
        vals.insert(
            t.name,
            Val {
                dtype: t.dtype,
                shape,
                ints: t.ints.clone(),
            },
        );
    }
    // Graph inputs, with symbolic dims bound.
    let mut bound: HashMap<String, u64> = HashMap::new();
    let mut batch = None;
    for vi in &g.inputs {
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
                DimP::Param(p) => bind_dim(p, axis, vi.dtype, opts, &mut warnings, &mut bound),
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
    // value_info: a fallback for outputs this importer cannot infer.
    let mut hints: HashMap<&str, &ValueInfo<'_>> = HashMap::new();
    for vi in &g.value_info {
        hints.insert(vi.name, vi);
    }

    let order = topo_order(&g.nodes, &vals)?;

    let mut nodes = Vec::with_capacity(order.len());
    let mut unsupported: Vec<String> = Vec::new();
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
        let label = if n.name.is_empty() {
            format!("{}_{i}", n.op)
        } else {
            n.name.to_string()
        };
        let foreign = !n.domain.is_empty() && !matches!(n.domain, "ai.onnx" | "com.microsoft");
        let (outs, inferred) = if foreign {
            (None, false)
        } else {
            match infer(n, &ins) {
                Ok(o) => {
                    let ok = o
                        .as_ref()
                        .is_some_and(|o| o.first().is_some_and(Option::is_some));
                    (o, ok)
                }
                Err(e) => {
                    warnings.push(format!("{label}: {}", e.message));
                    (Some(vec![None; n.outputs.len()]), false)
                }
            }
        };
        let mut outs = outs.unwrap_or_else(|| {
            let op = if n.domain.is_empty() {
                n.op.to_string()
            } else {
                format!("{}:{}", n.domain, n.op)
            };
            if !unsupported.contains(&op) {
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
        // Parameters: float initializers, counted at their first use. BatchNorm's
        // running statistics are buffers, not parameters.
        let mut p = 0.0;
        for (j, name) in n.inputs.iter().enumerate() {
            if n.op == "BatchNormalization" && j >= 3 {
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
        let c = if !inferred {
            None
        } else {
            match cost(n, &ins, &outs) {
                Ok(c) => Some(c),
                Err(e) => {
                    warnings.push(format!("{label}: {}", e.message));
                    None
                }
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
        let c = c.unwrap_or(Cost {
            kind: OpKind::Elementwise,
            flops: 0.0,
            other: 0.0,
            elements: 0.0,
            mnk: None,
        });
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
            .map_or("?", |i| nodes[i].name);
        return Err(bad(format!(
            "the graph has a cycle (through node `{stuck}`)"
        )));
    }
    Ok(order)
}
