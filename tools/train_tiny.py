#!/usr/bin/env python3
"""Train arbor-tiny: a ~21M-parameter Llama (GQA) on the corpus made by tools/corpus.py.

    python3 tools/corpus.py --out .corpus                       # on any machine with apt-get
    python3 tools/train_tiny.py --corpus .corpus --out models/arbor-tiny --minutes 7   # on one GPU

Steps: train a byte-level BPE tokenizer (8192 tokens) on the train split; tokenize; train
LlamaForCausalLM with bf16 autocast, AdamW and a cosine schedule over a wall-clock budget
(--minutes), evaluating the val split every --eval-every seconds and keeping the best state;
save it in bfloat16 with save_pretrained; reload the saved folder and measure test perplexity;
write greedy-reference.json (transformers greedy ids on the SAVED weights, upcast to float32, CPU,
eager attention) and samples.json (sampled outputs for the model card); train_log.json has the
rest (steps, tokens, loss curve, timings, versions, hardware).
"""
import argparse
import json
import lzma
import math
import os
import platform
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

T0 = time.time()
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TF_MAJOR = int(transformers.__version__.split(".")[0])


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


def load_split(corpus, name, frac=1.0):
    docs = []
    with lzma.open(os.path.join(corpus, f"{name}.jsonl.xz"), "rt", encoding="utf-8") as f:
        for line in f:
            docs.append(json.loads(line))
    if frac < 1.0:
        docs = [d for i, d in enumerate(docs) if (i * 7919) % 1000 < frac * 1000]
    return docs


# --------------------------------------------------------------------------- tokenizer
def train_tokenizer(texts, vocab):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  max_token_length=24, show_progress=False)

    def it():
        for t in texts:  # special-token text must not shape the merges
            yield t.replace("<|im_start|>", "\n").replace("<|im_end|>", "\n")
    tok.train_from_iterator(it(), trainer=trainer, length=len(texts))
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i
    return tok


def save_tokenizer(tok, out):
    hf = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                              eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                              model_max_length=1024)
    hf.chat_template = CHAT_TEMPLATE
    hf.save_pretrained(out)
    p = os.path.join(out, "tokenizer_config.json")
    with open(p) as f:
        cfg = json.load(f)
    before = dict(cfg)
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"  # the name transformers 4 and 5 both know
    with open(p, "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    try:
        t2 = transformers.AutoTokenizer.from_pretrained(out)
        r = t2.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
        assert r == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", repr(r)
        assert t2("a<|im_end|>b", add_special_tokens=False)["input_ids"][1] == 2
    except Exception as e:
        log(f"tokenizer_config patch failed to reload ({e}); restoring transformers' own")
        before["chat_template"] = CHAT_TEMPLATE
        with open(p, "w") as f:
            json.dump(before, f, indent=2, ensure_ascii=False)
    return transformers.AutoTokenizer.from_pretrained(out)


def encode_docs(tok, docs, rng=None):
    texts = [d["text"] for d in docs]
    order = list(range(len(texts)))
    if rng is not None:
        rng.shuffle(order)
    encs = tok.encode_batch([texts[i] for i in order])
    out = []
    for e in encs:
        out.extend(e.ids)
        out.append(0)  # <|endoftext|> after every document
    return np.asarray(out, dtype=np.int32)


# --------------------------------------------------------------------------- eval
@torch.no_grad()
def evaluate(model, data, seq, batch, autocast=True):
    """Mean NLL over non-overlapping windows of `seq` tokens (every token but each window's first)."""
    model.eval()
    n = (len(data) - 1) // seq
    tot, cnt = 0.0, 0
    for i in range(0, n, batch):
        starts = torch.arange(i, min(n, i + batch), device=data.device) * seq
        idx = starts[:, None] + torch.arange(seq + 1, device=data.device)[None]
        s = data[idx].long()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=s[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), s[:, 1:].reshape(-1), reduction="sum")
        tot += loss.item()
        cnt += s[:, 1:].numel()
    model.train()
    return tot / max(cnt, 1), cnt


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=".corpus")
    ap.add_argument("--out", default="models/arbor-tiny")
    ap.add_argument("--minutes", type=float, default=7.0)
    ap.add_argument("--deadline", type=float, default=0, help="epoch seconds by which the script must end")
    ap.add_argument("--reserve", type=float, default=70, help="seconds kept after training for save/eval")
    ap.add_argument("--smoke", action="store_true", help="tiny end-to-end run to test the script")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=1408)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--eval-every", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    if args.smoke:
        args.minutes, args.warmup, args.eval_every = 0.1, 10, 3.0
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = "cuda"
    os.makedirs(args.out, exist_ok=True)

    frac = 0.03 if args.smoke else 1.0
    train_docs = load_split(args.corpus, "train", frac)
    val_docs = load_split(args.corpus, "val", 0.3 if args.smoke else 1.0)
    test_docs = load_split(args.corpus, "test", 0.3 if args.smoke else 1.0)
    log(f"docs train {len(train_docs)} val {len(val_docs)} test {len(test_docs)}")

    t = time.time()
    tok = train_tokenizer([d["text"] for d in train_docs], args.vocab)
    tok_secs = time.time() - t
    log(f"tokenizer trained in {tok_secs:.1f}s, vocab {tok.get_vocab_size()}")
    if not args.smoke:
        assert tok.get_vocab_size() == args.vocab, tok.get_vocab_size()
    hf_tok = save_tokenizer(tok, args.out)

    t = time.time()
    train = encode_docs(tok, train_docs, random.Random(args.seed))
    val = encode_docs(tok, val_docs)
    test = encode_docs(tok, test_docs)
    train_bytes = sum(len(d["text"].encode()) for d in train_docs)
    log(f"tokenized in {time.time() - t:.1f}s: train {len(train)} tokens "
        f"({train_bytes / len(train):.2f} bytes/token), val {len(val)}, test {len(test)}")
    train_t = torch.from_numpy(train).to(dev)
    val_t = torch.from_numpy(val).to(dev)

    cfg = transformers.LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        max_position_embeddings=1024, rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0, pad_token_id=0, initializer_range=0.02,
        **({"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}} if TF_MAJOR >= 5
           else {"rope_theta": 10000.0}),
    )
    model = transformers.LlamaForCausalLM(cfg)
    try:
        model.set_attn_implementation("sdpa")
    except Exception as e:
        log(f"set_attn_implementation: {e}")
    model = model.to(dev).train()
    log("attention implementation:", getattr(model.config, "_attn_implementation", "?"))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)

    train_start = time.time()
    train_end = train_start + args.minutes * 60
    if args.deadline:
        train_end = min(train_end, args.deadline - args.reserve)
    budget = max(train_end - train_start, 1.0)
    log(f"training budget {budget:.0f}s")

    L, B, N = args.seq, args.batch, len(train_t)
    ar = torch.arange(L + 1, device=dev)
    step, curve, best = 0, [], (float("inf"), None, 0)
    last_eval = time.time()
    tokens_seen = 0
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    while True:
        now = time.time()
        frac_t = min((now - train_start) / budget, 1.0)
        if step < args.warmup:
            lr = args.lr * (step + 1) / args.warmup
        else:
            lr = args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac_t)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, N - L - 1, (B,), device=dev, generator=gen)
        s = train_t[starts[:, None] + ar[None]].long()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=s[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), s[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += B * L
        done = time.time() >= train_end
        if step % 100 == 0 or done or time.time() - last_eval >= args.eval_every:
            tl = loss.item()
            el = time.time() - train_start
            entry = {"step": step, "time_s": round(el, 1), "lr": lr, "train_loss": round(tl, 4),
                     "tokens": tokens_seen}
            if time.time() - last_eval >= args.eval_every or done:
                vl, _ = evaluate(model, val_t, L, B)
                entry["val_loss"] = round(vl, 4)
                if vl < best[0]:
                    best = (vl, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
                last_eval = time.time()
            curve.append(entry)
            log(f"step {step} loss {tl:.3f} val {entry.get('val_loss', '-')} lr {lr:.2e} "
                f"{tokens_seen / el / 1e3:.0f}k tok/s epochs {tokens_seen / N:.2f}")
        if done:
            break
    train_secs = time.time() - train_start
    log(f"trained {step} steps in {train_secs:.0f}s; best val {best[0]:.4f} at step {best[2]}")
    model.load_state_dict(best[1])

    # ---- save in bfloat16
    model.generation_config = transformers.GenerationConfig(bos_token_id=0, eos_token_id=[0, 2], pad_token_id=0)
    model.to(torch.bfloat16).save_pretrained(args.out, safe_serialization=True)
    del model, best
    torch.cuda.empty_cache()
    log("saved", sorted(os.listdir(args.out)))

    # ---- perplexity of the saved (bf16-rounded) weights, computed in float32
    kw = {("dtype" if TF_MAJOR >= 5 else "torch_dtype"): torch.float32}
    m = transformers.LlamaForCausalLM.from_pretrained(args.out, attn_implementation="sdpa", **kw).to(dev)
    vl, vn = evaluate(m, val_t, L, B, autocast=False)
    tl, tn = evaluate(m, torch.from_numpy(test).to(dev), L, B, autocast=False)
    per_src = {}
    for src in sorted({d["src"] for d in test_docs}):
        ids = encode_docs(tok, [d for d in test_docs if d["src"] == src])
        if len(ids) > 2 * L:
            x, n = evaluate(m, torch.from_numpy(ids).to(dev), L, B, autocast=False)
            per_src[src] = {"ppl": round(math.exp(x), 3), "tokens": n}
    test_bytes = sum(len(d["text"].encode()) for d in test_docs)
    ppl = {"val_ppl": round(math.exp(vl), 3), "val_tokens": vn, "test_ppl": round(math.exp(tl), 3),
           "test_tokens": tn, "test_bits_per_byte": round(tl * len(test) / math.log(2) / test_bytes, 4),
           "test_ppl_by_source": per_src}
    log("perplexity", ppl)

    # ---- samples for the model card (GPU, float32, sampled)
    plain = ["The meaning of the word", "Once upon a time", "A wise man once said"]
    chats = [[{"role": "user", "content": "What does the word ocean mean?"}],
             [{"role": "user", "content": "Tell me a saying."}],
             [{"role": "user", "content": "Quote John 3:16."}]]
    samples = []
    for i, p in enumerate(plain + chats):
        text = p if isinstance(p, str) else hf_tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
        ids = hf_tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(dev)
        torch.manual_seed(1000 + i)
        out = m.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=0.8, top_p=0.95,
                         max_new_tokens=24 if args.smoke else 96)
        samples.append({"prompt": text, "settings": "do_sample, temperature 0.8, top_p 0.95, seed %d" % (1000 + i),
                        "output": hf_tok.decode(out[0, ids.shape[1]:], skip_special_tokens=False)})
    with open(os.path.join(args.out, "samples.json"), "w") as f:
        json.dump(samples, f, indent=1, ensure_ascii=False)
    del m

    # ---- greedy reference: saved weights upcast to float32, CPU, eager attention
    ref = transformers.LlamaForCausalLM.from_pretrained(args.out, attn_implementation="eager", **kw).eval()
    prompts = ["The meaning of the word", "In the beginning God created",
               hf_tok.apply_chat_template([{"role": "user", "content": "What does the word ocean mean?"}],
                                          tokenize=False, add_generation_prompt=True),
               hf_tok.apply_chat_template([{"role": "user", "content": "Tell me a saying."}],
                                          tokenize=False, add_generation_prompt=True)]
    refs = []
    with torch.no_grad():
        for p in prompts:
            ids = hf_tok(p, add_special_tokens=False)["input_ids"]
            out = ref(input_ids=torch.tensor([ids]), use_cache=True)
            past, cur, toks, gaps = out.past_key_values, out.logits[0, -1], [], []
            for k in range(32):
                top2 = torch.topk(cur, 2).values
                gaps.append(round(float(top2[0] - top2[1]), 5))
                t = int(torch.argmax(cur))
                toks.append(t)
                if k == 31:
                    break
                out = ref(input_ids=torch.tensor([[t]]), past_key_values=past, use_cache=True)
                past, cur = out.past_key_values, out.logits[0, -1]
            x = torch.tensor([ids])
            g = ref.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=32)
            g = g[0, len(ids):].tolist()
            consistent = g == toks[:len(g)]
            if not consistent:
                log(f"!!! generate() {g} differs from the cached greedy loop {toks}")
            refs.append({"prompt": p, "prompt_ids": ids, "greedy_ids": toks,
                         "greedy_text": hf_tok.decode(toks, skip_special_tokens=False),
                         "top2_gaps": gaps,
                         "generate_ids": g, "generate_text": hf_tok.decode(g, skip_special_tokens=False),
                         "generate_matches_greedy_prefix": consistent})
    with open(os.path.join(args.out, "greedy-reference.json"), "w") as f:
        json.dump({"model": "arbor-tiny",
                   "how": "transformers %s LlamaForCausalLM.from_pretrained(<this folder>, dtype=float32, "
                          "attn_implementation='eager') on CPU; greedy_ids: 32 argmax steps with "
                          "past_key_values, not stopping at eos; generate_ids: model.generate(do_sample=False, "
                          "max_new_tokens=32) with generation_config.json (stops at eos ids [0, 2]); "
                          "top2_gaps: top-1 minus top-2 logit at each greedy step" % transformers.__version__,
                   "references": refs}, f, indent=1, ensure_ascii=False)

    info = {
        "command": " ".join(sys.argv),
        "smoke": args.smoke,
        "args": vars(args),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "numpy": np.__version__},
        "hardware": torch.cuda.get_device_name(0),
        "num_parameters": n_params,
        "tokenizer_train_seconds": round(tok_secs, 1),
        "train_tokens_in_corpus": int(len(train)), "train_bytes": train_bytes,
        "steps": step, "train_seconds": round(train_secs, 1), "tokens_seen": tokens_seen,
        "epochs": round(tokens_seen / len(train), 2), "best_val_step": curve and min(
            (c for c in curve if "val_loss" in c), key=lambda c: c["val_loss"])["step"],
        **ppl,
        "curve": curve,
        "total_seconds": round(time.time() - T0, 1),
    }
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(info, f, indent=1)
    log("done", json.dumps({k: v for k, v in info.items() if k != "curve"}))


if __name__ == "__main__":
    main()
