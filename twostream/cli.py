"""The `twostream` command: trained models and optical flow outside the pipeline.

    twostream predict VIDEO... [--part ucf101|hmdb51] [--spatial FILE] [--temporal FILE]
                               [--svm FILE] [--picture DIR] [--top 5]
    twostream flow VIDEO_OR_FOLDER... --out DIR [--layout denseflow|zip] [--backend NAME]
                   [--bound 20] [--backward] [--epsilon E] [--scale-step S] [--short-side N]
                   [--params params.yaml]
    torchrun --nnodes N --nproc_per_node G -m twostream.cli flow ...   (one shard per rank)

Defaults: the fused pair of params.yaml for the dataset part `--part` (fusion.spatial at
`dropout`; fusion.temporal on ucf101, fusion.hmdb_temporal on hmdb51), first of `run.splits`,
and the fuse stage's SVM for that pair (models/<part>/svm/split<k>.npz) when it fits them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from twostream.config import FLOW_BACKENDS, ROLES, EvaluateParams, Params, load_params
from twostream.errors import UserError

# With both model files named and no params.yaml: the paper's 25 frames x 10 crops.
PAPER_PROTOCOL = EvaluateParams(frames=25, crops=10, batch_size=50)
# Tracing a net for the CPU costs seconds once (6.5 s for EfficientNet-Lite0) and saves ~40% of
# each video's scoring (~2 s): it pays from about this many videos on.
TRACE_FROM = 8


def _default_models(params: Params, part: str) -> tuple[Path, Path, Path]:
    """(spatial, temporal, SVM) files of ``part``'s fused pair, first split of ``run.splits``."""
    from twostream.cells import fused_spatial_cell

    split = params.run.splits[0]
    temporal = params.fusion.temporal if part == "ucf101" else params.fusion.hmdb_temporal
    return (Path("models") / part / "spatial" / fused_spatial_cell(params) / f"split{split}.pt",
            Path("models") / part / "temporal" / temporal / f"split{split}.pt",
            Path("models") / part / "svm" / f"split{split}.npz")


def readable_videos(videos: list[Path]) -> tuple[list[Path], dict[Path, str]]:
    """The videos that exist and open, and why each other one does not: checked before any
    model loads, so a typo is reported at once."""
    import cv2

    good, bad = [], {}
    for video in videos:
        if not video.is_file():
            bad[video] = "no such file"
            continue
        capture = cv2.VideoCapture(str(video))
        opened = capture.isOpened() and capture.read()[0]
        capture.release()
        if opened:
            good.append(video)
        else:
            bad[video] = "cannot be decoded (not a video, corrupt, or an unsupported codec)"
    return good, bad


def picture_names(videos: list[Path], folder: Path) -> dict[Path, Path]:
    """A PNG per video, named by its stem, or by its folder and stem where stems repeat."""
    stems = [v.stem for v in videos]
    names: dict[Path, Path] = {}
    for video in videos:
        name = video.stem if stems.count(video.stem) == 1 else f"{video.parent.name}_{video.stem}"
        candidate, k = name, 1
        while folder / f"{candidate}.png" in names.values():
            k += 1
            candidate = f"{name}_{k}"
        names[video] = folder / f"{candidate}.png"
    return names


def writable_folder(path: Path, flag: str) -> str | None:
    """Why ``path`` cannot be an output folder (made if missing, a file written and removed
    there), or None: checked before any work, so a bad flag costs no minutes of flow."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".twostream-write-check-"):
            pass
    except FileExistsError:
        return f"{flag} {path}: a file, not a folder; give a folder"
    except OSError as err:
        return (f"{flag} {path}: cannot be an output folder ({err.strerror or err}); "
                f"give a folder you can write")
    return None


def predict_command(args: argparse.Namespace) -> int:
    videos, unreadable = readable_videos(args.videos)
    for video, why in unreadable.items():
        print(f"{video}: {why}", file=sys.stderr)
    if not videos:
        return 2
    if args.picture is not None and (why := writable_folder(args.picture, "--picture")):
        print(f"twostream predict: {why}", file=sys.stderr)
        return 2
    # torch takes seconds to import: only once there is a video to score.
    from twostream.predict import TrainedStream, load_svm, predict
    from twostream.runtime import configure_logging

    configure_logging("predict")
    try:
        if args.spatial and args.temporal and not args.params.is_file():
            params, protocol = None, PAPER_PROTOCOL  # model files named: params.yaml is optional
            print(f"twostream predict: no {args.params}; the paper's test protocol "
                  f"({protocol.frames} frames x {protocol.crops} crops)", file=sys.stderr)
        else:
            params = load_params(args.params)
            protocol = params.evaluate
        defaults = _default_models(params, args.part) if params is not None else (None,) * 3
        trace = len(videos) >= TRACE_FROM
        spatial = TrainedStream.load(args.spatial or defaults[0], "spatial", trace)
        temporal = TrainedStream.load(args.temporal or defaults[1], "temporal", trace)
    except UserError as err:
        print(f"twostream predict: {err}", file=sys.stderr)
        return 2
    svm = None
    svm_path = args.svm or defaults[2]
    if not args.no_svm and svm_path is not None:
        try:
            svm = load_svm(svm_path, spatial, temporal)
        except (FileNotFoundError, UserError) as err:
            if args.svm:  # asked for by name: its absence or mismatch is an error
                print(f"twostream predict: {err}", file=sys.stderr)
                return 2
            print(f"twostream predict: no SVM column ({err})", file=sys.stderr)
    weights = params.fusion.weights if params is not None else (1.0, 1.0)
    status = 1 if unreadable else 0
    pictures = picture_names(videos, args.picture) if args.picture else {}
    for video in videos:
        try:
            result = predict(video, spatial, temporal, protocol, pictures.get(video), svm, weights)
        except (UserError, ValueError, OSError) as err:
            print(f"{video}: {err}", file=sys.stderr)
            status = 1
            continue
        declared = f" of the {result.declared} it declares" if result.declared else ""
        print(f"{video}  (spatial {spatial.path}, temporal {temporal.path})")
        print(f"  {result.decoded} frames decoded{declared}")
        if result.note:
            print(f"  WARNING: {result.note}: scores from part of the video", file=sys.stderr)
        print(f"  {'class':<28} {'spatial':>8} {'temporal':>9} {'average':>8}"
              + (f" {'SVM':>7}" if svm is not None else ""))
        for name, s, t, f, m in result.top(args.top):
            print(f"  {name:<28} {s:8.3f} {t:9.3f} {f:8.3f}" + (f" {m:7.3f}" if m is not None else ""))
        print("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
        if result.picture_error:
            print(f"  WARNING: {result.picture_error}", file=sys.stderr)
            status = 1
        elif video in pictures and pictures[video].is_file():  # none for a net on RGB differences
            print(f"  frames and flow used: {pictures[video]}")
    return status


# `twostream flow` flags -> keys of the flow block they set.
FLOW_FLAGS = {"backend": "backend", "bound": "bound", "backward": "backward", "epsilon": "tvl1_epsilon",
              "scale_step": "tvl1_scale_step", "batch_pairs": "batch_pairs", "compile": "compile",
              "jpeg_quality": "jpeg_quality", "workers": "workers"}


def flow_command(args: argparse.Namespace) -> int:
    from twostream.config import ParamsError, load_params
    from twostream.flow.from_videos import TOOL_FLOW, compute_flow, find_videos, tool_settings
    from twostream.runtime import configure_logging, torchrun_shard

    try:
        videos, bad = find_videos(args.inputs)
    except UserError as err:
        print(f"twostream flow: {err}", file=sys.stderr)
        return 2
    for path, why in bad.items():
        print(f"{path}: {why}", file=sys.stderr)
    if not videos:
        return 2
    try:
        flow = dict(TOOL_FLOW)
        if args.params is not None:
            flow = dataclasses.asdict(load_params(args.params).flow)
        flow.update({key: getattr(args, flag) for flag, key in FLOW_FLAGS.items()
                     if getattr(args, flag) is not None})
        settings = tool_settings(flow, args.short_side, not args.no_frames, args.layout)
    except ParamsError as err:  # name the flag the user typed, not the block key
        message = str(err)
        for flag, key in FLOW_FLAGS.items():
            message = message.replace(f"flow.{key}=", f"--{flag.replace('_', '-')} ")
        print(f"twostream flow: {message}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"twostream flow: {err}", file=sys.stderr)
        return 2
    if why := writable_folder(args.out, "--out"):  # after the flags: a wrong one creates nothing
        print(f"twostream flow: {why}", file=sys.stderr)
        return 2
    log = configure_logging("flow")
    rank, world = torchrun_shard()

    def describe(backend) -> None:
        shard = f"; rank {rank} of {world}: every {world}-th video from the {rank}-th" if world > 1 else ""
        log.info("%d videos -> %s (%s layout); %s %s, bound %g%s", len(videos), args.out,
                 settings.layout, backend.name, backend.settings, settings.flow.bound, shard)

    try:
        run = compute_flow(videos, args.out, settings, (rank, world), describe)
    except (UserError, ValueError, RuntimeError) as err:  # a machine error, a backend this box lacks
        print(f"twostream flow: {err}", file=sys.stderr)
        return 2
    result = run.summary
    print(f"twostream flow: {result.done} videos computed ({run.pairs} frame pairs in {run.seconds:.1f} s, "
          f"{run.pairs / max(run.seconds, 1e-9):.1f} pairs/s), {result.skipped} already done, "
          + (f"{len(result.elsewhere)} left to another run on {args.out}, " if result.elsewhere else "") +
          f"{len(result.failures)} failed" + (f" (listed in {args.out / 'failures.json'})"
                                               if result.failures else ""), file=sys.stderr)
    for name, why in sorted(result.failures.items()):
        print(why if str(videos[name]) in why else f"{videos[name]}: {why}", file=sys.stderr)
    return 1 if (result.failures or bad) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="twostream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("predict", help="top-5 classes of video files: per stream, averaged and by the SVM")
    p.add_argument("videos", type=Path, nargs="+")
    p.add_argument("--part", choices=ROLES, default="ucf101",
                   help="whose classes: the ucf101 or hmdb51 part's fused pair (default ucf101)")
    p.add_argument("--spatial", type=Path,
                   help="a spatial model file (models/<part>/spatial/<cell>/split<k>.pt)")
    p.add_argument("--temporal", type=Path, help="a temporal model file")
    p.add_argument("--svm", type=Path, help="the fusion SVM of this pair (models/<part>/svm/split<k>.npz)")
    p.add_argument("--no-svm", action="store_true", help="print no SVM column")
    p.add_argument("--picture", type=Path, help="folder for a PNG of each video's frames and flow")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--params", type=Path, default=Path("params.yaml"),
                   help="for the default models and the test protocol (evaluate)")
    p.set_defaults(run=predict_command)
    f = commands.add_parser(
        "flow", help="optical flow of any videos, as denseflow/mmaction2 folders or zip archives",
        description="Flow for video files and folders of them (searched recursively; a folder's "
                    "class sub-folders are kept). Defaults: OpenCV's TV-L1 settings, bound 20, "
                    "native frame size, the denseflow layout. Rerun to resume: finished videos are "
                    "skipped, half-written ones redone; bad videos are named and the rest go on.")
    f.add_argument("inputs", type=Path, nargs="+", metavar="VIDEO_OR_FOLDER")
    f.add_argument("--out", type=Path, required=True, help="output folder")
    f.add_argument("--layout", choices=("denseflow", "zip"), default="denseflow",
                   help="denseflow: <video>/img_00001.jpg, flow_x_00001.jpg, flow_y_00001.jpg (mmaction2's "
                        "rawframes); zip: <video>.zip as the pipeline stores it")
    f.add_argument("--backend", help=" | ".join(FLOW_BACKENDS) + " (default auto)")
    f.add_argument("--bound", type=float, help="clip at +-bound px and map to 8 bits (default 20)")
    f.add_argument("--backward", action=argparse.BooleanOptionalAction, default=None,
                   help="also write backward fields (bflow_x_/bflow_y_, or bx/ by/ in a zip)")
    f.add_argument("--epsilon", type=float, help="TV-L1 stopping threshold (default OpenCV's, 0.01)")
    f.add_argument("--scale-step", type=float, help="TV-L1 pyramid step (default OpenCV's, 0.8)")
    f.add_argument("--batch-pairs", type=int, help="frame pairs per call of torch-tvl1 (default 16)")
    f.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch-tvl1: torch.compile the iteration (default on)")
    f.add_argument("--jpeg-quality", type=int, help="default 95")
    f.add_argument("--workers", type=int,
                   help="processes (default: one per core; one for torch-tvl1, parallel inside)")
    f.add_argument("--short-side", type=int, default=0,
                   help="resize frames so the shorter side is N px before flow (default 0: native)")
    f.add_argument("--no-frames", action="store_true", help="write flow only, not the frames")
    f.add_argument("--params", type=Path,
                   help="take the flow block of this params.yaml (the pipeline's settings); flags override")
    f.set_defaults(run=flow_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
