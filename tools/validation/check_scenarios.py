import json, sys
PRESETS = "resnet18 resnet34 resnet50 resnet101 resnet152 vit_b_16 vit_l_16 bert-base bert-large gpt2 gpt2-medium gpt2-large gpt2-xl llama-2-7b llama-2-13b llama-2-70b llama-3-8b llama-3-70b mistral-7b".split()
DEV = "v100-sxm2-16gb v100-sxm2-32gb v100-pcie-16gb v100-pcie-32gb t4 a10 a10g a100-sxm-40gb a100-sxm-80gb a100-pcie-40gb a100-pcie-80gb rtx-3090 l4 l40s rtx-4090 h100-sxm h100-pcie h100-nvl h200-sxm b200 gb200 mi250x mi300x tpu-v4 tpu-v5e tpu-v5p".split()
PREC = "fp32 tf32 fp16 bf16 bf16-amp fp8 int8".split()
VISION = {"resnet18","resnet34","resnet50","resnet101","resnet152","vit_b_16","vit_l_16"}
LEARNED_POS = {"bert-base":512,"bert-large":512,"gpt2":1024,"gpt2-medium":1024,"gpt2-large":1024,"gpt2-xl":1024}
CAUSAL = {p for p in PRESETS if p.startswith(("gpt2","llama","mistral"))}
TOP = {"version","name","model","stages","hardware","software","infrastructure","resolved"}
WK = {"phase","precision","batch","seq","prompt","new_tokens","optimizer","image_size"}
ST = {"name","kind","workload","steps","samples","tokens","epochs","runs","requests_per_day","days"}
CASEKEYS = ["name","group","scenario","quantity","stage","value","unit","published","derivation","source","uncertain","setup"]
QU = {"device_hours":"h","wall_hours":"h","device_kwh":"kWh","energy_kwh":"kWh","seconds_per_step":"s","tokens_per_second":"tokens/s","joules_per_token":"J/token","joules_per_request":"J/request"}
bad = 0
for ln, line in enumerate(open(sys.argv[1]), 1):
    c = json.loads(line); errs = []
    if list(c.keys()) != CASEKEYS: errs.append(f"keys {list(c.keys())}")
    s = c["scenario"]
    if set(s) - TOP: errs.append(f"unknown top {set(s)-TOP}")
    if s.get("version") != 1: errs.append("version")
    m = s["model"]; p = m.get("preset")
    if list(m) != ["preset"] or p not in PRESETS: errs.append(f"model {m}")
    if s["hardware"]["device"] not in DEV: errs.append("device")
    if set(s["hardware"]) - {"device","count"} or s["hardware"].get("count",1) < 1: errs.append("hardware")
    if s["software"] not in ("pytorch-eager","compiled","serving"): errs.append("software")
    if set(s["infrastructure"]) - {"pue","region","grid_gco2e_per_kwh","host_watts_per_device","embodied"} or not 1 <= s["infrastructure"]["pue"] <= 3: errs.append("infra")
    if not s["stages"]: errs.append("stages")
    for st in s["stages"]:
        if set(st) - ST: errs.append(f"stage keys {set(st)-ST}")
        if sum(k in st for k in ("steps","samples","tokens","requests_per_day")) != 1: errs.append("amount")
        w = st["workload"]
        if set(w) - WK: errs.append(f"workload keys {set(w)-WK}")
        if w["phase"] not in ("train","inference","prefill","decode"): errs.append("phase")
        if w["precision"] not in PREC: errs.append("precision")
        if not 1 <= w["batch"] <= 1_000_000: errs.append("batch")
        if w.get("optimizer") not in (None,"sgd","sgd-momentum","adam","adamw"): errs.append("optimizer")
        if st["kind"] == "deployment" and w["phase"] == "train": errs.append("deploy train")
        if p in VISION:
            if p.startswith("resnet") and w["phase"] in ("decode","prefill"): errs.append("vision phase")
            if p.startswith("vit") and w["phase"] == "decode": errs.append("vit decode")
        else:
            if w["phase"] in ("train","inference"):
                if not w.get("seq"): errs.append("seq missing")
                if p in LEARNED_POS and w["seq"] > LEARNED_POS[p]: errs.append("seq > positions")
            if w["phase"] == "prefill" and not (w.get("seq") or w.get("prompt")): errs.append("prefill seq")
            if w["phase"] == "decode":
                if p not in CAUSAL: errs.append("decode non-causal")
                if not w.get("prompt") or not w.get("new_tokens"): errs.append("decode prompt/new_tokens")
                if p in LEARNED_POS and w["prompt"] + w["new_tokens"] > LEARNED_POS[p]: errs.append("decode > positions")
    if c["quantity"] not in QU or QU[c["quantity"]] != c["unit"]: errs.append("quantity/unit")
    if not (isinstance(c["value"], float) and c["value"] > 0): errs.append("value")
    if c["group"] != "single-device": errs.append("group")
    if errs: bad += 1; print(ln, c["name"], errs)
print("checked", ln, "bad", bad)
