"""Mixed precision (q8 for some linears) + timing of the stats pass / RTN / GPTQ separately. sampled-8k calibration."""
import numpy as np, json, time
from qlib import *
from experiment import *
P = model_params(load_weights())
seqs, _ = load_refs(); held = json.load(open('heldout.json'))
lp = lambda Q, S: [logsm(forward(Q, np.array([x]))[0]) for x in S]
R, Hh = lp(P, seqs), lp(P, held)
def ev(Q):
    out = []
    for ref, S in ((R, seqs), (Hh, held)):
        q = lp(Q, S); a = sum(int((x.argmax(-1) == y.argmax(-1)).sum()) for x, y in zip(q, ref)); n = sum(len(y) for y in ref)
        out.append(f'{a}/{n} = {100*a/n:.1f}% KL {np.mean(np.concatenate([kld(y, x) for x, y in zip(q, ref)])):.4f}')
    return '  refs ' + out[0] + '  held ' + out[1]
CS = calib_sets()
t = time.time(); st = onepass_stats(P, CS['sampled-8k']); print(f'stats pass (8k tokens, fwd + XtX) {time.time()-t:.1f}s')
names = [f'{i}.{k}' for i in range(L) for k in LIN] + ['lm_head']
W = {n: (P['lm_head'] if n == 'lm_head' else P['layers'][int(n.split('.')[0])][n.split('.')[1]]) for n in names}
t = time.time(); QR = {n: rtn(W[n]) for n in names}; print(f'RTN all linears {time.time()-t:.1f}s')
t = time.time(); QG = {n: gptq(W[n], st[n]['H'] / st[n]['n'], damp=0.1) for n in names}; print(f'GPTQ all linears {time.time()-t:.1f}s')
Q8 = {n: rtn(W[n], bs=32, levels=255) for n in names}
def assemble(pick):
    Q = copy_params(P)
    for n in names:
        w = pick(n)[n]
        if n == 'lm_head': Q['lm_head'] = w
        else: Q['layers'][int(n.split('.')[0])][n.split('.')[1]] = w
    return Q
for base_name, B in (('rtn', QR), ('gptq', QG)):
    print(f'{base_name} q4 + lm_head q8          ', ev(assemble(lambda n: Q8 if n == 'lm_head' else B)))
    print(f'{base_name} q4 MLP, q8 attn+lm_head  ', ev(assemble(lambda n: B if n.endswith(('gu', 'down')) else Q8)))
    print(f'{base_name} q4 MLP+lm_head, q8 attn  ', ev(assemble(lambda n: B if n.endswith(('gu', 'down')) or n == 'lm_head' else Q8)))
    print(f'{base_name} q4 all but down (q8)     ', ev(assemble(lambda n: Q8 if n.endswith('down') else B)))
