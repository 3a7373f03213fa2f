#!/usr/bin/env python3
"""Writes shared/data/validation/serving-held-out.jsonl: every other vLLM
0.5.4 configuration of the ML.ENERGY leaderboard v2 for the five models of
serving.jsonl (other maximum batch sizes and tensor degrees, on the same H100
and A100-40GB servers), none of which was used to fit the engine's host time
or wait power (those are fitted on the ten configurations of serving.jsonl).

Same scenario conventions as serving.jsonl (tools/validation/build.py and
apply_serving.py): a saturated deployment (`request_rate: inf`), one replica of
`tp` devices, the engine's `max_num_seqs` as the batch, the published mean
output length, an estimated mean prompt of 100 tokens, GPU energy only (PUE 1,
no host power), plus the published `gpu_memory_utilization` 0.95 as the
serving block's `memory_fraction` (it bounds the KV cache at the larger batch
sizes). Model sources are taken from the serving.jsonl case of the same model.
Run: python3 tools/validation/build_serving_held_out.py (reads a local mirror
of github.com/ml-energy/leaderboard-v2 at V2_REPO; fetch it first).
"""
import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "../../shared/data/validation")
V2_REPO = "/work/.mirror/ml-energy+leaderboard-v2/repo"
V2_COMMIT = "c3af7f31e231a2a7021c5f8e2a54dd712d02e6e2"
ROOT = "data/llm_text_generation/chat"
GPUS = {"H100 80GB HBM3": ("h100-sxm", "h100"), "A100-SXM4-40GB": ("a100-sxm-40gb", "a100-40gb")}
PROMPT = 100


def main():
    fitted = set()
    models = {}
    keys = {}
    for line in open(os.path.join(DATA, "serving.jsonl")):
        c = json.loads(line)
        m = re.search(re.escape(ROOT) + r"/([^/]+)/([^/]+/[^/]+)/(bs\d+\+tp\d+\+pp1)\.json", c["source"])
        if not m:
            continue
        gdir, mname, cfg = m.groups()
        fitted.add((gdir, mname, cfg))
        models[mname] = c["scenario"]["model"]
        keys[mname] = c["name"].split("_vllm054")[0]
        v2_unc = c["uncertain"].split("; tensor-parallel")[0].split("; preset")[0].split("; hf_config")[0]
        src_tail = c["source"].split("); ", 1)[1]
    files = subprocess.check_output(
        ["git", "-C", V2_REPO, "ls-tree", "-r", "--name-only", V2_COMMIT, ROOT + "/"]).decode().splitlines()
    rows = []
    for path in sorted(files):
        m = re.fullmatch(re.escape(ROOT) + r"/([^/]+)/([^/]+/[^/]+)/bs(\d+)\+tp(\d+)\+pp1\.json", path)
        if not m:
            continue
        gdir, mname, bs, tp = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if mname not in models or gdir not in GPUS or (gdir, mname, f"bs{bs}+tp{tp}+pp1") in fitted:
            continue
        d = json.loads(subprocess.check_output(["git", "-C", V2_REPO, "show", f"{V2_COMMIT}:{path}"]))
        e_req, out, tput, avg_bs = d["Energy/req (J)"], d["Avg Output Tokens"], d["Token tput (tok/s)"], d["Avg BS (reqs)"]
        dev, gname = GPUS[gdir]
        stage = {"kind": "deployment",
                 "workload": {"phase": "decode", "precision": "bf16", "batch": bs, "prompt": PROMPT,
                              "new_tokens": round(out)},
                 "requests_per_day": 2000, "days": 1,
                 "serving": {"saturated": True, "replicas": 1, "engine": "vllm-0.5", "memory_fraction": 0.95}}
        if tp > 1:
            stage["parallelism"] = {"tensor": tp}
        scn = {"version": 1, "name": f"{mname} on {tp}x {gdir}, vLLM 0.5.4, max {bs} sequences",
               "model": models[mname], "stages": [stage], "hardware": {"device": dev, "count": tp},
               "software": "serving", "infrastructure": {"pue": 1.0, "host_watts_per_device": 0}}
        src = (f"ML.ENERGY Leaderboard v2 data, ml-energy/leaderboard-v2 {path} "
               f"(https://github.com/ml-energy/leaderboard-v2/blob/{V2_COMMIT}/{path.replace(' ', '%20')}); {src_tail}")
        unc = (v2_unc + f"; held out: not one of the ten configurations the vLLM 0.5 host time and wait power are "
               f"fitted on; published average batch {avg_bs:.1f} of at most {bs}"
               + ("" if avg_bs > 0.9 * bs else " (the KV cache bounded it: the scenario's memory_fraction 0.95 is "
                  "vLLM's gpu_memory_utilization)"))
        setup = {"engine": "vllm", "engine_version": "0.5.4", "request_rate": "inf", "tp": tp, "max_concurrency": bs,
                 "avg_batch": round(avg_bs, 2), "output_tokens_mean": round(out, 2),
                 "tpot_s": round(d["Avg TPOT (s)"], 4), "prompt_tokens_assumed": PROMPT,
                 "gpu_memory_utilization": 0.95}
        base = f"{keys[mname]}_vllm054_sharegpt_{gname}_tp{tp}_max{bs}"
        common = {"group": "serving-held-out", "scenario": scn, "stage": 0, "source": src, "uncertain": unc,
                  "setup": setup}
        rows.append(dict(name=base + "_joules_per_token", quantity="joules_per_token", value=e_req / out,
                         unit="J/token", published=f"\"Energy/req (J)\": {e_req}, \"Avg Output Tokens\": {out}",
                         derivation="joules_per_token = Energy/req / Avg Output Tokens", **common))
        rows.append(dict(name=base + "_tokens_per_second", quantity="tokens_per_second", value=tput,
                         unit="tokens/s", published=f"\"Token tput (tok/s)\": {tput}",
                         derivation="tokens_per_second = published output tokens per second of the server", **common))
    out_path = os.path.join(DATA, "serving-held-out.jsonl")
    with open(out_path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases ({len(rows) // 2} configurations) -> {os.path.normpath(out_path)}")


if __name__ == "__main__":
    main()
