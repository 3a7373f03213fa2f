//! `jouleprint inspect FILE`: what the importer makes of an ONNX file, a Hugging
//! Face `config.json` or a `*.safetensors` header (docs/import.md).

use anyhow::{anyhow, bail, Context};
use clap::Args;
use shared::import::onnx::import_onnx;
use shared::import::safetensors::{self, SafetensorsSummary};
use shared::import::{sniff, FileKind, ImportOptions};
use shared::model::graph::{ForwardGraph, OpKind};
use shared::model::{hf, Architecture};
use shared::plan;
use shared::scenario::{Phase, SoftwareClass, Workload};
use shared::units::Precision;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// An ONNX model, a Hugging Face config.json, or a .safetensors file (only its header is read).
    pub file: PathBuf,
    /// Batch bound to the graph's symbolic batch dimension (default 1).
    #[arg(long)]
    pub batch: Option<u64>,
    /// Sequence length bound to a symbolic sequence dimension (default 128).
    #[arg(long)]
    pub seq: Option<u64>,
    /// Any other symbolic dimension, by its name in the file.
    #[arg(long = "dim", value_name = "NAME=VALUE", value_parser = parse_dim)]
    pub dims: Vec<(String, u64)>,
    /// With a config.json: safetensors files (shards) whose headers to cross-check the parameter count against.
    #[arg(long = "safetensors", value_name = "FILE")]
    pub safetensors: Vec<PathBuf>,
    /// Print every node, not only those that compute or move data.
    #[arg(long)]
    pub all: bool,
    /// One JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn parse_dim(s: &str) -> Result<(String, u64), String> {
    let (k, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    let v: u64 = v
        .trim()
        .parse()
        .map_err(|_| format!("`{v}` is not a non-negative integer"))?;
    if k.trim().is_empty() {
        return Err("empty dimension name".into());
    }
    Ok((k.trim().to_string(), v))
}

pub fn run(args: InspectArgs) -> ExitCode {
    match inspect(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Reads only the header of a safetensors file.
pub fn read_safetensors_header(path: &Path) -> anyhow::Result<SafetensorsSummary> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata()?.len();
    let mut first = [0u8; 8];
    f.read_exact(&mut first)
        .map_err(|_| anyhow!("{}: shorter than a safetensors header", path.display()))?;
    let n = safetensors::header_len(&first, size)
        .map_err(|e| anyhow!("{}: {}", path.display(), e.message))?;
    let mut buf = first.to_vec();
    // n is checked against the file's size and the 100 MB limit: safe to read.
    f.take(n).read_to_end(&mut buf)?;
    safetensors::parse_header(&buf, size).map_err(|e| anyhow!("{}: {}", path.display(), e.message))
}

fn options(args: &InspectArgs) -> ImportOptions {
    ImportOptions {
        batch: args.batch,
        seq: args.seq,
        dims: args.dims.iter().cloned().collect(),
        source: format!(
            "onnx:{}",
            args.file.file_name().map_or_else(
                || args.file.display().to_string(),
                |f| f.to_string_lossy().into_owned()
            )
        ),
    }
}

fn inspect(args: &InspectArgs) -> anyhow::Result<()> {
    let name = args.file.to_string_lossy().into_owned();
    // `--dim` names an ONNX graph's symbolic dimension; elsewhere it would be ignored.
    let no_dims = |kind: &str| {
        if args.dims.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(
                "{}: --dim binds an ONNX graph's symbolic dimensions, and this is {kind}: remove it (--batch and --seq size a config.json)",
                args.file.display()
            ))
        }
    };
    if name.to_ascii_lowercase().ends_with(".safetensors") {
        no_dims("a safetensors header")?;
        let s = read_safetensors_header(&args.file)?;
        return print_safetensors(&s, args.json);
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    match sniff(&name, &bytes) {
        Some(FileKind::Onnx) => {
            let g = import_onnx(&bytes, &options(args))
                .map_err(|e| anyhow!("{}: {}", args.file.display(), e.message))?;
            print_graph(&g, args)
        }
        Some(FileKind::HfConfig) => {
            no_dims("a config.json")?;
            inspect_config(&bytes, args)
        }
        Some(FileKind::Safetensors) => {
            no_dims("a safetensors header")?;
            let s = safetensors::parse_header(&bytes, bytes.len() as u64)
                .map_err(|e| anyhow!("{e}"))?;
            print_safetensors(&s, args.json)
        }
        None => bail!(
            "{}: not an ONNX model, a config.json or a safetensors file",
            args.file.display()
        ),
    }
}

fn print_safetensors(s: &SafetensorsSummary, json: bool) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(s)?;
        v["format"] = "safetensors".into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "safetensors header: {} tensors, {} parameters ({:.3}B), {} data bytes",
        s.tensors,
        s.params,
        s.params as f64 / 1e9,
        s.data_bytes
    );
    for (d, n) in &s.params_by_dtype {
        println!("  {d:<8} {n:>16}");
    }
    for w in &s.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

fn inspect_config(bytes: &[u8], args: &InspectArgs) -> anyhow::Result<()> {
    let cfg: serde_json::Value = serde_json::from_slice(bytes)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let spec = hf::spec_from_config(&cfg).map_err(|e| anyhow!("{e}"))?;
    let (batch, seq) = (args.batch.unwrap_or(1), args.seq.unwrap_or(128));
    let arch = Architecture::Transformer(spec.clone());
    let w = Workload {
        phase: Phase::Inference,
        precision: Precision::Fp32,
        batch,
        seq: Some(seq),
        prompt: None,
        new_tokens: None,
        optimizer: None,
        image_size: None,
        channels_last: None,
        attention: None,
    };
    let p = plan::plan(&arch, &w, SoftwareClass::PytorchEager, "inspect")
        .map_err(|e| anyhow!("{e}"))?;
    let flops = p.counted_flops();
    let mut shards = Vec::new();
    for f in &args.safetensors {
        shards.push(read_safetensors_header(f)?);
    }
    let (header_tensors, header_params) = shard_totals(&shards)?;
    let check = (!shards.is_empty()).then(|| {
        let total = SafetensorsSummary {
            tensors: header_tensors,
            params: header_params,
            params_by_dtype: BTreeMap::new(),
            data_bytes: 0,
            metadata: BTreeMap::new(),
            warnings: Vec::new(),
        };
        safetensors::cross_check(p.params, &total)
    });
    if args.json {
        let mut v = serde_json::json!({
            "format": "hf_config",
            "family": spec.family,
            "batch": batch,
            "seq": seq,
            "params": p.params,
            "active_params": p.active_params,
            "flops": flops,
            "nodes": [],
            "unsupported_ops": [],
            "spec": spec,
        });
        if let Some((diff, line)) = &check {
            v["safetensors_params"] = header_params.into();
            v["params_difference"] = (*diff).into();
            v["cross_check"] = line.clone().into();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{} ({} layers, hidden {}, {} heads / {} kv heads)",
        spec.family, spec.layers, spec.hidden, spec.heads, spec.kv_heads
    );
    println!(
        "parameters: {:.4}B (active per token {:.4}B)",
        p.params / 1e9,
        p.active_params / 1e9
    );
    println!(
        "forward FLOPs at batch {batch}, seq {seq}: {:.4e} (matmul convention, 2 per multiply-add)",
        flops
    );
    for n in &spec.notes {
        println!("  - {n}");
    }
    if let Some((_, line)) = check {
        println!("{line}");
    }
    Ok(())
}

/// Tensors and parameters of all shards. Each shard's counts fit in u64; their
/// sum may not (hostile headers): an error, never a wrapped total.
fn shard_totals(shards: &[SafetensorsSummary]) -> anyhow::Result<(u64, u64)> {
    shards
        .iter()
        .try_fold((0u64, 0u64), |(t, p), s| {
            Some((t.checked_add(s.tensors)?, p.checked_add(s.params)?))
        })
        .ok_or_else(|| {
            anyhow!("the safetensors shards' counts add up to more than 2^64: a header is corrupt")
        })
}

fn print_graph(g: &ForwardGraph, args: &InspectArgs) -> anyhow::Result<()> {
    let flops: f64 = g.nodes.iter().map(|n| n.flops).sum();
    let other: f64 = g.nodes.iter().map(|n| n.other_flops).sum();
    let elements: f64 = g.nodes.iter().map(|n| n.elements).sum();
    // The importer refuses non-finite costs; should one get through, say so
    // rather than print a null or a silent zero.
    if ![flops, other, elements].iter().all(|x| x.is_finite()) {
        bail!("{}: the graph's totals are not finite numbers", g.source);
    }
    if args.json {
        let v = serde_json::json!({
            "format": "onnx",
            "source": g.source,
            "batch": g.batch,
            "params": g.params,
            "flops": flops,
            "other_flops": other,
            "elements": elements,
            "nodes": g.nodes,
            "unsupported_ops": g.unsupported_ops,
            "warnings": g.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<44} {:<22} {:>12} {:>12} {:>12} {:>12}",
        "node", "op", "FLOPs", "other", "elements", "params"
    );
    for n in &g.nodes {
        if !args.all && n.kind == OpKind::Shape {
            continue;
        }
        if !args.all
            && n.flops == 0.0
            && n.other_flops == 0.0
            && n.elements == 0.0
            && n.params == 0.0
        {
            continue;
        }
        println!(
            "{:<44} {:<22} {:>12.4e} {:>12.3e} {:>12.3e} {:>12}",
            truncate(&n.name, 44),
            truncate(&n.op_type, 22),
            n.flops,
            n.other_flops,
            n.elements,
            n.params
        );
    }
    let mut by_op: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for n in &g.nodes {
        let e = by_op.entry(&n.op_type).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += n.flops;
    }
    println!();
    println!("by op type:");
    for (op, (count, f)) in &by_op {
        println!("  {op:<28} {count:>6} nodes {f:>14.4e} FLOPs");
    }
    println!();
    println!("{} (batch {}): {} nodes", g.source, g.batch, g.nodes.len());
    println!("parameters: {} ({:.4}M)", g.params, g.params / 1e6);
    println!(
        "forward FLOPs: {flops:.6e} ({:.3} GFLOPs per sample; matmul/convolution convention)",
        flops / g.batch.max(1) as f64 / 1e9
    );
    println!("other arithmetic: {other:.4e}; elements read and written: {elements:.4e}");
    if g.unsupported_ops.is_empty() {
        println!("unsupported ops: none");
    } else {
        println!(
            "unsupported ops (counted as zero): {}",
            g.unsupported_ops.join(", ")
        );
    }
    for w in &g.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let tail: String = s
            .chars()
            .rev()
            .take(n - 1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

/// A scenario's `model.file` (ONNX) imported at the batch and sequence length of
/// its first stage, for `jouleprint estimate`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_parse() {
        assert_eq!(parse_dim("height=512"), Ok(("height".into(), 512)));
        assert!(parse_dim("height").is_err());
        assert!(parse_dim("=3").is_err());
        assert!(parse_dim("h=-1").is_err());
    }

    #[test]
    fn shard_totals_never_wrap() {
        let shard = |params| SafetensorsSummary {
            tensors: 1,
            params,
            params_by_dtype: BTreeMap::new(),
            data_bytes: 0,
            metadata: BTreeMap::new(),
            warnings: Vec::new(),
        };
        assert_eq!(shard_totals(&[shard(3), shard(4)]).ok(), Some((2, 7)));
        // Two headers of 2^63 parameters each (half_a/half_b.safetensors) wrapped to 0.
        let e = shard_totals(&[shard(1 << 63), shard(1 << 63)]).expect_err("overflows");
        assert!(e.to_string().contains("more than 2^64"), "{e}");
    }
}
