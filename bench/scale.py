"""Scale-out benchmark: N inputs through graphs/reps.yaml one after another in one process, against
``dataflow batch`` with its default (runs at once from the cores and the graph; the target:
speedup_default_workers >= 1.0) and on Ray (started here) with 1 and 2 workers: wall time,
aggregate frames/s, CPU per frame (the whole machine's, from /proc/stat: Ray's processes are not
this one's children), Ray start-up time, per-input overhead on Ray; and the peak memory of all
processes of a batch of 8 and of 32 inputs (a light keypoints-only graph, 2 workers), which must
not grow with the number of inputs. The order is one after another, default, Ray 1 and 2 workers,
default, one after another: each default is compared with the one-after-another run next to it,
so that load drifting on a shared machine hits both sides alike.

Run: DATAFLOW_MODELS=../shared/models python bench/scale.py [--inputs 8] [--input synthetic:squat*2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataflow import load_graph  # noqa: E402
from dataflow.batch import batch  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402

REPS = ROOT / "graphs" / "reps.yaml"
QUIET = ["session.print=false", "source.progress=false"]


def machine_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree_rss_bytes(root: int) -> float:
    """Resident memory of ``root`` and every process below it, from /proc."""
    parent, rss = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21]) * page
    total = 0.0
    for pid in rss:
        p = pid
        while p and p != root:
            p = parent.get(p, 0)
        if p == root:
            total += rss[pid]
    return total


def sequential(inputs: list[str], out: Path) -> dict:
    t0, c0, frames = time.perf_counter(), machine_cpu_s(), 0
    for i, value in enumerate(inputs):
        graph = load_graph(REPS, [f"input={value}", f"out={out / f'seq{i}.jsonl'}", "session.print=false"])
        runtime = Runtime(graph)
        runtime.setup()
        frames += int(runtime.run(handle_signals=False).summary["frames"])
    wall, cpu = time.perf_counter() - t0, machine_cpu_s() - c0
    return {
        "wall_s": round(wall, 2),
        "frames": frames,
        "fps": round(frames / wall, 1),
        "cpu_ms_per_frame": round(1e3 * cpu / frames, 2),
    }


def batched(inputs: list[str], out: Path, workers: int, graph: Path = REPS, sets: list[str] | None = None) -> dict:
    results = out / f"batch{workers}-{len(inputs)}-{graph.stem}.jsonl"
    results.unlink(missing_ok=True)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_bytes(os.getpid()))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0, c0 = time.perf_counter(), machine_cpu_s()
    report = batch(str(graph), inputs, results, sets=[f"out={out / 'b.jsonl'}", *(sets or [])], workers=workers,
                   progress=False)  # fmt: skip
    assert report.ok == len(inputs), f"{report.failed} inputs failed: see {results}"
    wall, cpu = time.perf_counter() - t0, machine_cpu_s() - c0
    stop.set()
    sampler.join()
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    run_s = sum(r["seconds"] for r in rows)
    frames = report.frames
    return {
        "workers": report.workers,
        "on_ray": report.on_ray,
        "cpus_per_run": report.cpus_per_run,
        "run_cores": report.run_cores,
        "inputs": len(inputs),
        "ok": report.ok,
        "wall_s": round(wall, 2),
        "ray_startup_s": round(report.startup_s, 2),
        "frames": frames,
        "fps": round(frames / wall, 1),
        "fps_after_startup": round(frames / (wall - report.startup_s), 1),
        "cpu_ms_per_frame": round(1e3 * cpu / frames, 2) if frames else None,
        "sum_of_run_seconds": round(run_s, 2),
        "peak_rss_mb": round(peak[0] / 2**20, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--input", default="synthetic:squat*2", help="what every input is (a session or a clip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if Path(args.input).is_file():  # a clip: N copies, distinct names (a batch skips repeated inputs)
            inputs = []
            for i in range(args.inputs):
                copy = out / f"clip{i}{Path(args.input).suffix}"
                os.link(args.input, copy) if os.stat(args.input).st_dev == os.stat(out).st_dev else copy.write_bytes(
                    Path(args.input).read_bytes()
                )
                inputs.append(str(copy))
        else:
            inputs = [f"{args.input},rest*{0.1 * (i + 1):.1f}s" for i in range(args.inputs)]  # distinct, all alike
        seq = sequential(inputs, out)
        print(f"sequential: {seq}", file=sys.stderr)
        default = batched(inputs, out, 0)
        print(f"batch default: {default}", file=sys.stderr)
        one = batched(inputs, out, 1)
        print(f"batch 1 worker: {one}", file=sys.stderr)
        two = batched(inputs, out, 2)
        print(f"batch 2 workers: {two}", file=sys.stderr)
        default_after = batched(inputs, out, 0)
        print(f"batch default again: {default_after}", file=sys.stderr)
        seq_after = sequential(inputs, out)
        print(f"sequential again: {seq_after}", file=sys.stderr)
        light = out / "light.yaml"
        light.write_text(
            f"include: {ROOT / 'graphs' / 'parts' / 'workout_stages.yaml'}\n"
            "params: {input: 'squat*2', exercise: squat}\nset: {session.print: false}\nnodes:\n"
            "  source: {type: synthetic_keypoints, params: {session: '${input}'}}\n"
            "  keypoints: {type: passthrough, inputs: {value: source.keypoints}}\n"
        )
        memory = {
            n: batched([f"squat*{3 + i % 5}" if i < 5 else f"squat*3,rest*{i}s" for i in range(n)], out, 2, light)
            for n in (8, 32)
        }
        print(
            f"memory: 8 inputs {memory[8]['peak_rss_mb']} MB, 32 inputs {memory[32]['peak_rss_mb']} MB", file=sys.stderr
        )
    # Ray with one worker against one after another here: what each input costs on top.
    seq_wall = (seq["wall_s"] + seq_after["wall_s"]) / 2
    per_input = (one["wall_s"] - one["ray_startup_s"] - seq_wall) / len(inputs)
    seq_fps = (seq["fps"] + seq_after["fps"]) / 2
    pairs = ((default, seq), (default_after, seq_after))
    doc = {
        "bench": "scale",
        "cores": os.cpu_count(),
        "inputs": len(inputs),
        "input": args.input,
        "sequential": seq,
        "sequential_again": seq_after,
        "batch_default": default,
        "batch_1_worker": one,
        "batch_2_workers": two,
        "batch_default_again": default_after,
        # Each default batch against the one-after-another run next to it (drift hits both alike).
        "speedup_default_workers": round((default["fps"] + default_after["fps"]) / 2 / seq_fps, 3),
        "speedup_default_pairs": [round(d["fps"] / q["fps"], 3) for d, q in pairs],
        "speedup_2_workers": round(two["fps"] / seq_fps, 3),
        "speedup_2_workers_after_startup": round(two["fps_after_startup"] / seq_fps, 3),
        "ray_startup_s": two["ray_startup_s"],
        "per_input_overhead_s": round(per_input, 3),
        "peak_rss_mb": {"8_inputs": memory[8]["peak_rss_mb"], "32_inputs": memory[32]["peak_rss_mb"]},
    }
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
