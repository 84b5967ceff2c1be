"""Greedy fp32 continuations (32 tokens) for the 20 held-out prompts -> heldout.json"""
import json, numpy as np
from qlib import *
from gen import decode
P = model_params(load_weights())
ids = json.load(open('heldout_prompt_ids.json'))
out = [decode(P, [p], 32, greedy=True)[0].tolist() for p in ids]
json.dump(out, open('heldout.json', 'w'))
print(sum(len(o) for o in out), 'positions')
