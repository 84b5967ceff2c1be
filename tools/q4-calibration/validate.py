import numpy as np, time
from qlib import *
sd = load_weights(); P = model_params(sd)
seqs, refs = load_refs()
t=time.time()
for s, r in zip(seqs, refs):
    lg = forward(P, np.array([s]))[0]
    np_ = len(r['prompt_ids'])
    am = lg.argmax(-1)[np_-1:-1]
    top2 = np.sort(lg[np_-1:-1], -1)
    gaps = top2[:, -1] - top2[:, -2]
    print((am == np.array(r['greedy_ids'])).mean(), np.abs(gaps - np.array(r['top2_gaps'])).max())
print('fwd time', time.time()-t)
ref_am = argmaxes(P, seqs)
Q = copy_params(P)
for l in Q['layers']:
    for k in ['qkv','o','gu','down']: l[k] = rtn(l[k])
Q['lm_head'] = rtn(Q['lm_head'])
print('RTN128', agreement(Q, seqs, ref_am))
Q = copy_params(P)
for l in Q['layers']:
    for k in ['qkv','o','gu','down']: l[k] = rtn(l[k], bs=32)
Q['lm_head'] = rtn(Q['lm_head'], bs=32)
print('RTN32', agreement(Q, seqs, ref_am))
import qlib
for bs in [128, 32]:
    qlib.ACTQ[0] = bs
    Q = copy_params(P)
    for l in Q['layers']:
        for k in ['qkv','o','gu','down']: l[k] = rtn(l[k], bs=bs)
    Q['lm_head'] = rtn(Q['lm_head'], bs=bs)
    print('RTN+actq', bs, agreement(Q, seqs, ref_am))
