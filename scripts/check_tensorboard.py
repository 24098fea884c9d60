#!/usr/bin/env python3
"""TensorBoard event files against TensorBoard's own code (the `tensorboard` PyPI package).

  check_tensorboard.py --write-fixture Tests/TrainingTests/Fixtures/reference.tfevents
      Writes events with tensorboard's RecordWriter and event protos (fixed times, steps and
      values); TensorBoardWriterTests encodes the same events in Swift and compares bytes.

  check_tensorboard.py RUN_DIR
      Reads RUN_DIR/tensorboard with tensorboard's EventAccumulator (which checks every
      record's CRCs) and compares each scalar with metrics.jsonl (float32 rounding); exit 1 on
      any difference.

Install: /work/main/.venv/bin/python -m pip install tensorboard
"""
import glob
import json
import math
import os
import struct
import sys


def write_fixture(path):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    # Keep in step with TensorBoardWriterTests.referenceEvents.
    events = [
        event_pb2.Event(wall_time=1700000000.5, file_version="brain.Event:2"),
        event_pb2.Event(wall_time=1700000000.5, step=1,
                        session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)),
        event_pb2.Event(wall_time=1700000001.25, step=1, summary=summary_pb2.Summary(value=[
            summary_pb2.Summary.Value(tag="train/loss", simple_value=2.5),
            summary_pb2.Summary.Value(tag="train/lr", simple_value=3e-4),
        ])),
        event_pb2.Event(wall_time=1700000002.0, step=300000, summary=summary_pb2.Summary(value=[
            summary_pb2.Summary.Value(tag="eval/loss", simple_value=0.0),
            summary_pb2.Summary.Value(tag="eval/perplexité", simple_value=-1.5e30),
        ])),
    ]
    with open(path, "wb") as f:
        w = RecordWriter(f)
        for e in events:
            w.write(e.SerializeToString())
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(events)} events)")


def check_run(run):
    from tensorboard.backend.event_processing import event_accumulator

    files = glob.glob(os.path.join(run, "tensorboard", "events.out.tfevents.*"))
    if not files:
        sys.exit(f"no event file in {run}/tensorboard")
    acc = event_accumulator.EventAccumulator(os.path.join(run, "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    expected = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            names = {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm",
                     "tokens_per_s": "train/tokens_per_s", "eval_loss": "eval/loss", "eval_ppl": "eval/perplexity"}
            for key, tag in names.items():
                if o.get(key) is not None:
                    expected.setdefault(tag, {})[o["step"]] = o[key]
    problems = 0
    for tag, points in sorted(expected.items()):
        if tag not in tags:
            print(f"missing tag {tag}")
            problems += 1
            continue
        got = {s.step: s.value for s in acc.Scalars(tag)}
        if sorted(got) != sorted(points):
            print(f"{tag}: steps {sorted(got)} != metrics.jsonl {sorted(points)}")
            problems += 1
        for step, value in points.items():
            f32 = struct.unpack("<f", struct.pack("<f", value))[0]
            if step in got and not math.isclose(got[step], f32, rel_tol=0, abs_tol=0):
                print(f"{tag} step {step}: {got[step]} != {f32}")
                problems += 1
        print(f"{tag}: {len(got)} points")
    print(f"{len(files)} event file(s), {len(tags)} tags, {problems} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-fixture":
        write_fixture(sys.argv[2])
    elif len(sys.argv) == 2:
        check_run(sys.argv[1])
    else:
        sys.exit(__doc__)
