"""Quantization variants x calibration sets on arbor-tiny; top-1 agreement vs fp32.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 19 python3 experiment.py [variants...]"""
import json, sys, time
import numpy as np
import qlib
from qlib import *

LIN = ['qkv', 'o', 'gu', 'down']
FINE = np.linspace(1.0, 0.5, 20).astype(np.float32)


def new_stat(K):
    return {'H': np.zeros((K, K)), 'n': 0, 'abs': np.zeros(K), 'sq': np.zeros(K)}


def add_stat(st, X):
    X = X.reshape(-1, X.shape[-1]).astype(np.float64)
    st['H'] += X.T @ X
    st['n'] += X.shape[0]
    st['abs'] += np.abs(X).sum(0)
    st['sq'] += (X * X).sum(0)


def onepass_stats(P, calib, chunk=8):
    stats = {}
    for b in range(0, len(calib), chunk):
        col = {}
        forward(P, calib[b:b + chunk], collect=col)
        for k, xs in col.items():
            for x in xs:
                if k not in stats: stats[k] = new_stat(x.shape[-1])
                add_stat(stats[k], x)
    return stats


def quantizer(kind):
    damp = 0.01
    if '@' in kind: kind, damp = kind.split('@'); damp = float(damp)

    def q(W, st):
        if kind == 'rtn': return rtn(W)
        if kind == 'q8': return rtn(W, bs=32, levels=255)
        if kind == 'rtn32': return rtn(W, bs=32)
        if kind == 'gptq32': return gptq(W, st['H'] / st['n'], bs=32, damp=damp)
        if kind == 'rtn_fine': return rtn(W, factors=FINE, zp_search=1)
        if kind == 'diag': return rtn(W, hdiag=st['sq'] / st['n'])
        if kind == 'diag_fine': return rtn(W, factors=FINE, hdiag=st['sq'] / st['n'], zp_search=1)
        if kind == 'gptq': return gptq(W, st['H'] / st['n'], damp=damp)
        if kind == 'gptq_act': return gptq(W, st['H'] / st['n'], actorder=True, damp=damp)
        raise ValueError(kind)
    return q


def quant_onepass(P, calib, qfn):
    stats = onepass_stats(P, calib) if calib is not None else {}
    Q = copy_params(P)
    for i, l in enumerate(Q['layers']):
        for k in LIN: l[k] = qfn(l[k], stats.get(f'{i}.{k}'))
    Q['lm_head'] = qfn(Q['lm_head'], stats.get('lm_head'))
    return Q


def quant_sequential(P, calib, qfn, chunk=16):
    """Each linear's statistics come from the model with everything before it already quantized."""
    Q = copy_params(P)
    h = P['embed'][calib]  # [B,T,D]

    def stat(X):
        st = new_stat(X.shape[-1])
        for b in range(0, len(X), chunk): add_stat(st, X[b:b + chunk])
        return st
    for l in Q['layers']:
        x = rms(h, l['ln1']); l['qkv'] = qfn(l['qkv'], stat(x))
        a = np.concatenate([attn_core(x[b:b + chunk] @ l['qkv'].T) for b in range(0, len(x), chunk)])
        l['o'] = qfn(l['o'], stat(a))
        h = h + a @ l['o'].T
        x = rms(h, l['ln2']); l['gu'] = qfn(l['gu'], stat(x))
        m = mlp_act(x @ l['gu'].T); l['down'] = qfn(l['down'], stat(m))
        h = h + m @ l['down'].T
    x = rms(h, Q['norm']); Q['lm_head'] = qfn(Q['lm_head'], stat(x))
    return Q


def out_err(W, Wq, H):
    d = (W - Wq).astype(np.float64)
    return float(np.sum((d @ H) * d))


def awq_transform(P, calib, fold_o=True, grid=np.arange(0, 1.01, 0.1), log=None):
    """Returns an fp-equivalent model with AWQ scales folded in (alpha per linear by RTN output error)."""
    stats = onepass_stats(P, calib)
    A = copy_params(P)
    rep = NH // NKV

    def best_s(W, st, tie=None):
        H = st['H'] / st['n']; a = st['abs'] / st['n']
        a = np.maximum(a, 1e-8)
        if tie is not None: a = tie(a)
        best = (np.inf, None, None)
        for al in grid:
            s = a ** al
            s = s / np.sqrt(s.max() * s.min())
            Wq = rtn((W * s[None]).astype(np.float32)) / s[None]
            e = out_err(W, Wq, H)
            if e < best[0]: best = (e, al, s)
        return best[1], best[2].astype(np.float32)
    alphas = {}
    for i, l in enumerate(A['layers']):
        # down_proj: inputs / s folded into up rows
        al, s = best_s(l['down'], stats[f'{i}.down'])
        I = l['gu'].shape[0] // 2
        l['gu'][I:] /= s[:, None]; l['down'] = l['down'] * s[None]; alphas[f'{i}.down'] = al
        # gate/up: folded into post_attention_layernorm
        al, s = best_s(l['gu'], stats[f'{i}.gu'])
        l['ln2'] = l['ln2'] / s; l['gu'] = l['gu'] * s[None]; alphas[f'{i}.gu'] = al
        if fold_o:  # o_proj: scale per (kv head, dim), shared by the q heads of the group; folded into v rows
            tie = lambda a: np.tile(a.reshape(NKV, rep, HD).mean(1, keepdims=True), (1, rep, 1)).reshape(-1)
            al, s = best_s(l['o'], stats[f'{i}.o'], tie)
            skv = s.reshape(NKV, rep, HD)[:, 0].reshape(-1)
            l['qkv'][(NH + NKV) * HD:] /= skv[:, None]; l['o'] = l['o'] * s[None]; alphas[f'{i}.o'] = al
        al, s = best_s(l['qkv'], stats[f'{i}.qkv'])
        l['ln1'] = l['ln1'] / s; l['qkv'] = l['qkv'] * s[None]; alphas[f'{i}.qkv'] = al
    al, s = best_s(A['lm_head'], stats['lm_head'])
    A['norm'] = A['norm'] / s; A['lm_head'] = A['lm_head'] * s[None]; alphas['lm_head'] = al
    if log is not None: log['alphas'] = alphas
    return A


def logsm(z):
    z = z.astype(np.float64); z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def kld(p, q):  # KL(fp32 || quant) per position, from log-probs
    return (np.exp(p) * (p - q)).sum(-1)


def calib_sets():
    samp = np.load('calib_sampled.npy')
    prose = np.array(json.load(open('prose_ids.json'))[0])
    pr = prose[:len(prose) // 128 * 128].reshape(-1, 128)
    return {
        'sampled-512': samp[:4], 'sampled-1k': samp[:8], 'sampled-2k': samp[:16],
        'sampled-4k': samp[:32], 'sampled-8k': samp[:64], 'prose-1.3k': pr,
    }


def build(P, variant, calib):
    """variant: '<awq?>+<quantizer>+<onepass|seq>'"""
    parts = variant.split('+')
    base = P
    if parts[0] == 'awq':
        base = awq_transform(P, calib); parts = parts[1:]
    kind = parts[0]
    mode = parts[1] if len(parts) > 1 else 'onepass'
    qfn = quantizer(kind)
    return (quant_sequential if mode == 'seq' else quant_onepass)(base, calib, qfn)


if __name__ == '__main__':
    P = model_params(load_weights())
    seqs, _ = load_refs()
    held = json.load(open('heldout.json'))
    lp = lambda Q, S: [logsm(forward(Q, np.array([x]))[0]) for x in S]
    ref_lp, held_lp = lp(P, seqs), lp(P, held)
    ref_am = [x.argmax(-1) for x in ref_lp]; held_am = [x.argmax(-1) for x in held_lp]
    variants = sys.argv[1].split(',')
    cals = sys.argv[2].split(',')
    do_held = len(sys.argv) > 3 and sys.argv[3] == 'held'
    CS = calib_sets()
    for v in variants:
        for c in cals:
            t = time.time()
            Q = build(P, v, CS[c])
            dt = time.time() - t
            qr = lp(Q, seqs)
            a = sum(int((x.argmax(-1) == y).sum()) for x, y in zip(qr, ref_am)); n = sum(len(y) for y in ref_am)
            kl = np.mean(np.concatenate([kld(x, y) for x, y in zip(ref_lp, qr)]))
            msg = f'{v:24s} {c:12s} {a}/{n} = {100 * a / n:.1f}% KL {kl:.4f}  quant {dt:.1f}s'
            if do_held:
                qh = lp(Q, held)
                ha = sum(int((x.argmax(-1) == y).sum()) for x, y in zip(qh, held_am)); hn = sum(len(y) for y in held_am)
                hkl = np.mean(np.concatenate([kld(x, y) for x, y in zip(held_lp, qh)]))
                msg += f'  held-out {ha}/{hn} = {100 * ha / hn:.1f}% KL {hkl:.4f}'
            print(msg, flush=True)
