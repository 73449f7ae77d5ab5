"""Time our log readers against tensorboard's EventAccumulator, tbparse and pandas, in one run.

    python benchmarks/bench_ingest.py --sizes 10k,100k,1M [--with-5m] [--reference-max 1M]

Generates the data first if needed (``benchmarks/gen_logs.py``). Every measurement runs in its
own subprocess (so peak RSS is that reader's alone); the main process prints a markdown table
and asserts that our values, steps and wall times equal EventAccumulator's on every size where
EventAccumulator ran. Run it ``nice``d on a shared machine.

Columns: ``seconds`` (wall clock, best of ``--repeat`` for fast readers; one run for the slow
references above 100k points), ``cpu s`` (process CPU time of the same runs), ``points/s``,
``MB/s`` (file size / wall seconds), ``vs EA`` / ``vs tbparse`` (how many times faster than the
reference on the same file, in CPU seconds: every reader is single-threaded and CPU-bound, and
CPU time is what stays comparable on a shared, loaded machine), ``/ floor`` (our CPU time over
the framing floor's: reading the file's bytes plus locating every record), ``peak RSS`` (growth of the process's max resident
set during the read, mmap'd file pages included) and ``heap peak`` (tracemalloc peak of Python
and numpy allocations, i.e. memory we own; measured in a separate pass).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import gen_logs  # noqa: E402

EVENT_READERS = ("floor", "ours", "ea", "tbparse")


def DATA_DIR_FOR(label: str) -> Path:  # noqa: N802 - reads like a constant lookup
    return gen_logs.DATA_DIR / label
TABULAR_READERS = {
    "wide.csv": ("pandas.read_csv", "ours"),
    "long.csv": ("pandas.read_csv", "ours"),
    "trainer_state.json": ("json.load", "ours"),
}


# --------------------------------------------------------------------------- workers
def _rss_mb() -> float:
    """Peak resident set of this process so far, in MB.

    VmHWM belongs to this process's memory map; ``ru_maxrss`` is carried across exec from the
    parent on Linux, so after the parent generated big files it would hide the child's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _event_file(folder: Path) -> Path:
    (path,) = folder.glob("*tfevents*")
    return path


def _run_ours(path: str):
    from analyzers.ingest import tfevents
    from analyzers.ingest.source import Source

    result = tfevents.read(Source(display=path, path=path), "bench")
    return result.runs[0]


def _dump_ours(run, out: str) -> int:
    import numpy as np

    arrays = {}
    for i, tag in enumerate(run.tags):
        raw = run.raw(tag)
        arrays[f"{i}/step"], arrays[f"{i}/value"], arrays[f"{i}/wall"] = (raw[c].to_numpy() for c in ("step", "value", "wall_time"))
    np.savez(out, tags=np.array(run.tags, dtype=object), **arrays)
    return run.points


def _run_ea(path: str, encoding: str):
    """EventAccumulator with every point kept, converted to per-tag arrays (what a user needs)."""
    import numpy as np
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0, ea.AUDIO: 0})
    acc.Reload()
    out = {}
    if encoding == "simple":
        for tag in acc.Tags()[ea.SCALARS]:
            events = acc.Scalars(tag)
            out[tag] = (np.array([e.step for e in events]), np.array([e.value for e in events]), np.array([e.wall_time for e in events]))
    else:
        for tag in acc.Tags()[ea.TENSORS]:
            if acc.summary_metadata[tag].plugin_data.plugin_name != "scalars":
                continue
            events = acc.Tensors(tag)
            values = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events]
            out[tag] = (np.array([e.step for e in events]), np.array(values), np.array([e.wall_time for e in events]))
    return out


def _run_tbparse(path: str, encoding: str):
    from tbparse import SummaryReader

    if encoding == "simple":
        return SummaryReader(path, extra_columns={"wall_time"}, event_types={"scalars"}).scalars
    return SummaryReader(path, extra_columns={"wall_time"}, event_types={"tensors"}).tensors


def _run_floor(path: str) -> int:
    from analyzers.ingest import tfevents

    with open(path, "rb") as fh:
        data = fh.read()
    return len(tfevents.frame_records(data).starts)


def _breakdown(path: str, repeat: int) -> dict:
    """CPU seconds of each phase of our reader (best of ``repeat``), including what checking
    every data CRC with one ``crc32c`` call per record would cost instead of the batched check."""
    import numpy as np

    from analyzers.ingest import tfevents as T
    from analyzers.ingest.source import Source

    def best(fn):
        times, out = [], None
        for _ in range(repeat):
            c0 = time.process_time()
            out = fn()
            times.append(time.process_time() - c0)
        return min(times), out

    phases = {}
    with Source(display=path, path=path).buffer() as buf:
        phases["read the bytes (f.read)"] = best(lambda: open(path, "rb").read())[0]
        phases["framing: locate records, check length CRCs"], framing = best(lambda: T.frame_records(buf))
        starts, lengths = framing.starts, framing.lengths
        phases["data CRCs, batched (crc32c per ~8 MB)"], ok = best(lambda: T.verify_data_crcs(buf, starts, lengths))
        assert ok.all()
        stored = T._unmask(T._read_at(T._bytes_view(buf), starts + lengths, "<u4"))
        phases["data CRCs, one crc32c call per record (not used)"], ok1 = best(lambda: T._crc_one_by_one(buf, starts, lengths, stored))
        assert ok1.all()
        phases["decode fixed layouts (numpy)"], decoded = best(lambda: T._decode_fixed_layout(buf, starts, lengths))
        rest = np.flatnonzero(~decoded.handled)
        phases[f"protos for the other {len(rest)} records"] = best(lambda: T._decode_with_protos(buf, starts, lengths, rest))[0]
    phases["whole read (tfevents.read)"] = best(lambda: _run_ours(path))[0]
    return {"phases": phases}


def worker(reader: str, path: str, encoding: str, repeat: int, dump: str | None) -> dict:
    """Time one reader on one file in this (fresh) process."""
    import numpy as np  # noqa: F401  (imports done before the baseline RSS is taken)
    import pandas  # noqa: F401

    import analyzers.ingest  # noqa: F401

    if reader == "breakdown":
        return _breakdown(path, repeat)
    if reader in ("ea", "tbparse"):
        import tbparse  # noqa: F401
        from tensorboard.backend.event_processing import event_accumulator  # noqa: F401
    base_rss = _rss_mb()
    times, cpu_times, result = [], [], None
    for _ in range(repeat):
        result = None
        t0, c0 = time.perf_counter(), time.process_time()
        if reader == "ours":
            result = _run_ours(path)
        elif reader == "floor":
            result = _run_floor(path)
        elif reader == "ea":
            result = _run_ea(path, encoding)
        elif reader == "tbparse":
            result = _run_tbparse(path, encoding)
        elif reader == "pandas.read_csv":
            import pandas as pd

            result = pd.read_csv(path)
        elif reader == "json.load":
            with open(path) as fh:
                result = json.load(fh)
        elif reader == "ours-tabular":
            from analyzers.ingest import read_path

            result = read_path(path)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    info = {"seconds": min(times), "cpu_seconds": min(cpu_times), "times": times, "rss_growth_mb": _rss_mb() - base_rss}
    if reader == "ours":
        info["points"] = result.points
        if dump:
            _dump_ours(result, dump)
        del result
        import tracemalloc

        tracemalloc.start()
        run = _run_ours(path)
        info["heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        info["result_mb"] = float(run.scalars.memory_usage(deep=True).sum()) / 2**20
        tracemalloc.stop()
    elif reader == "ea":
        import numpy as np

        info["points"] = sum(len(v[0]) for v in result.values())
        if dump:
            tags = sorted(result)
            arrays = {f"{i}/{k}": result[t][j] for i, t in enumerate(tags) for j, k in enumerate(("step", "value", "wall"))}
            np.savez(dump, tags=np.array(tags, dtype=object), **arrays)
    elif reader == "tbparse":
        info["points"] = len(result)
    elif reader == "ours-tabular":
        info["points"] = sum(run.points for run in result.runs)
        info["errors"] = [e.message for e in result.errors]
    elif reader == "floor":
        info["records"] = result
    return info


def run_worker(reader: str, path: Path, encoding: str = "", repeat: int = 1, dump: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", reader, "--path", str(path), "--encoding", encoding, "--repeat", str(repeat)]
    if dump:
        cmd += ["--dump", dump]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- identity
def assert_identical(ours_npz: str, ea_npz: str, label: str) -> None:
    import numpy as np

    ours, ref = np.load(ours_npz, allow_pickle=True), np.load(ea_npz, allow_pickle=True)
    assert list(ours["tags"]) == list(ref["tags"]), f"{label}: tags differ"
    for i, tag in enumerate(ours["tags"]):
        for k in ("step", "value", "wall"):
            np.testing.assert_array_equal(ours[f"{i}/{k}"], ref[f"{i}/{k}"], err_msg=f"{label}: {tag} {k}")


# --------------------------------------------------------------------------- table
def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def _fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ingest benchmark: our readers vs EventAccumulator, tbparse, pandas.")
    parser.add_argument("--sizes", default="10k,100k,1M")
    parser.add_argument("--with-5m", action="store_true", help="add the 5M-point files")
    parser.add_argument("--reference-max", default="1M", help="skip EventAccumulator/tbparse above this size (they take ~50 s per 1M points)")
    parser.add_argument("--encodings", default="simple,tensor")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fast readers (best is reported)")
    parser.add_argument("--no-tabular", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--encoding", default="", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.path, args.encoding, args.repeat, args.dump)))
        return 0

    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if args.with_5m and "5M" not in labels:
        labels.append("5M")
    ref_max = gen_logs.parse_size(args.reference_max)
    encodings = [e.strip() for e in args.encodings.split(",") if e.strip()]
    rows: list[str] = []
    tab_rows: list[str] = []
    identity: list[str] = []
    tmp = tempfile.mkdtemp(prefix="bench_ingest_")
    for label in labels:
        points = gen_logs.parse_size(label)
        folder = gen_logs.generate(label)
        for encoding in encodings:
            path = _event_file(folder / encoding)
            size_mb = path.stat().st_size / 2**20
            print(f"[{label} {encoding}] {path} ({size_mb:.1f} MB)", file=sys.stderr)
            ours_dump = os.path.join(tmp, f"ours_{label}_{encoding}.npz")
            res = {"floor": run_worker("floor", path, encoding, args.repeat), "ours": run_worker("ours", path, encoding, args.repeat, ours_dump)}
            if points <= ref_max:
                ref_repeat = 3 if points <= 100_000 else 1
                ea_dump = os.path.join(tmp, f"ea_{label}_{encoding}.npz")
                res["ea"] = run_worker("ea", path, encoding, ref_repeat, ea_dump)
                res["tbparse"] = run_worker("tbparse", path, encoding, ref_repeat)
                if "error" not in res["ea"] and "error" not in res["ours"]:
                    assert_identical(ours_dump, ea_dump, f"{label} {encoding}")
                    identity.append(f"{label} {encoding}: {res['ours']['points']:,} points identical to EventAccumulator")
            for reader in EVENT_READERS:
                info = res.get(reader)
                if info is None:
                    continue
                if "error" in info:
                    rows.append(f"| {label} | {encoding} | {size_mb:.1f} | {reader} | error: {info['error']} | | | | | | | | |")
                    continue
                sec, cpu = info["seconds"], info["cpu_seconds"]
                vs = {ref: (res[ref]["cpu_seconds"] / cpu) if ref in res and "error" not in res[ref] else None for ref in ("ea", "tbparse")}
                floor = cpu / res["floor"]["cpu_seconds"] if "error" not in res["floor"] else None
                heap = f"{info['heap_peak_mb']:.0f} (result {info['result_mb']:.0f})" if "heap_peak_mb" in info else "-"
                rows.append(
                    f"| {label} | {encoding} | {size_mb:.1f} | {reader} | {_fmt_s(sec)} | {_fmt_s(cpu)} | {_fmt_rate(points / sec)} | "
                    f"{size_mb / sec:.0f} | {_fmt_ratio(vs['ea'])} | {_fmt_ratio(vs['tbparse'])} | "
                    f"{_fmt_ratio(floor, suffix='') if reader == 'ours' else '-'} | {info['rss_growth_mb']:.0f} | {heap} |"
                )
        if not args.no_tabular:
            for name, readers in TABULAR_READERS.items():
                path = folder / name
                size_mb = path.stat().st_size / 2**20
                base = run_worker(readers[0], path, "", args.repeat)
                ours = run_worker("ours-tabular", path, "", args.repeat)
                for reader, info in ((readers[0], base), ("ours (read_path)", ours)):
                    if "error" in info:
                        tab_rows.append(f"| {label} | {name} | {size_mb:.1f} | {reader} | unavailable: {info['error'][:80]} | | | | | |")
                        continue
                    if info.get("errors"):
                        tab_rows.append(f"| {label} | {name} | {size_mb:.1f} | {reader} | error: {info['errors'][0][:80]} | | | | | |")
                        continue
                    ratio = info["cpu_seconds"] / base["cpu_seconds"] if reader != readers[0] and "error" not in base else None
                    tab_rows.append(
                        f"| {label} | {name} | {size_mb:.1f} | {reader} | {_fmt_s(info['seconds'])} | {_fmt_s(info['cpu_seconds'])} | "
                        f"{_fmt_rate(points / info['seconds'])} | {size_mb / info['seconds']:.0f} | "
                        f"{_fmt_ratio(ratio, suffix='') if ratio else '-'} | {info['rss_growth_mb']:.0f} |"
                    )
    breakdown_label = labels[-1]
    breakdown_rows = []
    for encoding in encodings:
        info = run_worker("breakdown", _event_file(DATA_DIR_FOR(breakdown_label) / encoding), encoding, args.repeat)
        for phase, seconds in info.get("phases", {}).items():
            breakdown_rows.append(f"| {breakdown_label} | {encoding} | {phase} | {seconds:.3f} |")
    print()
    print("### Event files")
    print()
    print("| points | encoding | MB | reader | seconds | cpu s | points/s | MB/s | vs EA | vs tbparse | / floor | peak RSS MB | heap peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if tab_rows:
        print()
        print("### CSV and trainer_state.json (same points)")
        print()
        print("| points | file | MB | reader | seconds | cpu s | points/s | MB/s | / baseline (cpu) | peak RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(tab_rows))
    if breakdown_rows:
        print()
        print(f"### Where our reader's time goes ({breakdown_label} points, CPU seconds, best of {args.repeat})")
        print()
        print("| points | encoding | phase | cpu s |")
        print("|---|---|---|---|")
        print("\n".join(breakdown_rows))
    print()
    for line in identity:
        print(f"- {line}")
    return 0


def _fmt_ratio(value: float | None, suffix: str = "x faster") -> str:
    if value is None:
        return "-"
    return f"{value:.0f}x" if value >= 10 and suffix else (f"{value:.1f}x" if suffix else f"{value:.2f}")


if __name__ == "__main__":
    sys.exit(main())
