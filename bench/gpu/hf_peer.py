#!/usr/bin/env python3
"""Hugging Face transformers (PyTorch eager) as issue 19's GPU peer.

Runs the workloads of bench/gpu/workloads.json on the same checkpoint folder and the same token ids
as bench/gpu/arbor-gpu.mjs, and appends one JSON line per measurement to --out in the same shape:

    python3 bench/gpu/hf_peer.py --model DIR --dtype fp32|bf16 [--workloads w2,w3,w1-full,w1-reuse]
        [--preset full|tiny] [--round N] [--repeats N] [--out FILE] [--deadline EPOCH_S] [--device auto|cuda|cpu]

W1 runs two ways: every sequence batched in full (prefix + suffix, `w1-full`), and the peer's best,
the prefix computed once and its KV cache repeated across the suffixes (`w1-reuse`,
`DynamicCache.batch_repeat_interleave`). Both give log p(suffix | prefix) as sums of log-softmax
terms in float32.
"""
import argparse
import datetime
import json
import math
import os
import platform
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, DynamicCache, GenerationConfig
from transformers.generation.streamers import BaseStreamer

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("w2", "w3", "w1-full", "w1-reuse")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


class TokenIds:
    """bench/lib/token-ids.mjs in Python: the same Park–Miller ids in [3, vocab) avoiding the special ids."""

    def __init__(self, seed, vocab, avoid=frozenset()):
        self.vocab = vocab
        self.avoid = avoid
        self.state = ((seed % 2147483646) + 2147483646) % 2147483646 + 1

    def next(self):
        while True:
            self.state = (self.state * 48271) % 2147483647
            i = 3 + self.state % (self.vocab - 3)
            if i not in self.avoid:
                return i

    def take(self, n):
        return [self.next() for _ in range(n)]


def load_preset(name):
    with open(os.path.join(HERE, "workloads.json")) as f:
        presets = json.load(f)
    if name not in presets:
        sys.exit(f"hf_peer: --preset {name}: not in bench/gpu/workloads.json ({', '.join(presets)})")
    return presets[name]


def special_ids(cfg):
    e = cfg.get("eos_token_id")
    return frozenset(e if isinstance(e, list) else [] if e is None else [e])


def token_ids(cfg, seed):
    return TokenIds(seed, cfg["vocab_size"], special_ids(cfg))


def w1_data(cfg, w1, rnd):
    """The same draw order as bench/gpu/lib.mjs w1Data: per group the prefix, then its suffixes."""
    g = token_ids(cfg, w1["seed"] + rnd * w1["seedStride"])
    prefixes, suffixes = [], []
    for _ in range(w1["groups"]):
        prefixes.append(g.take(w1["prefix"]))
        suffixes.append([g.take(w1["suffixLen"]) for _ in range(w1["suffixes"])])
    return prefixes, suffixes


def w2_prompts(cfg, w2, rnd):
    g = token_ids(cfg, w2["seed"] + rnd * w2["seedStride"])
    return [g.take(w2["promptLen"]) for _ in range(w2["requests"])]


def single_prompt(cfg, spec, rnd):
    return token_ids(cfg, spec["seed"] + rnd * spec["seedStride"]).take(spec["promptLen"])


def percentile(xs, p):
    s = sorted(xs)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def median(xs):
    s = sorted(xs)
    if not s:
        return float("nan")
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


class StepStamps(BaseStreamer):
    """Times each generated step: generate() hands the streamer the prompt first, then each step's tokens."""

    def __init__(self):
        self.stamps = []
        self.first_row = []
        self.prompt_seen = False

    def put(self, value):
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        tokens = value.reshape(-1).cpu()  # the copy waits for the step's kernels
        self.stamps.append(time.perf_counter())
        self.first_row.append(int(tokens[0]))

    def end(self):
        pass


def repeat_cache(cache, n):
    """Repeats a batch-1 KV cache n times along the batch; says which API did it (it moved across versions)."""
    if hasattr(cache, "batch_repeat_interleave"):
        cache.batch_repeat_interleave(n)
        return cache, "DynamicCache.batch_repeat_interleave"
    if hasattr(cache, "layers"):
        for layer in cache.layers:
            layer.keys = layer.keys.repeat_interleave(n, dim=0)
            layer.values = layer.values.repeat_interleave(n, dim=0)
        return cache, "layers[i].keys/values.repeat_interleave"
    if hasattr(cache, "key_cache"):
        cache.key_cache = [k.repeat_interleave(n, dim=0) for k in cache.key_cache]
        cache.value_cache = [v.repeat_interleave(n, dim=0) for v in cache.value_cache]
        return cache, "key_cache/value_cache.repeat_interleave"
    raise TypeError(f"cannot repeat a {type(cache).__name__}: no batch_repeat_interleave, layers or key_cache")


class Peer:
    def __init__(self, args):
        self.args = args
        self.preset = load_preset(args.preset)
        with open(os.path.join(args.model, "config.json")) as f:
            self.cfg = json.load(f)
        self.device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else "cpu" if args.device == "auto" else args.device)
        t0 = time.perf_counter()
        try:
            model = AutoModelForCausalLM.from_pretrained(args.model, dtype=DTYPES[args.dtype])
        except TypeError:  # transformers < 4.56 calls it torch_dtype
            model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=DTYPES[args.dtype])
        self.model = model.to(self.device).eval()
        self.log(f"loaded {type(model).__name__} ({model.config._attn_implementation} attention) in {time.perf_counter() - t0:.1f} s")
        gpu = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "no GPU"
        machine = f"{platform.processor() or platform.machine()} × {os.cpu_count()}, {gpu}, Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}"
        self.common = {
            "engine": "hf",
            "system": f"hf eager {args.dtype}",
            "device": self.device.type,
            "dtype": args.dtype,
            "model": args.name or os.path.basename(os.path.normpath(args.model)),
            "round": args.round,
            "preset": args.preset,
            "machine": machine,
            "attention": model.config._attn_implementation,
        }

    def log(self, line):
        print(f"[hf {self.args.dtype}] {line}", file=sys.stderr, flush=True)

    def emit(self, row):
        line = json.dumps({**self.common, **row, "time": datetime.datetime.now(datetime.timezone.utc).isoformat()})
        if self.args.out:
            with open(self.args.out, "a") as f:
                f.write(line + "\n")
        print(line, flush=True)

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def tensor(self, rows):
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def generate(self, prompts, out_len):
        """Greedy generate of exactly out_len tokens per prompt (min_new_tokens keeps EOS out), timed per step."""
        ids = self.tensor(prompts)
        streamer = StepStamps()
        config = GenerationConfig(do_sample=False, max_new_tokens=out_len, min_new_tokens=out_len, pad_token_id=0, use_cache=True)
        self.sync()
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config, streamer=streamer)
        self.sync()
        if out.shape[1] != ids.shape[1] + out_len:
            raise RuntimeError(f"generate returned {out.shape[1] - ids.shape[1]} tokens, expected {out_len}")
        return start, streamer

    def w2(self, out_len):
        prompts = w2_prompts(self.cfg, self.preset["w2"], self.args.round)
        start, s = self.generate(prompts, out_len)
        seconds = s.stamps[-1] - start
        gaps = [(b - a) * 1000 for a, b in zip(s.stamps, s.stamps[1:])]
        tokens = len(prompts) * len(s.stamps)
        return {
            "metric": "output tok/s",
            "value": tokens / seconds,
            "extra": {"seconds": seconds, "tokens": tokens, "p50GapMs": percentile(gaps, 50), "p99GapMs": percentile(gaps, 99), "medianTtftMs": (s.stamps[0] - start) * 1000},
        }

    def w3(self, out_len):
        start, s = self.generate([single_prompt(self.cfg, self.preset["w3"], self.args.round)], out_len)
        decode = s.stamps[-1] - s.stamps[0]
        n = len(s.stamps)
        return {
            "metric": "decode tok/s",
            "value": (n - 1) / decode,
            "extra": {"ttftMs": (s.stamps[0] - start) * 1000, "decodeMsPerToken": decode * 1000 / (n - 1), "tokens": n, "firstTokens": s.first_row[:16]},
        }

    @staticmethod
    def suffix_logprob(logits, targets):
        """Σ log p(target) over positions: logits [B, S, V] predicting targets [B, S], in float32."""
        lp = torch.log_softmax(logits.float(), dim=-1)
        return lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).sum(-1)

    def w1_full(self, groups):
        """Every (prefix + suffix) as its own sequence, hfFullBatch sequences per forward; only the suffix logits are computed."""
        w1 = self.preset["w1"]
        prefixes, suffixes = w1_data(self.cfg, w1, self.args.round)
        P, S = w1["prefix"], w1["suffixLen"]
        seqs = [prefixes[g] + sfx for g in range(groups) for sfx in suffixes[g]]
        lps = []
        self.sync()
        start = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(seqs), w1["hfFullBatch"]):
                ids = self.tensor(seqs[i : i + w1["hfFullBatch"]])
                # logits_to_keep = S + 1: positions P − 1 … P + S − 1; the last predicts nothing scored.
                logits = self.model(input_ids=ids, use_cache=False, logits_to_keep=S + 1).logits[:, :-1]
                lps.append(self.suffix_logprob(logits, ids[:, P:]))
        lps = torch.cat(lps).tolist()
        seconds = time.perf_counter() - start
        return {"metric": "sequences/s", "value": len(lps) / seconds, "extra": {"seconds": seconds, "sequences": len(lps), "batch": w1["hfFullBatch"], "lps": lps}}

    def w1_reuse(self, groups):
        """Per group: the prefix once into a DynamicCache, the cache repeated per suffix, then all suffixes as one batch."""
        w1 = self.preset["w1"]
        prefixes, suffixes = w1_data(self.cfg, w1, self.args.round)
        lps = []
        how = None
        self.sync()
        start = time.perf_counter()
        with torch.inference_mode():
            for g in range(groups):
                out = self.model(input_ids=self.tensor([prefixes[g]]), past_key_values=DynamicCache(), use_cache=True, logits_to_keep=1)
                sfx = self.tensor(suffixes[g])
                first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)[sfx[:, 0]]
                cache, how = repeat_cache(out.past_key_values, len(suffixes[g]))
                logits = self.model(input_ids=sfx, past_key_values=cache, use_cache=True).logits[:, :-1]
                lps.append(first + self.suffix_logprob(logits, sfx[:, 1:]))
        lps = torch.cat(lps).tolist()
        seconds = time.perf_counter() - start
        return {"metric": "sequences/s", "value": len(lps) / seconds, "extra": {"seconds": seconds, "sequences": len(lps), "cacheRepeat": how, "lps": lps}}

    def run(self, workloads):
        w1g = self.preset["w1"]["groups"]
        full = {
            "w2": lambda: self.w2(self.preset["w2"]["outputLen"]),
            "w3": lambda: self.w3(self.preset["w3"]["outputLen"]),
            "w1-full": lambda: self.w1_full(w1g),
            "w1-reuse": lambda: self.w1_reuse(w1g),
        }
        # Same shapes as measured, shorter: CUDA context, kernels and allocator warm before the clock.
        warm = {"w2": lambda: self.w2(4), "w3": lambda: self.w3(8), "w1-full": lambda: self.w1_full(1), "w1-reuse": lambda: self.w1_reuse(1)}
        if not self.args.no_warmup:
            for w in workloads:
                t0 = time.perf_counter()
                warm[w]()
                self.log(f"warm-up {w}: {time.perf_counter() - t0:.1f} s")
        for rep in range(self.args.repeats):
            full_lps = None
            for w in workloads:
                if time.time() > self.args.deadline:
                    self.log(f"deadline passed: {w} repeat {rep} not run")
                    self.emit({"kind": "skipped", "workload": w, "repeat": rep})
                    continue
                r = full[w]()
                if w == "w1-full":
                    full_lps = r["extra"]["lps"]
                elif w == "w1-reuse" and full_lps is not None:
                    r["extra"]["maxAbsDiffVsFull"] = max(abs(a - b) for a, b in zip(full_lps, r["extra"]["lps"]))
                self.emit({"kind": "result", "workload": w, "repeat": rep, **r})
                self.log(f"{w} repeat {rep}: {r['value']:.4g} {r['metric']}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face folder (bench-135m / bench-500m as tools/make-bench-model.ts writes them)")
    p.add_argument("--name", help="model label in the rows (default: the folder's name)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--preset", default="full")
    p.add_argument("--round", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out")
    p.add_argument("--deadline", type=float, default=float("inf"), help="seconds since the epoch after which no workload starts")
    p.add_argument("--device", default="auto", help="auto (cuda when present), cuda or cpu")
    p.add_argument("--no-warmup", action="store_true")
    args = p.parse_args()
    workloads = [w.strip() for w in args.workloads.split(",")]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        sys.exit(f"hf_peer: unknown workloads {unknown} (known: {', '.join(WORKLOADS)})")
    Peer(args).run(workloads)


if __name__ == "__main__":
    main()
