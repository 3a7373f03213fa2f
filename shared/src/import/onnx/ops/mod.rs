//! The op table: one entry per op (or group of ops that behave alike) holding
//! its shape inference and its cost together, one file per op family.
//!
//! To support a new op, add one [`OpDef`] to the family's `OPS`: `infer` gives
//! the output values from the inputs, `cost` how its FLOPs and traffic are
//! counted. Names are looked up once per node ([`Table::get`]); a name in no
//! entry is reported as unsupported.

mod attention;
mod conv;
mod elementwise;
mod matmul;
mod misc;
mod movement;
mod norm;
mod reduce;
mod shape;

use super::bad;
use super::decode::{Node, MAX_INTS};
use crate::model::graph::OpKind;
use crate::InputError;
use std::collections::HashMap;
use std::fmt::Display;
use std::rc::Rc;

/// A small integer tensor's values, shared: views (Identity, Reshape...) pass
/// them on without a copy, so a long chain of them costs no memory per node.
pub(super) type Ints = Rc<[i64]>;

/// What is known about one value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Val {
    pub dtype: i32,
    pub shape: Vec<u64>,
    /// The values of a small integer tensor (shape computations), at most `MAX_INTS`.
    pub ints: Option<Ints>,
}

impl Val {
    pub fn new(dtype: i32, shape: Vec<u64>) -> Self {
        Val {
            dtype,
            shape,
            ints: None,
        }
    }
    /// With values, kept only when few (`MAX_INTS`): a value is never bigger than that.
    pub fn of(dtype: i32, shape: Vec<u64>, ints: Option<Vec<i64>>) -> Self {
        let ints = ints.filter(|i| i.len() <= MAX_INTS).map(Ints::from);
        Val { dtype, shape, ints }
    }
    /// With values, kept only when few (`MAX_INTS`).
    pub fn ints(dtype: i32, shape: Vec<u64>, ints: Vec<i64>) -> Self {
        Val::of(dtype, shape, Some(ints))
    }
    /// With another value's values (a view), shared.
    pub fn with(dtype: i32, shape: Vec<u64>, ints: Option<Ints>) -> Self {
        Val { dtype, shape, ints }
    }
    pub fn numel(&self) -> Result<u64, InputError> {
        numel(&self.shape)
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

pub(super) fn numel(s: &[u64]) -> Result<u64, InputError> {
    s.iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("a shape {s:?} has more than 2^64 elements")))
}

pub(super) fn is_float(dtype: i32) -> bool {
    matches!(dtype, 1 | 10 | 11 | 16 | 17 | 18 | 19 | 20 | 23)
}

pub(super) fn is_int(dtype: i32) -> bool {
    matches!(dtype, 2..=7 | 12 | 13)
}

pub(super) fn to_dim(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

/// `v` as dims, `None` if one is negative.
pub(super) fn to_dims(v: &[i64]) -> Option<Vec<u64>> {
    v.iter().map(|&d| to_dim(d)).collect()
}

fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

/// Numpy broadcasting of `shapes`, `None` if they do not broadcast (or there are none).
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

// ---------------------------------------------------------------------------
// Shape inference.

/// Why a node's outputs were not inferred.
#[derive(Debug)]
pub(super) enum Fail {
    /// The importer cannot follow the node (an input of unknown shape, a form it
    /// does not handle): a warning, and the node counts as zero.
    Skip(InputError),
    /// The node contradicts the ONNX spec (a bad attribute, operands that do
    /// not fit): the import stops, since any count would be made up.
    Invalid(InputError),
}

impl Fail {
    pub fn into_error(self) -> InputError {
        match self {
            Fail::Skip(e) | Fail::Invalid(e) => e,
        }
    }
}

impl From<InputError> for Fail {
    fn from(e: InputError) -> Self {
        Fail::Skip(e)
    }
}

/// A node whose attribute or input `what` breaks the spec (`why`, then the fix).
/// The importer prefixes the node's label.
pub(super) fn invalid(what: &str, why: impl Display) -> Fail {
    Fail::Invalid(bad(format!("{what} {why}")))
}

/// A node's outputs (`None` where unknown); `Ok(None)`: the op cannot be inferred.
pub(super) type Inferred = Result<Option<Vec<Option<Val>>>, Fail>;

/// One node and what is known of its inputs (`None`: absent or unknown).
pub(super) struct Cx<'c> {
    pub n: &'c Node<'c>,
    pub ins: &'c [Option<&'c Val>],
}

impl<'c> Cx<'c> {
    fn inp(&self, i: usize) -> Option<&'c Val> {
        self.ins.get(i).copied().flatten()
    }
    /// Input `i`, which the op cannot do without.
    fn need(&self, i: usize) -> Result<&'c Val, InputError> {
        self.inp(i).ok_or_else(|| {
            bad(format!(
                "{} `{}`: the shape of input {} is unknown",
                self.n.op,
                self.n.name,
                self.n.inputs.get(i).copied().unwrap_or("?")
            ))
        })
    }
    /// The values of input `i`, which the op cannot do without.
    fn need_ints(
        &self,
        i: usize,
        unknown: impl FnOnce() -> InputError,
    ) -> Result<Vec<i64>, InputError> {
        self.need(i)?
            .ints
            .as_deref()
            .map(<[i64]>::to_vec)
            .ok_or_else(unknown)
    }
    /// Every input (variadic ops).
    fn need_all(&self) -> Result<Vec<&'c Val>, InputError> {
        (0..self.n.inputs.len()).map(|i| self.need(i)).collect()
    }
    /// The ints of an optional input, or of the attribute older opsets used instead.
    fn ints_of(&self, i: usize, name: &str) -> Option<Vec<i64>> {
        match self.inp(i) {
            Some(v) if self.n.inputs.get(i).is_some_and(|s| !s.is_empty()) => {
                v.ints.as_deref().map(<[i64]>::to_vec)
            }
            _ => self.n.attr_ints(name),
        }
    }
}

fn one(v: Val) -> Inferred {
    Ok(Some(vec![Some(v)]))
}

/// One output of the first input's dtype and shape.
fn same_shape(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    one(Val::new(v.dtype, v.shape.clone()))
}

// ---------------------------------------------------------------------------
// Costs.

/// One node's cost, in FlopCounterMode's convention (see `docs/import.md`).
pub(super) struct Cost {
    pub kind: OpKind,
    pub flops: f64,
    pub other: f64,
    pub elements: f64,
    pub mnk: Option<[f64; 3]>,
}

impl Cost {
    /// Nothing counted: shape-only ops, and nodes that could not be costed.
    pub fn zero(kind: OpKind) -> Self {
        Cost {
            kind,
            flops: 0.0,
            other: 0.0,
            elements: 0.0,
            mnk: None,
        }
    }
}

/// A node with its inferred outputs, for costing.
pub(super) struct CostCx<'c> {
    n: &'c Node<'c>,
    ins: &'c [Option<&'c Val>],
    outs: &'c [Option<Val>],
    /// Elements of the first input and of the first output.
    in0: f64,
    out0: f64,
    /// Elements of every input, of every output.
    in_el: f64,
    out_el: f64,
}

impl CostCx<'_> {
    /// Element-wise: reads the inputs, writes the outputs, no counted arithmetic.
    fn moved(&self) -> Cost {
        Cost {
            elements: self.in_el + self.out_el,
            ..Cost::zero(OpKind::Elementwise)
        }
    }
    /// Input `i`, or an error saying `missing`.
    fn operand(&self, i: usize, missing: &str) -> Result<&Val, InputError> {
        self.ins
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| bad(missing))
    }
}

fn elements(v: Option<&Val>) -> Result<f64, InputError> {
    v.map_or(Ok(0.0), |v| v.numel().map(|x| x as f64))
}

/// How an op is costed.
pub(super) enum CostRule {
    /// Shape-only (views, constants): nothing.
    Free,
    /// Reads and writes its inputs and outputs; arithmetic not counted.
    Moved,
    /// As `Moved`, plus this many other FLOPs per element of the first output.
    PerOut(f64),
    /// As `Moved`, plus one other FLOP per element of the first input (reductions).
    PerIn,
    /// The op's own formula.
    Custom(fn(&CostCx<'_>) -> Result<Cost, InputError>),
}

/// One table entry: the ops it serves, their shape inference and their cost.
pub(super) struct OpDef {
    pub names: &'static [&'static str],
    /// Only in this domain; `None`: the default domain and `com.microsoft`.
    pub domain: Option<&'static str>,
    pub infer: fn(&Cx<'_>) -> Inferred,
    pub cost: CostRule,
}

const fn op(
    names: &'static [&'static str],
    infer: fn(&Cx<'_>) -> Inferred,
    cost: CostRule,
) -> OpDef {
    OpDef {
        names,
        domain: None,
        infer,
        cost,
    }
}

impl OpDef {
    /// Costs a node this entry inferred.
    pub fn cost(
        &self,
        n: &Node<'_>,
        ins: &[Option<&Val>],
        outs: &[Option<Val>],
    ) -> Result<Cost, InputError> {
        let in_el: f64 = ins.iter().map(|v| elements(*v)).sum::<Result<f64, _>>()?;
        let out_el: f64 = outs
            .iter()
            .map(|v| elements(v.as_ref()))
            .sum::<Result<f64, _>>()?;
        let cx = CostCx {
            n,
            ins,
            outs,
            in0: elements(ins.first().copied().flatten())?,
            out0: elements(outs.first().and_then(Option::as_ref))?,
            in_el,
            out_el,
        };
        // Values computed from shapes alone (constant-folded shape arithmetic) cost nothing.
        if !outs.is_empty()
            && outs
                .iter()
                .all(|o| o.as_ref().is_some_and(|o| o.ints.is_some()))
        {
            return Ok(Cost::zero(OpKind::Shape));
        }
        match self.cost {
            CostRule::Free => Ok(Cost::zero(OpKind::Shape)),
            CostRule::Moved => Ok(cx.moved()),
            CostRule::PerOut(k) => Ok(Cost {
                other: k * cx.out0,
                ..cx.moved()
            }),
            CostRule::PerIn => Ok(Cost {
                other: cx.in0,
                ..cx.moved()
            }),
            CostRule::Custom(f) => f(&cx),
        }
    }
}

const FAMILIES: [&[OpDef]; 9] = [
    elementwise::OPS,
    norm::OPS,
    reduce::OPS,
    matmul::OPS,
    conv::OPS,
    attention::OPS,
    shape::OPS,
    movement::OPS,
    misc::OPS,
];

/// The op table, indexed by name.
pub(super) struct Table {
    any_domain: HashMap<&'static str, &'static OpDef>,
    in_domain: Vec<&'static OpDef>,
}

impl Table {
    pub fn new() -> Self {
        let mut t = Table {
            any_domain: HashMap::new(),
            in_domain: Vec::new(),
        };
        for def in FAMILIES.iter().flat_map(|f| f.iter()) {
            if def.domain.is_some() {
                t.in_domain.push(def);
            } else {
                t.any_domain
                    .extend(def.names.iter().map(|&name| (name, def)));
            }
        }
        t
    }

    /// The entry for a node's op: one for its own domain first, else the common one.
    pub fn get(&self, n: &Node<'_>) -> Option<&'static OpDef> {
        self.in_domain
            .iter()
            .find(|d| d.domain == Some(n.domain) && d.names.contains(&n.op))
            .copied()
            .or_else(|| self.any_domain.get(n.op).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name in two entries would silently shadow one of them.
    #[test]
    fn each_op_has_one_entry() {
        let mut seen = std::collections::HashSet::new();
        for def in FAMILIES.iter().flat_map(|f| f.iter()) {
            for name in def.names {
                assert!(
                    seen.insert((def.domain, *name)),
                    "{name} ({:?}) has two entries",
                    def.domain
                );
            }
        }
        // 118 op types, Attention twice (com.microsoft and the opset-23 op).
        assert_eq!(seen.len(), 119);
    }

    #[test]
    fn domain_entries_come_first() {
        let t = Table::new();
        let node = |domain| Node {
            op: "Attention",
            domain,
            ..Node::default()
        };
        let ms = t.get(&node("com.microsoft")).map(|d| d.domain);
        assert_eq!(ms, Some(Some("com.microsoft")));
        assert_eq!(t.get(&node("")).map(|d| d.domain), Some(None));
        assert!(t
            .get(&Node {
                op: "Resize",
                ..Node::default()
            })
            .is_none());
    }
}
