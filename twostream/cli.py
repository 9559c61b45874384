"""The `twostream` command: use trained models outside the pipeline.

    twostream predict VIDEO... [--part ucf101|hmdb51] [--spatial FILE] [--temporal FILE]
                               [--svm FILE] [--picture DIR] [--top 5]

Defaults: the fused pair of params.yaml for the dataset part `--part` (fusion.spatial at
`dropout`; fusion.temporal on ucf101, fusion.hmdb_temporal on hmdb51), first of `run.splits`,
and the fuse stage's SVM for that pair (models/<part>/svm/split<k>.npz) when it fits them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twostream.config import ROLES, ParamsError, load_params
from twostream.runtime import configure_logging
from twostream.streams import fused_spatial_cell


def _default_models(params_path: Path, part: str) -> tuple[Path, Path, Path]:
    """(spatial, temporal, SVM) files of ``part``'s fused pair, first split of ``run.splits``."""
    params = load_params(params_path)
    split = params.run.splits[0]
    temporal = params.fusion.temporal if part == "ucf101" else params.fusion.hmdb_temporal
    return (Path("models") / part / "spatial" / fused_spatial_cell(params) / f"split{split}.pt",
            Path("models") / part / "temporal" / temporal / f"split{split}.pt",
            Path("models") / part / "svm" / f"split{split}.npz")


def predict_command(args: argparse.Namespace) -> int:
    from twostream.predict import TrainedStream, load_svm, predict
    from twostream.video import VideoError

    configure_logging("predict")
    try:
        params = load_params(args.params)
        spatial_path, temporal_path, svm_path = _default_models(args.params, args.part)
        spatial = TrainedStream.load(args.spatial or spatial_path)
        temporal = TrainedStream.load(args.temporal or temporal_path)
    except (ParamsError, FileNotFoundError) as err:
        print(f"twostream predict: {err}", file=sys.stderr)
        return 2
    svm = None
    if not args.no_svm:
        try:
            svm = load_svm(args.svm or svm_path, spatial, temporal)
        except (FileNotFoundError, ValueError) as err:
            if args.svm:  # asked for by name: its absence or mismatch is an error
                print(f"twostream predict: {err}", file=sys.stderr)
                return 2
            print(f"twostream predict: no SVM column ({err})", file=sys.stderr)
    status = 0
    for video in args.videos:
        picture = args.picture / f"{video.stem}.png" if args.picture else None
        try:
            result = predict(video, spatial, temporal, params.evaluate, picture, svm)
        except (VideoError, ValueError, OSError) as err:
            print(f"{video}: {err}", file=sys.stderr)
            status = 1
            continue
        print(f"{video}  (spatial {spatial.path}, temporal {temporal.path})")
        print(f"  {'class':<28} {'spatial':>8} {'temporal':>9} {'average':>8}"
              + (f" {'SVM':>7}" if svm is not None else ""))
        for name, s, t, f, m in result.top(args.top):
            print(f"  {name:<28} {s:8.3f} {t:9.3f} {f:8.3f}" + (f" {m:7.3f}" if m is not None else ""))
        if picture is not None:
            print(f"  frames and flow used: {picture}")
    return status


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
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
