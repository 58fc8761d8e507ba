#!/usr/bin/env python3
"""gen-live-trace.py RATE SECONDS [SEED] - a synthetic Bailian-format trace for the live
benchmark: Poisson arrivals at RATE requests/s, short outputs (1-4 tokens), prompts of
64-640 tokens, 60% of them sharing one of 50 system prompts and a third continuing an
earlier conversation (so the server's cache works). Writes JSONL to stdout."""
import json, random, sys

rate, seconds = float(sys.argv[1]), float(sys.argv[2])
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
B = 16
next_id = 0
def fresh(n):
    global next_id
    ids = list(range(next_id, next_id + n)); next_id += n; return ids
systems = [fresh(rng.randint(2, 8)) for _ in range(50)]
recent = []
t, chat = 0.0, 0
out = sys.stdout
while True:
    t += rng.expovariate(rate)
    if t >= seconds:
        break
    if recent and rng.random() < 0.33:
        pid, pids, plen, turn = recent[rng.randrange(len(recent))]
        keep = pids[:-1] if plen % B else pids
        L = min(len(keep) * B + rng.randint(8, 160), 2000)
        ids = (keep + fresh(64))[: (L + B - 1) // B]
        parent, turn = pid, turn + 1
    else:
        L = rng.randint(64, 640)
        n = (L + B - 1) // B
        ids = (rng.choice(systems) + fresh(n))[:n] if rng.random() < 0.6 else fresh(n)
        parent, turn = -1, 1
    out.write(json.dumps({"chat_id": chat, "parent_chat_id": parent,
                          "timestamp": round(t, 3), "input_length": L,
                          "output_length": rng.randint(1, 4), "type": "text",
                          "turn": turn, "hash_ids": ids}, separators=(",", ":")) + "\n")
    recent.append((chat, ids, L, turn))
    if len(recent) > 2000:
        recent.pop(0)
    chat += 1
