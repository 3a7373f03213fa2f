//! Matrix products: MatMul, Gemm, Einsum. 2 FLOPs per multiply-add.

use super::{
    bad, broadcast, numel, one, op, Cost, CostCx, CostRule::*, Cx, Inferred, Node, OpDef, Val,
};
use crate::model::graph::OpKind;
use crate::InputError;
use std::collections::{BTreeSet, HashMap};

pub(super) const OPS: &[OpDef] = &[
    op(&["MatMul"], matmul, Custom(matmul_cost)),
    op(&["Gemm"], gemm, Custom(gemm_cost)),
    op(&["Einsum"], einsum, Custom(einsum_cost)),
];

/// A counted matrix product of `flops`, `mnk` the shape of one product.
fn product(cx: &CostCx<'_>, flops: f64, mnk: [f64; 3]) -> Cost {
    Cost {
        kind: OpKind::Matmul,
        flops,
        mnk: Some(mnk),
        ..cx.moved()
    }
}

fn matmul(cx: &Cx<'_>) -> Inferred {
    let (a, b) = (cx.need(0)?, cx.need(1)?);
    one(Val::new(a.dtype, matmul_shape(cx.n, a, b)?.0))
}

fn matmul_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let (a, b) = (cx.operand(0, "MatMul")?, cx.operand(1, "MatMul")?);
    let (_, [batch, m, nn, k]) = matmul_shape(cx.n, a, b)?;
    let (batch, m, nn, k) = (batch as f64, m as f64, nn as f64, k as f64);
    // A weight (2-D right operand) folds the left operand's batch into m.
    let mnk = if b.rank() <= 2 {
        [batch * m, nn, k]
    } else {
        [m, nn, k]
    };
    Ok(product(cx, 2.0 * batch * m * nn * k, mnk))
}

/// MatMul's output shape and `[batch, m, n, k]`.
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
    let batch_dims = |v: &Val| {
        if v.rank() > 2 {
            v.shape[..v.rank() - 2].to_vec()
        } else {
            Vec::new()
        }
    };
    let (ab, bb) = (batch_dims(a), batch_dims(b));
    let batch = broadcast(&[&ab, &bb]).unwrap_or_default();
    if ab.len().max(bb.len()) > 0 && broadcast(&[&ab, &bb]).is_none() {
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

fn gemm(cx: &Cx<'_>) -> Inferred {
    let (a, b) = (cx.need(0)?, cx.need(1)?);
    let (m, _, nn) = gemm_dims(cx.n, a, b)?;
    one(Val::new(a.dtype, vec![m, nn]))
}

/// Bias not counted.
fn gemm_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let (a, b) = (cx.operand(0, "Gemm")?, cx.operand(1, "Gemm")?);
    let (m, k, nn) = gemm_dims(cx.n, a, b)?;
    let (m, nn, k) = (m as f64, nn as f64, k as f64);
    Ok(product(cx, 2.0 * m * nn * k, [m, nn, k]))
}

/// Gemm's `(m, k, n)` after transA/transB.
fn gemm_dims(n: &Node<'_>, a: &Val, b: &Val) -> Result<(u64, u64, u64), InputError> {
    if a.rank() != 2 || b.rank() != 2 {
        return Err(bad(format!("Gemm `{}`: operands must be matrices", n.name)));
    }
    let (m, k) = if n.attr_i("transA", 0) != 0 {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let (k2, nn) = if n.attr_i("transB", 0) != 0 {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if k != k2 {
        return Err(bad(format!("Gemm `{}`: inner dims differ", n.name)));
    }
    Ok((m, k, nn))
}

fn einsum(cx: &Cx<'_>) -> Inferred {
    let e = einsum_dims(cx.n, cx.ins)?;
    one(Val::new(cx.need(0)?.dtype, e.out_shape))
}

/// Two operands: a contraction over every index; one operand: element-wise.
fn einsum_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let es = einsum_dims(cx.n, cx.ins)?;
    if cx.ins.len() == 2 {
        Ok(product(cx, 2.0 * es.all, es.mnk))
    } else {
        Ok(Cost {
            other: cx.in_el,
            ..cx.moved()
        })
    }
}
struct Einsum {
    out_shape: Vec<u64>,
    /// Product of every index size (the multiply-adds of a two-operand contraction).
    all: f64,
    mnk: [f64; 3],
}

fn einsum_dims(n: &Node<'_>, ins: &[Option<&Val>]) -> Result<Einsum, InputError> {
    let eq: String = n
        .attr_s("equation")
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
