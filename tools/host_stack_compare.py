"""Host cost of one decoded token on two PyTorch/transformers stacks.

The ML.ENERGY v1 serving cases ran FastChat 0.2.14 on torch 2.0.1 with the
transformers of mid-2023; the project's host costs (tools/host_overhead.py) are
measured on torch 2.11 + transformers 5.23. This runs the same code on both:
FastChat's own token loop (generate_stream: one cached forward per token,
temperature, softmax, multinomial, int(token)) over a Llama built from a config
with random weights and tiny widths, batch 1, and reports the CPU thread time
per token, the kernels per token (a TorchDispatchMode count of non-view aten
ops) and the host time per kernel. Nothing is downloaded.

Run each stack several times, alternating, so that both see the same load:

    for i in 1 2 3; do
      /work/venv-torch/bin/python tools/host_stack_compare.py --out run-new-$i.json
      /work/venv-old/bin/python tools/host_stack_compare.py --out run-old-$i.json
    done
    python3 tools/host_stack_compare.py --summarize run-*.json --out shared/data/host-stacks.json

`--per-layer` counts one decoder layer's kernels per decoded token for a Llama
and a GPT-NeoX (1 and 2 layers, the difference) on the running stack; the
results sit under `per_layer_kernels` in shared/data/host-stacks.json and a
test holds the estimator's math and fused paths to them.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time


def run(out_path, layers, prompt, new, reps):
    import torch
    import transformers
    from kernel_count import kernel_counter

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


    cfg = transformers.LlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=layers,
        num_attention_heads=16,
        num_key_value_heads=16,
        max_position_embeddings=prompt + new + 8,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    ids = torch.randint(3, 510, (1, prompt))

    def fastchat_loop(count=None):
        """FastChat 0.2.14 generate_stream, decoder-only path, without the
        tokenizer decode every second token (no tokenizer is built here)."""
        with torch.inference_mode():
            out = model(ids, use_cache=True)
            logits, past = out.logits, out.past_key_values
            token = int(torch.argmax(logits[0, -1, :]))
            times = []
            for _ in range(new):
                c0 = time.thread_time_ns()
                if count is not None:
                    count.__enter__()
                out = model(input_ids=torch.as_tensor([[token]]), use_cache=True, past_key_values=past)
                logits, past = out.logits, out.past_key_values
                last = logits[:, -1, :] / 0.7  # TemperatureLogitsWarper(0.7)
                probs = torch.softmax(last[0], dim=-1)
                token = int(torch.multinomial(probs.float(), num_samples=1))
                if count is not None:
                    count.__exit__(None, None, None)
                times.append((time.thread_time_ns() - c0) / 1e3)
            return times

    fastchat_loop()  # warm-up
    per_token = []
    for _ in range(reps):
        gc.collect()
        gc.disable()
        t = fastchat_loop()
        gc.enable()
        per_token.append(statistics.median(t))
    c = kernel_counter()
    fastchat_loop(count=c)
    kernels = c.kernels / new
    doc = {
        "what": "CPU thread time per decoded token of FastChat 0.2.14's loop over a tiny random Llama (batch 1)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "loadavg_1min": os.getloadavg()[0],
        "config": {"layers": layers, "hidden": 64, "heads": 16, "intermediate": 176, "vocab": 512,
                   "dtype": "bfloat16", "prompt": prompt, "new_tokens": new},
        "us_per_token_medians": per_token,
        "us_per_token": statistics.median(per_token),
        "kernels_per_token": kernels,
        "us_per_kernel": statistics.median(per_token) / kernels,
        "date": time.strftime("%Y-%m-%d"),
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"torch {doc['torch']}, transformers {doc['transformers']}: {doc['us_per_token']:.0f} us/token,"
          f" {kernels:.0f} kernels/token, {doc['us_per_kernel']:.2f} us/kernel (load {doc['loadavg_1min']:.1f})")


def build(family, layers):
    """A tiny random decoder of `family` (llama | gpt_neox) with `layers` layers, bf16, eval."""
    import torch
    import transformers

    torch.manual_seed(0)
    if family == "llama":
        cfg = transformers.LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176,
                                       num_hidden_layers=layers, num_attention_heads=16,
                                       num_key_value_heads=16, max_position_embeddings=400)
        model = transformers.LlamaForCausalLM(cfg)
    else:
        # Pythia / dolly-v2 shape: partial rotary (25%), parallel residual, biases
        cfg = transformers.GPTNeoXConfig(vocab_size=512, hidden_size=64, intermediate_size=256,
                                         num_hidden_layers=layers, num_attention_heads=16,
                                         rotary_pct=0.25, use_parallel_residual=True,
                                         max_position_embeddings=400)
        model = transformers.GPTNeoXForCausalLM(cfg)
    return model.to(torch.bfloat16).eval()


def count_per_layer(out_path, new=16):
    """Kernels per decoded token of FastChat's loop at 1 and 2 layers, per family:
    the difference is one decoder layer's dispatches on this transformers."""
    import torch
    import transformers
    from kernel_count import kernel_counter

    counts = {}
    for family in ("llama", "gpt_neox"):
        per_token = {}
        for layers in (1, 2):
            model = build(family, layers)
            ids = torch.randint(3, 510, (1, 128))
            with torch.inference_mode():
                out = model(ids, use_cache=True)
                past = out.past_key_values
                token = int(torch.argmax(out.logits[0, -1]))
                c = kernel_counter()
                for _ in range(new):
                    with c:
                        out = model(input_ids=torch.as_tensor([[token]]), use_cache=True, past_key_values=past)
                        logits, past = out.logits, out.past_key_values
                        probs = torch.softmax(logits[0, -1, :] / 0.7, dim=-1)
                        token = int(torch.multinomial(probs.float(), num_samples=1))
            per_token[layers] = c.kernels / new
        counts[family] = {"kernels_per_token_1_layer": per_token[1],
                          "kernels_per_token_2_layers": per_token[2],
                          "kernels_per_layer": per_token[2] - per_token[1]}
    doc = {"torch": torch.__version__, "transformers": transformers.__version__,
           "date": time.strftime("%Y-%m-%d"), "counts": counts}
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
    print(json.dumps(doc))


def summarize(paths, out_path):
    runs = [json.load(open(p)) for p in paths]
    stacks = {}
    for r in runs:
        key = f"torch {r['torch']} + transformers {r['transformers']}"
        stacks.setdefault(key, []).append(r)
    summary = {}
    for key, rs in stacks.items():
        # contention only adds time: the minimum over runs of each run's median
        summary[key] = {
            "runs": len(rs),
            "us_per_token": min(r["us_per_token"] for r in rs),
            "kernels_per_token": rs[0]["kernels_per_token"],
            "us_per_kernel": min(r["us_per_kernel"] for r in rs),
            "us_per_kernel_all_runs": [r["us_per_kernel"] for r in rs],
        }
    doc = {
        "what": "host cost of one decoded token, FastChat 0.2.14's loop, on two PyTorch/transformers stacks "
                "(tools/host_stack_compare.py; method and use in docs/host-overhead.md, 'Older stacks')",
        "machine": {k: runs[0][k] for k in ("cpu", "python")},
        "config": runs[0]["config"],
        "stacks": summary,
        "runs": runs,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
    for key, s in summary.items():
        print(f"{key}: {s['us_per_token']:.0f} us/token, {s['kernels_per_token']:.0f} kernels, "
              f"{s['us_per_kernel']:.2f} us/kernel over {s['runs']} runs {s['us_per_kernel_all_runs']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--summarize", nargs="*")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--per-layer", action="store_true",
                    help="count one decoder layer's kernels (llama, gpt_neox) instead of timing")
    a = ap.parse_args()
    if a.per_layer:
        count_per_layer(a.out)
    elif a.summarize:
        summarize(a.summarize, a.out)
    else:
        run(a.out, a.layers, a.prompt, a.new, a.reps)


if __name__ == "__main__":
    sys.exit(main())
