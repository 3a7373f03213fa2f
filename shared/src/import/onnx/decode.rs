//! The few ONNX message types the importer needs, read from the wire in place
//! (see [`super::super::proto`]): names, dtypes and dims, plus the values of small
//! integer tensors (shapes, axes) and of small integral float constants.

use super::super::proto::{self, Value, WireError};
use super::bad;
use crate::InputError;

/// Highest tensor rank accepted.
const MAX_RANK: usize = 64;
/// Integer tensors up to this many elements have their values tracked.
pub(super) const MAX_INTS: usize = 4096;
/// Float constants up to this many elements are tracked when their values are integral.
const MAX_FLOAT_CONSTS: usize = 64;

fn werr(e: WireError) -> InputError {
    bad(format!("not a valid ONNX file: {}", e.0))
}

/// `TensorProto`: an initializer or a constant attribute.
#[derive(Debug, Clone, Default)]
pub(super) struct Tensor<'a> {
    pub name: &'a str,
    pub dtype: i32,
    pub dims: Vec<i64>,
    pub ints: Option<Vec<i64>>,
}

/// `AttributeProto`.
#[derive(Debug, Clone, Default)]
pub(super) struct Attr<'a> {
    pub name: &'a str,
    pub f: Option<f32>,
    pub i: Option<i64>,
    pub s: Option<&'a [u8]>,
    pub t: Option<Tensor<'a>>,
    pub ints: Vec<i64>,
    pub floats: usize,
    pub graph: bool,
}

/// `NodeProto`.
#[derive(Debug, Clone, Default)]
pub(super) struct Node<'a> {
    pub name: &'a str,
    pub op: &'a str,
    pub domain: &'a str,
    pub inputs: Vec<&'a str>,
    pub outputs: Vec<&'a str>,
    pub attrs: Vec<Attr<'a>>,
}

impl<'a> Node<'a> {
    pub fn attr(&self, name: &str) -> Option<&Attr<'a>> {
        self.attrs.iter().find(|a| a.name == name)
    }
    pub fn attr_i(&self, name: &str, default: i64) -> i64 {
        self.attr(name).and_then(|a| a.i).unwrap_or(default)
    }
    pub fn attr_ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }
    pub fn attr_s(&self, name: &str) -> Option<&'a str> {
        self.attr(name)
            .and_then(|a| a.s)
            .and_then(|s| std::str::from_utf8(s).ok())
    }
}

/// One dimension of a `ValueInfoProto` shape (an unnamed symbol when neither is set).
#[derive(Debug, Clone)]
pub(super) enum DimP<'a> {
    Value(i64),
    Param(&'a str),
}

impl Default for DimP<'_> {
    fn default() -> Self {
        DimP::Param("")
    }
}

/// `ValueInfoProto` (a graph input or a `value_info` hint).
#[derive(Debug, Clone, Default)]
pub(super) struct ValueInfo<'a> {
    pub name: &'a str,
    pub dtype: i32,
    pub shape: Option<Vec<DimP<'a>>>,
}

/// `GraphProto`.
#[derive(Debug, Default)]
pub(super) struct Graph<'a> {
    pub name: &'a str,
    pub nodes: Vec<Node<'a>>,
    pub inits: Vec<Tensor<'a>>,
    pub inputs: Vec<ValueInfo<'a>>,
    pub value_info: Vec<ValueInfo<'a>>,
    pub sparse_inits: usize,
}

/// `ModelProto`.
pub(super) struct Model<'a> {
    pub graph: Graph<'a>,
    pub opset: Option<i64>,
}

/// Little-endian values of `w` bytes each (4 or 8), read by `four` or `eight`.
fn le_values<'b, T>(
    b: &'b [u8],
    w: usize,
    four: impl Fn([u8; 4]) -> T + 'b,
    eight: impl Fn([u8; 8]) -> T + 'b,
) -> impl Iterator<Item = T> + 'b {
    b.chunks_exact(w).map(move |c| {
        if w == 4 {
            four(c.try_into().unwrap_or([0; 4]))
        } else {
            eight(c.try_into().unwrap_or([0; 8]))
        }
    })
}

fn f32_le(c: [u8; 4]) -> f64 {
    f64::from(f32::from_le_bytes(c))
}

fn i32_le(c: [u8; 4]) -> i64 {
    i64::from(i32::from_le_bytes(c))
}

/// The element count of `dims` when it is at most `limit`.
fn small_count(dims: &[i64], limit: usize) -> Option<usize> {
    let n = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?));
    n.filter(|&n| n as usize <= limit).map(|n| n as usize)
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
                // float_data (4) packs f32s, double_data (10) f64s.
                Value::Bytes(b) => floats.extend(
                    le_values(b, if f == 4 { 4 } else { 8 }, f32_le, f64::from_le_bytes)
                        .take(MAX_FLOAT_CONSTS + 1),
                ),
                Value::Fixed32(x) => floats.push(f64::from(f32::from_bits(x))),
                Value::Fixed64(x) => floats.push(f64::from_bits(x)),
                Value::Varint(_) => {}
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
        if let Some(n) = small_count(&t.dims, MAX_FLOAT_CONSTS) {
            let w = if t.dtype == 1 { 4 } else { 8 };
            if let Some(raw) = raw.filter(|r| r.len() == n * w) {
                floats = le_values(raw, w, f32_le, f64::from_le_bytes).collect();
            }
            if floats.len() == n && floats.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15) {
                t.ints = Some(floats.iter().map(|&x| x as i64).collect());
            }
        }
    }
    if matches!(t.dtype, 6 | 7) && !too_many {
        if let Some(n) = small_count(&t.dims, MAX_INTS) {
            if let Some(raw) = raw {
                let w = if t.dtype == 7 { 8 } else { 4 };
                if raw.len() == n * w {
                    t.ints = Some(le_values(raw, w, i32_le, i64::from_le_bytes).collect());
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

/// Reads one message into `T::default()`, `field` storing each field it knows.
fn message<'a, T: Default>(
    buf: &'a [u8],
    mut field: impl FnMut(&mut T, u32, Value<'a>) -> Result<(), WireError>,
) -> Result<T, WireError> {
    let mut t = T::default();
    proto::for_each(buf, |f, v| field(&mut t, f, v))?;
    Ok(t)
}

fn parse_attr(buf: &[u8]) -> Result<Attr<'_>, WireError> {
    message(buf, |a: &mut Attr<'_>, f, v| {
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
    })
}

fn parse_node(buf: &[u8]) -> Result<Node<'_>, WireError> {
    message(buf, |n: &mut Node<'_>, f, v| {
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
    })
}

/// `TensorShapeProto.Dimension`.
fn parse_dim(buf: &[u8]) -> Result<DimP<'_>, WireError> {
    message(buf, |d: &mut DimP<'_>, f, v| {
        match f {
            1 => *d = DimP::Value(v.as_i64()?),
            2 => *d = DimP::Param(v.as_str()?),
            _ => {}
        }
        Ok(())
    })
}

/// `TypeProto.Tensor`: element type and shape.
fn parse_tensor_type<'a>(buf: &'a [u8], vi: &mut ValueInfo<'a>) -> Result<(), WireError> {
    proto::for_each(buf, |f, v| {
        match f {
            1 => vi.dtype = v.as_i64()? as i32,
            2 => {
                let mut dims = Vec::new();
                proto::for_each(v.as_bytes()?, |f, v| {
                    if f == 1 {
                        if dims.len() >= MAX_RANK {
                            return Err(WireError("rank above 64".into()));
                        }
                        dims.push(parse_dim(v.as_bytes()?)?);
                    }
                    Ok(())
                })?;
                vi.shape = Some(dims);
            }
            _ => {}
        }
        Ok(())
    })
}

fn parse_value_info(buf: &[u8]) -> Result<ValueInfo<'_>, WireError> {
    message(buf, |vi: &mut ValueInfo<'_>, f, v| {
        match f {
            1 => vi.name = v.as_str()?,
            2 => proto::for_each(v.as_bytes()?, |f, v| {
                if f == 1 {
                    parse_tensor_type(v.as_bytes()?, vi)?;
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })
}

fn parse_graph(buf: &[u8]) -> Result<Graph<'_>, WireError> {
    message(buf, |g: &mut Graph<'_>, f, v| {
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
    })
}

/// Reads a `ModelProto`: its graph and the default domain's opset.
pub(super) fn parse_model(buf: &[u8]) -> Result<Model<'_>, InputError> {
    let mut graph = None;
    let mut opset = None;
    let mut ir = None;
    proto::for_each(buf, |f, v| {
        match f {
            1 => ir = Some(v.as_i64()?),
            // producer_name: unused, but a malformed one is a malformed file.
            2 => {
                v.as_str()?;
            }
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
    Ok(Model { graph, opset })
}
