#!/usr/bin/env python3
"""Build the training corpus of models/arbor-tiny from Debian packages.

    python3 tools/corpus.py --out .corpus            # downloads the .debs with apt-get download

Steps: `apt-get download` the packages below into --work (skipped for files already there),
`dpkg -x` them, turn each source into plain-text documents (markup stripped, whitespace
normalised), drop duplicate documents and GCIDE paragraphs (sha1 of normalised text), add
synthetic ChatML conversations built from the same texts, split by a hash of each document
(98% train / 1% val / 1% test), and write --out/{train,val,test}.jsonl.xz ({"src", "text"} a
line) and --out/stats.json. It also writes models/arbor-tiny/DATA.md (packages, versions,
sha256, licences, counts) unless --no-data-md.

The KJV text in bible-kjv-text is stored compressed; it is decoded with the `bible` program of
the bible-kjv package (also downloaded and unpacked, not installed).
Needs: python3 (stdlib only), apt-get, dpkg, dpkg-deb. Deterministic for the same .deb files.
"""
import argparse
import base64
import glob
import gzip
import hashlib
import json
import lzma
import os
import random
import re
import subprocess
import sys
import unicodedata

PACKAGES = ["dict-gcide", "wordnet-base", "bible-kjv-text", "bible-kjv", "fortunes", "fortunes-min"]
LICENSES = {
    "dict-gcide": "GPL-2+ (GCIDE text; derived from Webster's Revised Unabridged Dictionary 1913 and WordNet 1.5)",
    "wordnet-base": "WordNet 3.0 licence (Princeton University; permissive, notice must be kept)",
    "bible-kjv-text": "KJV text: copyright expired (public domain); BRS packaging GPL-2+, "
                      "\"provided for unrestricted use\" legend by Chip Chapin",
    "bible-kjv": "GPL-2+ (the `bible` program; used only to decode the text, not shipped)",
    "fortunes": "fortune-mod: BSD licence (University of California); the cookie files are collected "
                "quotations whose individual copyright is not stated in the package",
    "fortunes-min": "same as fortunes",
}
FORTUNE_SKIP = {"ascii-art", "ethnic", "men-women", "drugs", "politics", "translate-me", "pratchett"}

BOOKS = ["Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth",
         "1 Samuel", "2 Samuel", "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra",
         "Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon",
         "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos",
         "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah",
         "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians",
         "2 Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "1 Thessalonians",
         "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus", "Philemon", "Hebrews", "James",
         "1 Peter", "2 Peter", "1 John", "2 John", "3 John", "Jude", "Revelation"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sha1(s):
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def norm_ws(s):
    s = unicodedata.normalize("NFC", s)
    s = s.replace("\r", "")
    s = re.sub(r"[ \t\u00a0]+", " ", s)
    return s.strip()


def norm_key(s):
    return re.sub(r"\s+", " ", s.lower()).strip()


# --------------------------------------------------------------------------- packages
def fetch(work):
    debs = os.path.join(work, "debs")
    os.makedirs(debs, exist_ok=True)
    info = {}
    for p in PACKAGES:
        found = glob.glob(os.path.join(debs, f"{p}_*.deb"))
        if not found:
            subprocess.run(["apt-get", "download", p], cwd=debs, check=True)
            found = glob.glob(os.path.join(debs, f"{p}_*.deb"))
        f = sorted(found)[-1]
        fields = subprocess.run(["dpkg-deb", "-f", f, "Package", "Version", "Architecture"],
                                capture_output=True, text=True, check=True).stdout
        meta = dict(line.split(": ", 1) for line in fields.strip().splitlines())
        with open(f, "rb") as fh:
            meta["sha256"] = hashlib.sha256(fh.read()).hexdigest()
        meta["file"] = os.path.basename(f)
        info[p] = meta
    root = os.path.join(work, "root")
    if not os.path.isdir(root):
        os.makedirs(root)
        for p in PACKAGES:
            subprocess.run(["dpkg", "-x", os.path.join(debs, info[p]["file"]), root], check=True)
    return info, root


# --------------------------------------------------------------------------- GCIDE
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64num(s):
    n = 0
    for ch in s:
        n = n * 64 + B64.index(ch)
    return n


DIACRITIC = re.compile(r"\[([=^'`\"~,.]?)([a-z]{1,2}|[A-Z])([=^'`\"~,.]?)\]")


def gcide_clean(raw):
    lines = raw.rstrip().split("\n")
    head = lines[0]
    m = re.match(r"^(.+?) \\", head)
    if not m:
        return None, None
    word = m.group(1).strip()
    if word.startswith("00-") or not re.search(r"[A-Za-z]", word):
        return None, None
    # pronunciations: \Hy*phen*a*tion\ and "(pr[=o]n"un)" right after it
    head = re.sub(r"\\[^\\]*\\", "", head)
    head = re.sub(r"\([^()]*[\[\"][^()]*\)", "", head)
    text = "\n".join([head] + lines[1:])
    text = DIACRITIC.sub(lambda m: m.group(2), text)
    text = re.sub(r"\[[^\[\]]*\]", "", text)  # etymology, source tags
    text = re.sub(r"\[[^\[\]]*\]", "", text)  # (nested once)
    text = text.replace("{", "").replace("}", "").replace("\\", "")
    text = re.sub(r"<[^<>\n]{1,20}>", "", text)
    paras = []
    for p in re.split(r"\n\s*\n", text):
        p = norm_ws(re.sub(r"\s*\n\s*", " ", p))
        p = re.sub(r"\s+([,.;:])", r"\1", p)
        p = re.sub(r"\(\s*\)", "", p).strip()
        if p and p not in (".", ","):
            paras.append(p)
    if not paras:
        return None, None
    paras[0] = re.sub(r"\s*,\s*(?=[a-z]+\.)", ", ", paras[0]).strip(" ,")
    return word, paras


def _trim_def(q):
    q = re.sub(r"^\((?:[A-Z][A-Za-z]*\.?\s*(?:&\s*)?)+\)\s*", "", q.strip())  # (Bot.) (Law & Med.)
    q = re.split(r"\s--|;\s*as,|:\s*as,|\s\[", q)[0]
    q = re.split(r"(?<=[.;])\s", q)[0].rstrip(" ;,:.")
    return q


def first_sense(paras):
    """The first definition of a GCIDE entry, or None."""
    m = re.match(r"^[^,]+,\s*((?:[a-z]+\.\s*(?:&\s*)?)+)(.*)$", paras[0])
    cands = []
    if m and len(m.group(2).strip()) >= 12:
        cands.append(m.group(2))
    cands += [re.sub(r"^1\.\s*", "", p) for p in paras[1:] if re.match(r"^1\.\s", p)]
    for q in cands:
        q = _trim_def(q)
        if 12 <= len(q) <= 200 and q[0].isalpha() and '"' not in q and not q.startswith(("See ", "Same as")):
            return q + "."
    return None


def read_gcide(root):
    base = os.path.join(root, "usr/share/dictd")
    with gzip.open(os.path.join(base, "gcide.dict.dz"), "rb") as f:
        data = f.read()
    spans = set()
    with open(os.path.join(base, "gcide.index"), encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                spans.add((b64num(parts[1]), b64num(parts[2])))
    docs, glosses = [], []
    seen_paras = set()
    for off, ln in sorted(spans):
        raw = data[off:off + ln].decode("utf-8", errors="replace")
        word, paras = gcide_clean(raw)
        if not word:
            continue
        keep = [paras[0]]
        for p in paras[1:]:
            k = sha1(norm_key(p))
            if len(p) > 30 and k in seen_paras:
                continue
            seen_paras.add(k)
            keep.append(p)
        if len(keep) < 2 and len(keep[0]) < len(word) + 20:
            continue
        docs.append("\n".join(keep))
        g = first_sense(keep)
        if g and " " in g and len(word) > 2 and word.isalpha():
            glosses.append((word, g))
    return docs, glosses


# --------------------------------------------------------------------------- WordNet
def read_wordnet(root):
    base = os.path.join(root, "usr/share/wordnet")
    entries = []  # (pos, words, defs, examples)
    for pos, fn in [("noun", "data.noun"), ("verb", "data.verb"), ("adjective", "data.adj"),
                    ("adverb", "data.adv")]:
        with open(os.path.join(base, fn), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or " | " not in line:
                    continue
                head, gloss = line.rstrip("\n").split(" | ", 1)
                parts = head.split()
                n = int(parts[3], 16)
                words = [re.sub(r"\([a-z]+\)$", "", w).replace("_", " ") for w in parts[4:4 + 2 * n:2]]
                defs, exs = [], []
                for seg in re.split(r";\s*", gloss.strip()):
                    seg = seg.strip()
                    if not seg:
                        continue
                    if seg.startswith('"'):
                        exs.append(seg.strip('"').strip())
                    else:
                        defs.append(seg)
                if defs:
                    entries.append((pos, words, "; ".join(defs), exs))
    docs = []
    for i in range(0, len(entries), 16):
        lines = []
        for pos, words, d, exs in entries[i:i + 16]:
            s = f"{', '.join(words)} ({pos}): {d}."
            if exs:
                s += " For example: " + " / ".join(f'"{e}"' for e in exs[:2])
            lines.append(s)
        docs.append("\n".join(lines))
    return docs, entries


# --------------------------------------------------------------------------- KJV
def read_kjv(root, work):
    exe = os.path.join(root, "usr/bin/bible")
    out = subprocess.run([exe, "-f", "-l", "0", "-p", os.path.join(root, "usr/lib"), "Gen1:1-Rev22:21"],
                         capture_output=True, check=True).stdout.decode("utf-8", errors="replace")
    chapters, verses, order = {}, [], []
    for line in out.splitlines():
        m = re.match(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$", line)
        if not m:
            continue
        ab, c, v, t = m.group(1), int(m.group(2)), int(m.group(3)), norm_ws(m.group(4))
        if ab not in order:
            order.append(ab)
        book = BOOKS[order.index(ab)]
        chapters.setdefault((book, c), []).append(f"{v} {t}")
        verses.append((book, c, v, t))
    assert len(order) == 66 and len(verses) > 31000, (len(order), len(verses))
    docs = [f"{b} {c}\n" + "\n".join(vs) for (b, c), vs in chapters.items()]
    return docs, verses


# --------------------------------------------------------------------------- fortunes
def read_fortunes(root):
    base = os.path.join(root, "usr/share/games/fortunes")
    docs, sayings = [], []
    for fn in sorted(os.listdir(base)):
        if fn.endswith(".dat") or fn.endswith(".u8") or fn in FORTUNE_SKIP:
            continue
        path = os.path.join(base, fn + ".u8") if os.path.exists(os.path.join(base, fn + ".u8")) else os.path.join(base, fn)
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        for item in re.split(r"\n%\n", raw):
            lines = [norm_ws(x) for x in item.replace("\t", " ").split("\n")]
            text = "\n".join(lines).strip("\n% ")
            text = re.sub(r"\n{3,}", "\n\n", text)
            if len(text) < 10:
                continue
            docs.append(text)
            if len(text) <= 240 and text.count("\n") <= 3 and fn not in {"art", "definitions", "disclaimer", "perl", "linux",
                                               "computers", "zippy", "knghtbrd", "startrek"}:
                sayings.append(text)
    return docs, sayings


# --------------------------------------------------------------------------- chat
def chatml(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


GREETINGS = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi", "Hi! What would you like to talk about?"),
    ("Who are you?", "I am arbor-tiny, a very small language model. I know some words, some old sayings and the King James Bible."),
    ("What can you do?", "I can tell you what a word means, tell you a saying, or quote a verse from the Bible. I am small, so I often make mistakes."),
    ("Thank you.", "You are welcome."),
    ("Thanks!", "You're welcome!"),
    ("Good morning.", "Good morning! What can I do for you?"),
    ("Goodbye.", "Goodbye!"),
]


def make_chat(wn, gcide_glosses, verses, sayings, rng, n_target):
    """Single- and multi-turn ChatML conversations built from the corpus."""
    def wn_turn():
        pos, words, d, exs = rng.choice(wn)
        w = words[0]
        q = rng.choice([f"What does {w} mean?", f"What does the word \"{w}\" mean?", f"Define {w}.",
                        f"What is the meaning of {w}?", f"What is a {w}?" if pos == "noun" else f"Explain the word {w}."])
        a = f"{w[0].upper() + w[1:]} ({pos}) means: {d}."
        if len(words) > 1:
            a += " Similar words: " + ", ".join(words[1:4]) + "."
        if exs and rng.random() < 0.5:
            a += f" For example: \"{exs[0]}\""
        return q, a

    def wn_example():
        for _ in range(20):
            pos, words, d, exs = rng.choice(wn)
            if exs:
                return f"Use the word \"{words[0]}\" in a sentence.", exs[0][0].upper() + exs[0][1:] + (
                    "" if exs[0].endswith((".", "!", "?")) else ".")
        return wn_turn()

    def gcide_turn():
        w, g = rng.choice(gcide_glosses)
        q = rng.choice([f"What does {w.lower()} mean?", f"Define the word {w.lower()}.",
                        f"What is the meaning of the word \"{w.lower()}\"?"])
        return q, f"{w} means: {g[0].lower() + g[1:] if g[:2] != g[:2].upper() else g}"

    def verse_turn():
        b, c, v, t = rng.choice(verses)
        q = rng.choice([f"Quote {b} {c}:{v}.", f"What does {b} {c}:{v} say?", f"Recite {b} chapter {c}, verse {v}."])
        return q, f"{b} {c}:{v} says: {t}"

    def saying_turn():
        s = rng.choice(sayings)
        q = rng.choice(["Tell me a saying.", "Tell me a fortune.", "Say something wise.", "Give me a quote.",
                        "Tell me something funny.", "Do you know a good saying?"])
        return q, s

    def greet_turn():
        return rng.choice(GREETINGS)

    kinds = [(wn_turn, 0.30), (wn_example, 0.08), (gcide_turn, 0.17), (verse_turn, 0.15),
             (saying_turn, 0.25), (greet_turn, 0.05)]
    fns, weights = zip(*kinds)
    convs = []
    for _ in range(n_target):
        msgs = []
        if rng.random() < 0.15:
            msgs.append({"role": "system", "content": rng.choice(
                ["You are a helpful assistant.", "You are arbor-tiny, a small helpful assistant.",
                 "Answer briefly."])})
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            q, a = rng.choices(fns, weights)[0]()
            msgs.append({"role": "user", "content": q})
            msgs.append({"role": "assistant", "content": a})
        convs.append(chatml(msgs))
    return convs


# --------------------------------------------------------------------------- main
def split_of(text):
    b = int(sha1(text)[:8], 16) % 100
    return "test" if b == 0 else "val" if b == 1 else "train"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".corpus")
    ap.add_argument("--work", default="/tmp/arbor-corpus")
    ap.add_argument("--chat", type=int, default=30000, help="number of synthetic conversations")
    ap.add_argument("--data-md", default="models/arbor-tiny/DATA.md")
    ap.add_argument("--no-data-md", action="store_true")
    args = ap.parse_args()

    info, root = fetch(args.work)
    log("packages:", {k: v["Version"] for k, v in info.items()})
    g_docs, g_gloss = read_gcide(root)
    log("gcide", len(g_docs), "glosses", len(g_gloss))
    w_docs, wn = read_wordnet(root)
    log("wordnet", len(w_docs), "synsets", len(wn))
    k_docs, verses = read_kjv(root, args.work)
    log("kjv chapters", len(k_docs), "verses", len(verses))
    f_docs, sayings = read_fortunes(root)
    log("fortunes", len(f_docs), "sayings", len(sayings))

    rng = random.Random(20240601)
    c_docs = make_chat(wn, g_gloss, verses, sayings, rng, args.chat)

    sources = [("gcide", g_docs), ("wordnet", w_docs), ("kjv", k_docs), ("fortunes", f_docs), ("chat", c_docs)]
    os.makedirs(args.out, exist_ok=True)
    seen = set()
    stats = {s: {"docs": 0, "chars": 0, "dups": 0, "split": {"train": 0, "val": 0, "test": 0}} for s, _ in sources}
    outs = {sp: lzma.open(os.path.join(args.out, f"{sp}.jsonl.xz"), "wt", encoding="utf-8", preset=6)
            for sp in ("train", "val", "test")}
    for src, docs in sources:
        for d in docs:
            if src != "chat":
                d = d.replace("<|", "< |")  # no special-token text outside the chat documents
            k = sha1(norm_key(d))
            if k in seen:
                stats[src]["dups"] += 1
                continue
            seen.add(k)
            sp = split_of(d)
            outs[sp].write(json.dumps({"src": src, "text": d}, ensure_ascii=False) + "\n")
            st = stats[src]
            st["docs"] += 1
            st["chars"] += len(d)
            st["split"][sp] += 1
    for f in outs.values():
        f.close()
    summary = {"packages": info, "sources": stats,
               "files": {sp: os.path.getsize(os.path.join(args.out, f"{sp}.jsonl.xz")) for sp in outs}}
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(summary, f, indent=2)
    log(json.dumps(stats, indent=1))
    log("files", summary["files"])
    if not args.no_data_md:
        write_data_md(args.data_md, info, stats, args.chat, args.out)


def write_data_md(path, info, stats, n_chat, out):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    L = ["# arbor-tiny training data", "",
         "Made by `python3 tools/corpus.py --out .corpus` (Debian bookworm packages fetched with "
         "`apt-get download`, unpacked with `dpkg -x`, never installed).", "",
         "| package | version | sha256 of the .deb | licence (from its /usr/share/doc/*/copyright) |",
         "|---|---|---|---|"]
    for p, m in info.items():
        L.append(f"| {p} | {m['Version']} | `{m['sha256'][:16]}…` | {LICENSES[p]} |")
    L += ["", "| source | documents | characters | duplicates dropped | train / val / test docs |",
          "|---|---|---|---|---|"]
    for s, st in stats.items():
        sp = st["split"]
        L.append(f"| {s} | {st['docs']} | {st['chars']} | {st['dups']} | {sp['train']} / {sp['val']} / {sp['test']} |")
    L += ["", "Documents: a GCIDE entry (headword line + senses; pronunciation, etymology and source tags "
          "removed; GCIDE paragraphs longer than 30 characters seen before are dropped); 16 WordNet synsets "
          "(`words (pos): gloss. For example: \"...\"`); one KJV chapter (verse-numbered lines, decoded with "
          "the `bible` program of bible-kjv); one fortune (categories ascii-art, ethnic, men-women, drugs, "
          "politics, translate-me and pratchett left out).",
          "",
          f"`chat`: {n_chat} synthetic ChatML conversations generated ({stats['chat']['docs']} after "
          "deduplication; 1–3 turns, 15% with a system message) made from "
          "the same sources by fixed templates: *What does WORD mean?* → WordNet gloss, *Define WORD.* → "
          "first GCIDE sense, *Use WORD in a sentence.* → WordNet example, *Quote BOOK C:V.* → KJV verse, "
          "*Tell me a saying.* → a fortune of ≤ 240 characters, and a few fixed greetings.",
          "",
          "Deduplication: sha1 of the lower-cased, whitespace-collapsed document, across all sources. "
          "Split: sha1(text) mod 100 — 0 → test, 1 → val, else train.", "",
          "Output (byte-identical on reruns with the same .deb files):", ""]
    for sp in ("train", "val", "test"):
        with open(os.path.join(out, f"{sp}.jsonl.xz"), "rb") as fh:
            L.append(f"- `{sp}.jsonl.xz`: sha256 `{hashlib.sha256(fh.read()).hexdigest()}`")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
