#!/usr/bin/env python3
"""policy-reference.py - kvsim's eviction policies against independent textbook
implementations (LRU, FIFO, LFU, LFU-DA, SIEVE, ARC, S3-FIFO as published, evicting before
inserting) on random traces of one-block requests (no prefixes, so closure and tail-first
touch play no part), at every capacity 1..N. Prints mismatches; exit 1 if any.

usage: scripts/check/policy-reference.py [SEEDS] [KVSIM_BIN]   (defaults 20, bin/kvsim)
"""
import json, random, subprocess, sys, csv, io, math, os, tempfile
from collections import OrderedDict

def lru(tr, c):
    d = OrderedDict(); h = 0
    for x in tr:
        if x in d: h += 1; d.move_to_end(x)
        else:
            d[x] = 1
            if len(d) > c: d.popitem(last=False)
    return h

def fifo(tr, c):
    d = OrderedDict(); h = 0
    for x in tr:
        if x in d: h += 1
        else:
            d[x] = 1
            if len(d) > c: d.popitem(last=False)
    return h

def lfu(tr, c, aging=0):
    cnt = {}; last = {}; K = {}; L = 0; h = 0
    for t, x in enumerate(tr):
        if x in cnt: h += 1; cnt[x] += 1; K[x] = cnt[x] + aging * L; last[x] = t; continue
        if len(cnt) >= c:  # evict, then insert
            v = min(cnt, key=lambda y: (K[y], last[y]))
            L = K[v]; del cnt[v]; del K[v]
        cnt[x] = 1; K[x] = 1 + aging * L; last[x] = t
    return h

def sieve(tr, c):
    q = []  # oldest first
    vis = {}; hand = None; h = 0
    for x in tr:
        if x in vis: h += 1; vis[x] = 1; continue
        if len(q) == c:
            i = 0 if hand is None else hand
            while True:
                if i >= len(q): i = 0
                if vis[q[i]]: vis[q[i]] = 0; i += 1
                else: break
            del vis[q[i]]; del q[i]
            hand = i if i < len(q) else None  # next newer is now at index i
        q.append(x); vis[x] = 0
    return h

def arc(tr, c):
    T1, T2, B1, B2 = OrderedDict(), OrderedDict(), OrderedDict(), OrderedDict()
    p = 0.0; h = 0
    def replace(inb2):
        if len(T1) >= 1 and ((inb2 and len(T1) == p) or len(T1) > p):
            k, _ = T1.popitem(last=False); B1[k] = 1
        else:
            k, _ = T2.popitem(last=False); B2[k] = 1
    for x in tr:
        if x in T1: h += 1; del T1[x]; T2[x] = 1
        elif x in T2: h += 1; T2.move_to_end(x)
        elif x in B1:
            p = min(c, p + max(len(B2)/len(B1), 1)); replace(False); del B1[x]; T2[x] = 1
        elif x in B2:
            p = max(0, p - max(len(B1)/len(B2), 1)); replace(True); del B2[x]; T2[x] = 1
        else:
            l1 = len(T1) + len(B1); tot = l1 + len(T2) + len(B2)
            if l1 == c:
                if len(T1) < c: B1.popitem(last=False); replace(False)
                else: T1.popitem(last=False)
            elif l1 < c and tot >= c:
                if tot == 2 * c: B2.popitem(last=False)
                replace(False)
            T1[x] = 1
    return h

def s3fifo(tr, c, small=0.1, ghost=0.9, move=1):
    S, M, G = OrderedDict(), OrderedDict(), OrderedDict()
    f = {}; h = 0; gcap = math.ceil(ghost * c)
    def evict_m():
        while True:
            k = next(iter(M))
            if f[k] > 0: f[k] -= 1; M.move_to_end(k)
            else: del M[k]; del f[k]; return
    def evict():
        if len(S) >= small * c and len(S) > 0 or not M:
            while S:
                k = next(iter(S)); del S[k]
                if f[k] >= move: M[k] = 1; f[k] = 0
                else:
                    del f[k]
                    if gcap: G[k] = 1
                    if len(G) > gcap: G.popitem(last=False)
                    return
            evict_m()
        else: evict_m()
    for x in tr:
        if x in S or x in M: h += 1; f[x] = min(f[x] + 1, 3); continue
        ghost_hit = x in G
        if ghost_hit: del G[x]   # libCacheSim: the ghost is looked up (and removed) first
        if len(S) + len(M) >= c: evict()
        if ghost_hit: M[x] = 1
        else: S[x] = 1
        f[x] = 0
    return h

def kvsim(path, pols, caps):
    out = subprocess.run([BIN, "--policy", ",".join(pols), "--capacity",
                          ",".join(map(str, caps)), "--format", "csv", path],
                         capture_output=True, text=True, check=True).stdout
    return {(r["policy"], int(r["capacity_blocks"])): int(r["hit_blocks"]) for r in csv.DictReader(io.StringIO(out))}

refs = {"lru": lru, "fifo": fifo, "lfu": lfu, "lfu:aging=1": lambda t, c: lfu(t, c, 1),
        "sieve": sieve, "arc": arc, "s3fifo": s3fifo,
        "s3fifo:move=2": lambda t, c: s3fifo(t, c, move=2),
        "s3fifo:small=0.3,ghost=0.5": lambda t, c: s3fifo(t, c, 0.3, 0.5)}
BIN = sys.argv[2] if len(sys.argv) > 2 else "bin/kvsim"
TMP = tempfile.mkdtemp()
bad = 0
for seed in range(int(sys.argv[1]) if len(sys.argv) > 1 else 20):
    rnd = random.Random(seed)
    n = rnd.choice([8, 15, 30])
    w = [1 / (i + 1) ** rnd.choice([0.6, 1.0, 1.4]) for i in range(n)]
    tr = rnd.choices(range(1, n + 1), w, k=300)
    path = os.path.join(TMP, f"t{seed}.jsonl")
    with open(path, "w") as fh:
        for i, x in enumerate(tr):
            fh.write(json.dumps({"timestamp": i, "input_length": 16, "output_length": 1, "hash_ids": [x]}) + "\n")
    caps = list(range(1, n + 1))
    got = kvsim(path, list(refs), caps)
    for name, fn in refs.items():
        for cp in caps:
            want = fn(tr, cp)
            if got[(name, cp)] != want:
                bad += 1
                if bad < 15: print(f"seed {seed} {name} cap {cp}: kvsim {got[(name, cp)]} ref {want}")
    os.unlink(path)
os.rmdir(TMP)
print("mismatches", bad)
sys.exit(1 if bad else 0)
