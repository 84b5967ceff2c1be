"""Data-free calibration: sample sequences from the fp32 model (KV-cached numpy decode).
Also used for greedy held-out continuations.  python3 gen.py -> calib_sampled.npy [64,128]"""
import numpy as np, sys, time
from qlib import *


def decode(P, prompts, steps, temp=1.0, top_p=0.95, greedy=False, seed=0):
    """prompts: list of equal-length token lists. returns [B, len+steps]."""
    rng = np.random.default_rng(seed)
    toks = np.array(prompts)
    B, T0 = toks.shape
    Tmax = T0 + steps
    cos_all, sin_all = rope(Tmax)
    kc = [np.zeros((B, NKV, Tmax, HD), np.float32) for _ in range(L)]
    vc = [np.zeros((B, NKV, Tmax, HD), np.float32) for _ in range(L)]
    out = toks
    cur = toks
    pos = 0
    rep = NH // NKV
    while True:
        T = cur.shape[1]
        h = P['embed'][cur]
        cos, sin = cos_all[pos:pos + T], sin_all[pos:pos + T]
        for i, l in enumerate(P['layers']):
            x = rms(h, l['ln1'])
            qkv = x @ l['qkv'].T
            q = qkv[..., :NH * HD].reshape(B, T, NH, HD).transpose(0, 2, 1, 3)
            k = qkv[..., NH * HD:(NH + NKV) * HD].reshape(B, T, NKV, HD).transpose(0, 2, 1, 3)
            v = qkv[..., (NH + NKV) * HD:].reshape(B, T, NKV, HD).transpose(0, 2, 1, 3)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            kc[i][:, :, pos:pos + T] = k
            vc[i][:, :, pos:pos + T] = v
            K_ = np.repeat(kc[i][:, :, :pos + T], rep, 1)
            V_ = np.repeat(vc[i][:, :, :pos + T], rep, 1)
            s = q @ K_.transpose(0, 1, 3, 2) / np.sqrt(HD)
            mask = np.triu(np.ones((T, pos + T), bool), pos + 1)
            s = np.where(mask, -np.inf, s)
            s -= s.max(-1, keepdims=True)
            p = np.exp(s); p /= p.sum(-1, keepdims=True)
            a = (p @ V_).transpose(0, 2, 1, 3).reshape(B, T, NH * HD)
            h = h + a @ l['o'].T
            x = rms(h, l['ln2'])
            h = h + mlp_act(x @ l['gu'].T) @ l['down'].T
        logits = rms(h[:, -1], P['norm']) @ P['lm_head'].T
        pos += T
        if out.shape[1] >= Tmax:
            return out
        if greedy:
            nxt = logits.argmax(-1)
        else:
            z = logits.astype(np.float64) / temp
            z -= z.max(-1, keepdims=True)
            pr = np.exp(z); pr /= pr.sum(-1, keepdims=True)
            nxt = np.empty(B, np.int64)
            for b in range(B):
                o = np.argsort(-pr[b]); c = np.cumsum(pr[b][o])
                keep = o[:np.searchsorted(c, top_p) + 1]
                pp = pr[b][keep] / pr[b][keep].sum()
                nxt[b] = rng.choice(keep, p=pp)
        cur = nxt[:, None]
        out = np.concatenate([out, cur], 1)


if __name__ == '__main__':
    P = model_params(load_weights())
    t = time.time()
    toks = decode(P, [[0]] * 64, 127, seed=1234)
    print('sampled', toks.shape, time.time() - t, 's')
    np.save('calib_sampled.npy', toks)
    # sanity: greedy decode reproduces the references
    seqs, refs = load_refs()
    r = refs[0]
    g = decode(P, [r['prompt_ids']], 32, greedy=True)
    print('greedy check', (g[0, len(r['prompt_ids']):] == np.array(r['greedy_ids'])).all())
