"""The TensorBoard event-file reader: both scalar encodings, every point, damage survived.

Fixtures under ``tests/fixtures/tfevents/`` were written by the real writers (see
``make_fixtures.py`` there); damaged files are made here by cutting or corrupting files that
tensorboard's own ``EventFileWriter`` wrote.
"""

from __future__ import annotations

import glob
import math
import os
import struct

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from analyzers.ingest import read_bytes, read_path, tfevents
from analyzers.ingest.sniff import masked_crc32c
from analyzers.ingest.source import Source

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tfevents")
Event, Summary = event_pb2.Event, summary_pb2.Summary


def fixture(name: str) -> str:
    (path,) = glob.glob(os.path.join(FIXTURES, name, "*tfevents*"))
    return path


def read_file(path: str):
    result = tfevents.read(Source(display=path, path=path), "run")
    assert not result.errors, result.errors
    (run,) = result.runs
    return run


def read_data(data: bytes, name: str = "events.out.tfevents.1.test"):
    return tfevents.read(Source(display=name, data=data), "run")


def scalar_event(step: int, tag: str = "loss", value: float = 0.0, wall_time: float | None = None) -> Event:
    return Event(
        wall_time=1_700_000_000.0 + step if wall_time is None else wall_time,
        step=step,
        summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]),
    )


def write_events(folder, events, name: str = "events.out.tfevents.1700000000.test") -> str:
    """Write events with tensorboard's own EventFileWriter; return the file's path."""
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    before = set(glob.glob(os.path.join(folder, "*tfevents*")))
    writer = EventFileWriter(folder)
    for event in events:
        writer.add_event(event)
    writer.close()
    (made,) = set(glob.glob(os.path.join(folder, "*tfevents*"))) - before
    path = os.path.join(folder, name)
    os.rename(made, path)
    return path


def record_offsets(data: bytes) -> list[int]:
    """Byte offset of every record (a plain reference walk of the TFRecord framing)."""
    offsets, pos = [], 0
    while pos + 12 <= len(data):
        offsets.append(pos)
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 16 + length
    return offsets


def loss_file(tmp_path, steps: int = 20) -> bytes:
    path = write_events(tmp_path / "src", [scalar_event(s, "loss", s * 0.5) for s in range(steps)])
    with open(path, "rb") as fh:
        return fh.read()


# --------------------------------------------------------------------------- encodings
def test_simple_value_scalars_are_read_as_float32_widened():
    run = read_file(fixture("tensorboard_simple"))
    kl = run.series("objective/kl")
    assert kl.index.tolist() == list(range(12))
    assert kl.tolist() == [float(np.float32(0.1 * s)) for s in range(12)]


def test_two_values_in_one_event_are_both_read():
    run = read_file(fixture("tensorboard_simple"))
    assert len(run.raw("objective/kl")) == len(run.raw("objective/scores")) == 12


def test_wall_time_is_kept():
    run = read_file(fixture("tensorboard_simple"))
    assert run.raw("lr")["wall_time"].tolist() == [1_700_000_000.0 + s for s in range(12)]


def test_step_zero_omitted_by_proto3_is_read_as_zero():
    run = read_file(fixture("tensorboard_simple"))
    assert run.raw("lr")["step"].iloc[0] == 0


def test_steps_beyond_32_bits_and_negative_steps_are_exact():
    run = read_file(fixture("tensorboard_simple"))
    assert run.raw("big_step")["step"].tolist() == [2**40 + 3]
    assert run.raw("negative_step")["step"].tolist() == [-5]


def test_nan_and_inf_values_are_kept_as_data():
    scores = read_file(fixture("tensorboard_simple")).raw("objective/scores")["value"].tolist()[:4]
    assert scores[0] == 1.0 and math.isnan(scores[1]) and scores[2] == math.inf and scores[3] == -math.inf


@pytest.mark.parametrize(
    "tag,dtype",
    [("float32_val", np.float32), ("float64_val", np.float64), ("int32_val", np.int32), ("int64_val", np.int64), ("half_val", np.float16)],
)
def test_tf2_tensor_scalars_in_value_fields_are_read(tag, dtype):
    run = read_file(fixture("tensorboard_tf2"))
    assert run.series(f"tf2/{tag}").tolist() == [float(dtype(s * 1.25 - 3)) for s in range(10)]


@pytest.mark.parametrize("tag,dtype", [("float32_content", np.float32), ("float64_content", np.float64), ("half_content", np.float16)])
def test_tf2_tensor_scalars_in_tensor_content_are_read(tag, dtype):
    run = read_file(fixture("tensorboard_tf2"))
    assert run.series(f"tf2/{tag}").tolist() == [float(dtype(s / 3)) for s in range(10)]


def test_tf2_tag_with_metadata_only_on_its_first_event_keeps_every_event():
    run = read_file(fixture("tensorboard_tf2"))
    assert len(run.raw("tf2/float32_content")) == 10


def test_bfloat16_tensor_scalar_is_read(tmp_path):
    tensor = tensor_pb2.TensorProto(dtype=14, tensor_shape=tensor_shape_pb2.TensorShapeProto(), half_val=[0x3FC0])
    value = Summary.Value(tag="bf16", tensor=tensor, metadata=scalar_metadata.create_summary_metadata("", ""))
    run = read_file(write_events(tmp_path, [Event(wall_time=1.0, step=3, summary=Summary(value=[value]))]))
    assert run.series("bf16").tolist() == [1.5]


def test_tensors_without_the_scalars_plugin_are_skipped_with_a_note():
    run = read_file(fixture("tensorboard_tf2"))
    assert not run.has("tf2/no_plugin") and not run.has("tf2/histogram")
    assert "10 tensors without plugin metadata" in " ".join(run.notes)
    assert "10 histograms" in " ".join(run.notes)


def test_histograms_images_text_and_graphs_are_skipped_and_counted():
    run = read_file(fixture("tensorboard_simple"))
    assert "Skipped non-scalar data: 1 graph, 3 histograms, 3 images, 3 texts." in run.notes
    assert not {"weights", "samples", "completions"} & set(run.tags)


def test_file_without_scalars_is_a_run_with_zero_points_saying_what_it_held(tmp_path):
    histo = summary_pb2.HistogramProto(min=0, max=1, num=1, sum=1, sum_squares=1, bucket_limit=[1], bucket=[1])
    path = write_events(tmp_path, [Event(wall_time=1.0, step=s, summary=Summary(value=[Summary.Value(tag="w", histo=histo)])) for s in range(3)])
    run = read_file(path)
    assert run.points == 0
    assert run.notes == ["No scalar values in this file; it holds 3 histograms."]


def test_tensorboardx_summary_writer_file():
    run = read_file(fixture("tensorboardx"))
    assert run.tags == ["train/loss", "train/reward"]
    assert run.series("train/reward").tolist() == [s * 0.5 for s in range(15)]


def test_torch_summary_writer_file_in_both_styles():
    run = read_file(fixture("torch"))
    assert run.series("rollout/ep_rew_mean").tolist() == [9.5 + s for s in range(15)]
    # new_style=True writes a float tensor with the scalars plugin instead of simple_value.
    assert run.series("train/approx_kl").tolist() == [float(np.float32(0.001 * s)) for s in range(15)]


def test_points_keep_write_order_across_encodings(tmp_path):
    meta = scalar_metadata.create_summary_metadata("", "")
    tensor = Summary.Value(tag="t", tensor=tensor_pb2.TensorProto(dtype=1, float_val=[2.0]), metadata=meta)
    events = [scalar_event(5, "s", 1.0), Event(wall_time=2.0, step=4, summary=Summary(value=[tensor])), scalar_event(3, "s", 3.0)]
    run = read_file(write_events(tmp_path, events))
    assert run.scalars["step"].tolist() == [5, 4, 3]


# --------------------------------------------------------------------------- tag names
def test_hostile_tag_names_are_plain_data():
    run = read_file(fixture("tensorboard_simple"))
    for tag in ["<script>alert(1)</script>", "../../etc/passwd", "损失/奖励 reward", "a,b;c\"d'e", " spaced tag "]:
        assert len(run.raw(tag)) == 12


def _raw_record(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def test_invalid_utf8_tag_is_decoded_with_replacement_and_noted():
    # The protobuf runtime refuses to write invalid UTF-8, so build the record by hand.
    good = scalar_event(1, "XXXX", 2.0).SerializeToString()
    payload = good.replace(b"XXXX", b"k\xffl\xfe")
    run = read_data(_raw_record(payload)).runs[0]
    assert run.tags == ["k\ufffdl\ufffd"]
    assert any("not valid UTF-8" in note for note in run.notes)


# --------------------------------------------------------------------------- uploads and folders
def test_upload_named_upload_bin_is_read_by_content():
    with open(fixture("tensorboardx"), "rb") as fh:
        result = read_bytes(fh.read(), "upload.bin")
    assert not result.errors
    assert result.runs[0].tags == ["train/loss", "train/reward"]
    assert result.runs[0].sources == ["upload.bin"]


def test_restart_files_in_one_folder_merge_and_the_later_write_wins(tmp_path):
    write_events(tmp_path, [scalar_event(s, "loss", 1.0) for s in range(5)], "events.out.tfevents.1700000000.a")
    write_events(tmp_path, [scalar_event(s, "loss", 2.0) for s in range(2, 7)], "events.out.tfevents.1700000100.a")
    result = read_path(tmp_path)
    assert not result.errors
    (run,) = result.runs
    assert run.points == 10
    series = run.series("loss")
    assert series.index.tolist() == list(range(7))
    assert series.tolist() == [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]


def test_nested_run_folders_are_runs_named_by_relative_path(tmp_path):
    write_events(tmp_path / "ppo" / "seed1", [scalar_event(s) for s in range(3)])
    write_events(tmp_path / "ppo" / "seed2", [scalar_event(s) for s in range(4)])
    write_events(tmp_path / "grpo", [scalar_event(s) for s in range(2)])
    result = read_path(tmp_path)
    assert {run.name: run.points for run in result.runs} == {"grpo": 2, "ppo/seed1": 3, "ppo/seed2": 4}


# --------------------------------------------------------------------------- damage
def test_empty_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "events.out.tfevents.1.empty"
    path.write_bytes(b"")
    result = read_path(path)
    assert [(e.path, e.message) for e in result.errors] == [(str(path), "empty event file")]


def test_bytes_that_are_not_a_tfrecord_are_an_error_naming_the_file():
    result = read_data(b"this is not an event file at all" * 10, "weird.tfevents")
    assert not result.runs
    assert result.errors[0].path == "weird.tfevents"
    assert "no valid TFRecord" in result.errors[0].message


@pytest.mark.parametrize("cut", [3, 12, 20, -2])
def test_truncated_last_record_keeps_everything_before_it(tmp_path, cut):
    data = loss_file(tmp_path)
    last = record_offsets(data)[-1]
    cut_at = last + cut if cut > 0 else len(data) + cut
    result = read_data(data[:cut_at])
    (run,) = result.runs
    assert run.series("loss").index.tolist() == list(range(19))
    assert any("last record incomplete" in note and f"offset {last:,}" in note for note in run.notes)


def test_corrupt_data_crc_in_the_middle_skips_only_that_record(tmp_path):
    data = bytearray(loss_file(tmp_path))
    victim = record_offsets(bytes(data))[10]  # record 0 is file_version, so this is step 9
    data[victim + 14] ^= 0xFF
    (run,) = read_data(bytes(data)).runs
    assert run.series("loss").index.tolist() == [s for s in range(20) if s != 9]
    assert any("1 record whose data CRC does not match" in note and f"{victim:,}" in note for note in run.notes)


def test_corrupt_length_header_resynchronises_at_the_next_record(tmp_path):
    data = bytearray(loss_file(tmp_path))
    offsets = record_offsets(bytes(data))
    data[offsets[10]] ^= 0x40  # the length no longer matches its CRC
    (run,) = read_data(bytes(data)).runs
    assert run.series("loss").index.tolist() == [s for s in range(20) if s != 9]
    assert any(f"skipped {offsets[11] - offsets[10]:,} unreadable bytes" in note for note in run.notes)


def test_garbage_bytes_inserted_in_the_middle_are_skipped(tmp_path):
    data = loss_file(tmp_path)
    at = record_offsets(data)[8]
    garbage = bytes(range(256)) * 3 + b"\x00" * 40
    (run,) = read_data(data[:at] + garbage + data[at:]).runs
    assert run.series("loss").index.tolist() == list(range(20))
    assert any(f"skipped {len(garbage):,} unreadable bytes" in note and f"{at:,}" in note for note in run.notes)


def test_events_without_wall_time_are_read(tmp_path):
    # wall_time 0 is not serialised (proto3), which defeats the fast framing guess.
    run = read_file(write_events(tmp_path, [scalar_event(s, "x", s, wall_time=0.0) for s in range(5)]))
    assert run.series("x").tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_batched_crc_check_flags_exactly_the_corrupt_records(tmp_path, monkeypatch):
    monkeypatch.setattr(tfevents, "_CRC_CHUNK", 200)  # many small batches
    data = bytearray(loss_file(tmp_path, steps=60))
    framing = tfevents.frame_records(bytes(data))
    for rec in (3, 17, 18, 59):
        data[int(framing.starts[rec]) + 2] ^= 0x01
    ok = tfevents.verify_data_crcs(bytes(data), framing.starts, framing.lengths)
    assert np.flatnonzero(~ok).tolist() == [3, 17, 18, 59]


def test_batched_crc_check_passes_intact_records_of_many_lengths(tmp_path):
    events = [scalar_event(s, "t" * (1 + s % 37), s) for s in range(300)]
    path = write_events(tmp_path, events)
    with open(path, "rb") as fh:
        data = fh.read()
    framing = tfevents.frame_records(data)
    assert tfevents.verify_data_crcs(data, framing.starts, framing.lengths).all()


# --------------------------------------------------------------------------- fast path == protos
def _varied_events() -> list:
    """Layouts the fast path must get exactly right, and some it must hand to the protos."""
    meta = scalar_metadata.create_summary_metadata("", "")
    events = []
    steps = [0, 1, 127, 128, 16_383, 16_384, 2**21, 2**35, 2**56 + 1, -1, -(2**40)]
    for i, step in enumerate(steps):
        for tag_len in (1, 7, 8, 9, 16, 17, 63, 110, 125, 200):  # across the 1-byte length varint limit
            tag = f"t{tag_len:03d}".ljust(tag_len, "x")[:tag_len]
            events.append(scalar_event(step, tag, i * 0.37 - 1.5))
        for dtype, code in ((np.float32, 1), (np.float64, 2)):
            for content in (True, False):
                tag = f"tf2/{np.dtype(dtype).name}/{'content' if content else 'val'}"
                value = np.array(i / 7, dtype)
                if content:
                    shape = tensor_shape_pb2.TensorShapeProto()
                    tensor = tensor_pb2.TensorProto(dtype=code, tensor_shape=shape, tensor_content=value.tobytes())
                elif code == 1:
                    tensor = tensor_pb2.TensorProto(dtype=code, float_val=[float(value)])  # no shape field at all
                else:
                    tensor = tensor_pb2.TensorProto(dtype=code, double_val=[float(value)])
                summary_value = Summary.Value(tag=tag, tensor=tensor)
                if i == 0:
                    summary_value.metadata.CopyFrom(meta)
                events.append(Event(wall_time=1_700_000_000.5 + i, step=step, summary=Summary(value=[summary_value])))
    # Tags of equal length sharing their first and last 8 bytes: only the middle tells them apart.
    for i in range(30):
        events.append(scalar_event(i, f"critic/adv{i % 3}ntages/mean", float(i)))
    return events


def test_fast_path_reads_exactly_what_the_protos_read(tmp_path, monkeypatch):
    path = write_events(tmp_path, _varied_events())
    fast = read_file(path)
    monkeypatch.setattr(tfevents, "_TAILS", ())  # no layout matches: every record goes through the protos
    slow = read_file(path)
    assert fast.tags == slow.tags
    for column in ("tag", "step", "value", "wall_time"):
        kind = object if column == "tag" else float
        np.testing.assert_array_equal(fast.scalars[column].astype(kind), slow.scalars[column].astype(kind))


def test_tags_differing_only_in_the_middle_stay_apart(tmp_path):
    run = read_file(write_events(tmp_path, _varied_events()))
    assert [len(run.raw(f"critic/adv{k}ntages/mean")) for k in range(3)] == [10, 10, 10]


def test_chunk_sizes_do_not_change_the_result(tmp_path, monkeypatch):
    path = write_events(tmp_path, _varied_events())
    default = read_file(path).scalars
    monkeypatch.setattr(tfevents, "_SCAN_CHUNK", 64)
    monkeypatch.setattr(tfevents, "_CRC_CHUNK", 100)
    monkeypatch.setattr(tfevents, "_DECODE_CHUNK_RECORDS", 7)
    chunked = read_file(path).scalars
    assert default.astype({"tag": object}).equals(chunked.astype({"tag": object}))
