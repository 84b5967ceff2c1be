"""Core of the arbor-tiny quantization experiment: numpy Llama forward, RTN / diag-weighted RTN,
GPTQ, AWQ scaling, calibration collection. Single-threaded numpy (set OMP/OPENBLAS threads = 1)."""
import json, struct, os, time
import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(ROOT, '../../models/arbor-tiny')
CFG = json.load(open(os.path.join(MODEL, 'config.json')))
L, D, NH, NKV, HD = CFG['num_hidden_layers'], CFG['hidden_size'], CFG['num_attention_heads'], CFG['num_key_value_heads'], CFG['head_dim']
EPS = CFG['rms_norm_eps']
THETA = CFG['rope_parameters']['rope_theta']


def load_weights():
    p = os.path.join(MODEL, 'model.safetensors')
    with open(p, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        raw = f.read()
    out = {}
    for k, v in hdr.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        assert v['dtype'] == 'BF16'
        u16 = np.frombuffer(raw[a:b], dtype='<u2')
        out[k] = (u16.astype(np.uint32) << 16).view(np.float32).reshape(v['shape']).copy()
    return out


def model_params(sd):
    """Linears grouped as arbor quantizes them (q/k/v concatenated, gate/up concatenated)."""
    P = {'embed': sd['model.embed_tokens.weight'], 'norm': sd['model.norm.weight'].copy(),
         'lm_head': sd['model.embed_tokens.weight'].copy(), 'layers': []}
    for i in range(L):
        pre = f'model.layers.{i}.'
        P['layers'].append({
            'ln1': sd[pre + 'input_layernorm.weight'].copy(),
            'ln2': sd[pre + 'post_attention_layernorm.weight'].copy(),
            'qkv': np.concatenate([sd[pre + f'self_attn.{x}_proj.weight'] for x in 'qkv'], 0),
            'o': sd[pre + 'self_attn.o_proj.weight'].copy(),
            'gu': np.concatenate([sd[pre + 'mlp.gate_proj.weight'], sd[pre + 'mlp.up_proj.weight']], 0),
            'down': sd[pre + 'mlp.down_proj.weight'].copy(),
        })
    return P


def copy_params(P):
    return {'embed': P['embed'], 'norm': P['norm'].copy(), 'lm_head': P['lm_head'].copy(),
            'layers': [{k: v.copy() for k, v in l.items()} for l in P['layers']]}


def rms(x, w):
    return (x / np.sqrt(np.mean(x * x, -1, keepdims=True) + EPS)) * w


_rope_cache = {}


def rope(T):
    if T not in _rope_cache:
        inv = 1.0 / (THETA ** (np.arange(0, HD, 2, dtype=np.float32) / HD))
        fr = np.arange(T, dtype=np.float32)[:, None] * inv[None]
        emb = np.concatenate([fr, fr], -1)
        _rope_cache[T] = (np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32))
    return _rope_cache[T]


def apply_rope(x, cos, sin):  # x [B, H, T, HD]
    h = HD // 2
    rot = np.concatenate([-x[..., h:], x[..., :h]], -1)
    return x * cos + rot * sin


# ---- layer pieces on batches x [B, T, D] ----

def attn_in(l, h):
    return rms(h, l['ln1'])


def attn_core(qkv_out):
    """qkv_out [B,T,768] -> attention output (input of o_proj) [B,T,512]."""
    B, T, _ = qkv_out.shape
    q = qkv_out[..., :NH * HD].reshape(B, T, NH, HD).transpose(0, 2, 1, 3)
    k = qkv_out[..., NH * HD:(NH + NKV) * HD].reshape(B, T, NKV, HD).transpose(0, 2, 1, 3)
    v = qkv_out[..., (NH + NKV) * HD:].reshape(B, T, NKV, HD).transpose(0, 2, 1, 3)
    cos, sin = rope(T)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    rep = NH // NKV
    k = np.repeat(k, rep, axis=1)
    v = np.repeat(v, rep, axis=1)
    s = (q @ k.transpose(0, 1, 3, 2)) / np.sqrt(HD)
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    s = np.where(mask, -np.inf, s)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    o = p @ v  # [B,H,T,HD]
    return o.transpose(0, 2, 1, 3).reshape(B, T, NH * HD)


def mlp_act(gu_out):
    I = gu_out.shape[-1] // 2
    g, u = gu_out[..., :I], gu_out[..., I:]
    return g / (1 + np.exp(-g)) * u


ACTQ = [0]  # block size of simulated int8 activation quantization (MatMulNBits accuracy_level 4); 0 = off


def aq(x):
    bs = ACTQ[0]
    if not bs: return x
    sh = x.shape
    xg = x.reshape(*sh[:-1], sh[-1] // bs, bs)
    sc = np.abs(xg).max(-1, keepdims=True) / 127
    sc = np.where(sc > 0, sc, 1)
    return (np.round(xg / sc) * sc).reshape(sh).astype(np.float32)


def forward(P, tokens, collect=None):
    """tokens [B,T] int -> logits [B,T,V]. collect: dict name -> list of inputs (flattened [B*T, K])."""
    h = P['embed'][np.asarray(tokens)]
    for i, l in enumerate(P['layers']):
        x = attn_in(l, h)
        if collect is not None: collect.setdefault(f'{i}.qkv', []).append(x.reshape(-1, x.shape[-1]))
        a = attn_core(aq(x) @ l['qkv'].T)
        if collect is not None: collect.setdefault(f'{i}.o', []).append(a.reshape(-1, a.shape[-1]))
        h = h + aq(a) @ l['o'].T
        x = rms(h, l['ln2'])
        if collect is not None: collect.setdefault(f'{i}.gu', []).append(x.reshape(-1, x.shape[-1]))
        m = mlp_act(aq(x) @ l['gu'].T)
        if collect is not None: collect.setdefault(f'{i}.down', []).append(m.reshape(-1, m.shape[-1]))
        h = h + aq(m) @ l['down'].T
    x = rms(h, P['norm'])
    if collect is not None: collect.setdefault('lm_head', []).append(x.reshape(-1, x.shape[-1]))
    return aq(x) @ P['lm_head'].T


# ---- quantization ----

SHRINK = np.array([1, 0.95, 0.9, 0.85, 0.8, 0.75], dtype=np.float32)


def group_params(Wg, factors=SHRINK, hweight=None, zp_search=0, levels=15):
    """Wg [N, G, B] -> scale, zp [N, G] (4-bit asymmetric, range incl. 0), minimizing
    sum hweight * err^2 (hweight [G, B] or None = plain squared error) over factors and zp offsets."""
    lo = np.minimum(Wg.min(-1), 0)
    hi = np.maximum(Wg.max(-1), 0)
    best_err = np.full(lo.shape, np.inf, dtype=np.float64)
    best_s = np.ones(lo.shape, np.float32)
    best_z = np.full(lo.shape, 8.0, np.float32)
    for f in factors:
        scale = ((hi - lo) * f / levels).astype(np.float32)
        scale = np.where(scale > 0, scale, 1).astype(np.float32)
        z0 = np.clip(np.round(-lo * f / scale), 0, levels)
        for dz in range(-zp_search, zp_search + 1):
            z = np.clip(z0 + dz, 0, levels)
            q = np.clip(np.round(Wg / scale[..., None]) + z[..., None], 0, levels)
            d = (q - z[..., None]) * scale[..., None] - Wg
            e = (d * d) if hweight is None else (d * d) * hweight[None]
            e = e.sum(-1)
            better = e < best_err
            best_err = np.where(better, e, best_err)
            best_s = np.where(better, scale, best_s)
            best_z = np.where(better, z, best_z)
    return best_s, best_z


def qdq(w, scale, zp, levels=15):
    return (np.clip(np.round(w / scale) + zp, 0, levels) - zp) * scale


def rtn(W, bs=128, factors=SHRINK, hdiag=None, zp_search=0, levels=15):
    N, K = W.shape
    G = K // bs
    Wg = W.reshape(N, G, bs)
    hw = None if hdiag is None else hdiag.reshape(G, bs).astype(np.float32)
    s, z = group_params(Wg, factors, hw, zp_search, levels)
    return qdq(Wg, s[..., None], z[..., None], levels).reshape(N, K).astype(np.float32)


def gptq(W, H, bs=128, actorder=False, damp=0.01, factors=SHRINK, blocksize=128):
    """GPTQ with groups of bs contiguous K columns. actorder uses static groups (params from original W)."""
    W = W.astype(np.float64).copy()
    N, K = W.shape
    H = H.astype(np.float64).copy()
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    G = K // bs
    if actorder:
        s0, z0 = group_params(W.reshape(N, G, bs).astype(np.float32), factors)
        perm = np.argsort(-np.diag(H), kind='stable')
        W = W[:, perm]
        H = H[perm][:, perm]
    else:
        perm = np.arange(K)
    H[np.diag_indices(K)] += damp * np.mean(np.diag(H))
    Lc = np.linalg.cholesky(H)
    Linv = np.linalg.inv(Lc)
    Hinv = Linv.T @ Linv
    Hinv = np.linalg.cholesky(Hinv).T  # upper
    Q = np.zeros_like(W)
    scale = zp = None
    for i1 in range(0, K, blocksize):
        i2 = min(i1 + blocksize, K)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            c = i1 + i
            if actorder:
                g = perm[c] // bs
                scale, zp = s0[:, g], z0[:, g]
            elif c % bs == 0:
                # group starts at c; columns c..c+bs-1 of the updated W (in W1 when blocksize == bs)
                blk = np.concatenate([W1[:, i:], W[:, i2:c + bs]], 1) if c + bs > i2 else W1[:, i:i + bs]
                s, z = group_params(blk[:, None, :].astype(np.float32), factors)
                scale, zp = s[:, 0].astype(np.float64), z[:, 0].astype(np.float64)
            w = W1[:, i]
            q = qdq(w, scale, zp)
            Q[:, c] = q
            err = (w - q) / Hinv1[i, i]
            W1[:, i:] -= np.outer(err, Hinv1[i, i:])
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    if actorder:
        inv = np.argsort(perm)
        Q = Q[:, inv]
    return Q.astype(np.float32)


# ---- evaluation ----

def load_refs():
    d = json.load(open(os.path.join(MODEL, 'greedy-reference.json')))
    return [r['prompt_ids'] + r['greedy_ids'] for r in d['references']], d['references']


def argmaxes(P, seqs):
    return [forward(P, np.array([s]))[0].argmax(-1) for s in seqs]


def agreement(P, seqs, ref_am):
    am = argmaxes(P, seqs)
    hit = sum(int((a == b).sum()) for a, b in zip(am, ref_am))
    tot = sum(len(a) for a in ref_am)
    return hit, tot
