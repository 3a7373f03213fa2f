#!/usr/bin/env python3
"""Writes shared/data/validation/training-fsdp.jsonl: the measured training
throughput of MosaicML's MPT models (125M to 70B parameters) under PyTorch
FSDP on 8 to 512 A100-40GB, A100-80GB and H100 GPUs, as llm-foundry
published it (tables copied verbatim in llm_foundry_train_benchmarks.md
beside this script); see training-fsdp.md beside the output.

Each row gives Throughput (T/s), tokens per second of the whole job, and the
global batch in tokens, so the measured optimizer step takes
GlobalBatchSize (T) / Throughput (T/s) seconds. No figure of the rows is
fitted. Run: python3 tools/validation/build_fsdp.py (no network, no arguments).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = os.path.join(HERE, "llm_foundry_train_benchmarks.md")
OUT = os.path.join(HERE, "../../shared/data/validation/training-fsdp.jsonl")

COMMIT = "9a5fcd36696c54044f8e17266c204822f1b80791"
SOURCE = (
    "MosaicML llm-foundry, scripts/train/benchmarking/README.md at commit " + COMMIT +
    " (https://github.com/mosaicml/llm-foundry), section '{section}', row {row}; "
    "model shapes from scripts/train/yamls/pretrain/mpt-{size}.yaml at the same commit; "
    "copied verbatim in tools/validation/llm_foundry_train_benchmarks.md"
)
VOCAB = 50368
# d_model, n_heads, n_layers of scripts/train/yamls/pretrain/mpt-*.yaml (expansion_ratio 4).
SHAPES = {
    "125m": (768, 12, 12), "350m": (1024, 16, 24), "760m": (1536, 12, 24), "1b": (2048, 16, 24),
    "3b": (2560, 20, 32), "7b": (4096, 32, 32), "13b": (5120, 40, 40), "30b": (7168, 56, 48),
    "70b": (8192, 64, 80),
}
DEVICES = {"h100_80gb": "h100-sxm", "a100_80gb": "a100-sxm-80gb", "a100_40gb": "a100-sxm-40gb"}
PRECISION = {"amp_bf16": "bf16-amp", "bf16": "bf16-amp", "amp_fp8": "fp8"}
ZERO = {"FULL_SHARD": 3, "SHARD_GRAD_OP": 2}


def params(d, layers, seq):
    """GPT-2 layout with every bias (llm-foundry's MPT of 2023: no_bias false,
    learned positions, LayerNorm with bias, tied head): V d + s d + L (12 d^2 + 13 d) + 2 d."""
    return VOCAB * d + seq * d + layers * (12 * d * d + 13 * d) + 2 * d


def rows():
    section = None
    out = []
    n_in_section = 0
    with open(TABLES) as f:
        for line in f:
            if line.startswith("## "):
                section = line[3:].strip()
                n_in_section = 0
            elif line.startswith("|  ") and line[3].isdigit():
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                n_in_section += 1
                out.append((section, n_in_section, cells))
    return out


def case(section, k, cells):
    (size, seq, gpus, gpu, mfu, hfu, _model_tflop, micro, accum, gbs, _sps, tps, tps_gpu,
     gbs_tokens, precision, mp_mode, shard, ckpt, offload, nparams) = cells
    seq, gpus, micro, accum, gbs = int(seq), int(gpus), int(micro), int(accum), int(gbs)
    tps, gbs_tokens, nparams = float(tps), int(gbs_tokens), int(nparams)
    assert offload == "False", (section, k)
    assert gbs_tokens == gbs * seq, (section, k)
    # The global batch divides into micro-batch x accumulation per GPU, except
    # where llm-foundry's micro-batching accumulates unequal pieces (README: "a
    # total batch size of 48, and a micro batch of 11" runs 11, 11, 11, 11, 4).
    per_gpu = gbs / gpus
    d, heads, layers = SHAPES[size]
    assert params(d, layers, seq) == nparams, (section, k, params(d, layers, seq), nparams)
    value = gbs_tokens / tps
    recompute = "full" if ckpt == "True" else "none"
    name = f"mpt_{size}_{gpu}_{PRECISION[precision]}_s{seq}_n{gpus}_mb{micro}x{accum}_{ZERO[shard] == 3 and 'fsdp' or 'sgo'}{'_ckpt' if ckpt == 'True' else ''}"
    scn = {
        "version": 1,
        "name": f"MPT-{size} FSDP training step, {gpus} x {gpu}",
        "model": {"hf_config": {
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": d, "n_head": heads,
            "n_layer": layers, "vocab_size": VOCAB, "n_positions": seq, "activation_function": "gelu",
            "tie_word_embeddings": True}},
        "stages": [{
            "kind": "final_training",
            "workload": {"phase": "train", "precision": PRECISION[precision],
                         "batch": int(round(per_gpu)), "seq": seq, "optimizer": "adamw"},
            "steps": 100,
            "parallelism": {"zero": ZERO[shard], "micro_batches": max(1, int(round(per_gpu / micro))),
                            "recompute": recompute},
        }],
        "hardware": {"device": DEVICES[gpu], "count": gpus},
        "software": "pytorch-eager",
    }
    uncertain = [
        "one 30-batch run per configuration (no spread published); Throughput (T/s) is rounded to whole tokens per second",
        "llm-foundry's MPT of 2023 (Composer and FSDP in eager PyTorch: no compilation, element-wise ops unfused, FlashAttention kernels, low-precision LayerNorm) is modelled as the `pytorch-eager` class with its default fused attention, whose rate is FlashAttention-2's; llm-foundry's `gpu` extra pinned flash-attn 1.0.9 (FlashAttention-1, about half FlashAttention-2's speed) when the tables were made (setup.py at b2a43a1 and 5e85bd6; flash-attn 2 was the optional `gpu-flash2` extra), so which kernel ran is not known",
        "the architecture is written as a GPT-2 config (learned positions, biases everywhere, LayerNorm, GELU MLP of 4 d, tied head), which reproduces the table's NumParams exactly",
        "the cluster's network is not stated for the H100 rows (A100 rows: 1600 Gbps RoCE per node); the catalog's network of each device is used",
    ]
    if mp_mode == "DEFAULT":
        uncertain.append("FSDP mixed precision DEFAULT reduces gradients in fp32 (the class reduces in bf16)")
    if precision == "bf16":
        uncertain.append("precision 'bf16' with FSDP mixed precision PURE (bf16 compute and reduction, fp32 sharded master weights) is mapped to bf16-amp")
    if precision == "amp_fp8":
        uncertain.append("fp8 through NVIDIA Transformer Engine's linear layers; attention and the rest in bf16")
    if abs(per_gpu - round(per_gpu)) > 1e-9 or abs(per_gpu / micro - round(per_gpu / micro)) > 1e-9:
        uncertain.append(f"the {per_gpu:g} sequences per GPU are not a whole number of micro-batches of {micro}: rounded")
    return {
        "name": name, "group": "training-fsdp", "scenario": scn, "quantity": "seconds_per_step",
        "stage": 0, "value": value, "unit": "s",
        "published": " | ".join(cells),
        "derivation": (f"seconds_per_step = GlobalBatchSize (T) / Throughput (T/s) = {gbs_tokens} / {tps:g}; "
                       f"published MFU {mfu}%, HFU {hfu}%"),
        "source": SOURCE.format(section=section, row=k, size=size),
        "uncertain": "; ".join(uncertain),
        "setup": {"framework": "llm-foundry (Composer, PyTorch FSDP)", "global_batch": gbs,
                  "micro_batch": micro, "grad_accum": accum, "sharding": shard, "mixed_precision": mp_mode,
                  "activation_checkpointing": ckpt == "True", "params_published": nparams,
                  "tokens_per_second": tps, "mfu_published": float(mfu) / 100.0},
    }


def main():
    cases = [case(s, k, c) for (s, k, c) in rows()]
    names = [c["name"] for c in cases]
    # Two rows can share a configuration (a repeated measurement): number them.
    seen = {}
    for c in cases:
        n = c["name"]
        if names.count(n) > 1:
            seen[n] = seen.get(n, 0) + 1
            c["name"] = f"{n}_r{seen[n]}"
    with open(OUT, "w") as f:
        for c in cases:
            f.write(json.dumps(c) + "\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
