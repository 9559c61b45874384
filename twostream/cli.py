"""The `twostream` command: use trained models outside the pipeline.

    twostream predict VIDEO... [--part ucf101|hmdb51] [--spatial FILE] [--temporal FILE]
                               [--picture DIR] [--top 5]

Defaults: the fused pair of params.yaml for the dataset part `--part` (fusion.spatial at
`dropout`; fusion.temporal on ucf101, fusion.hmdb_temporal on hmdb51), first of `run.splits`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twostream.config import ROLES, ParamsError, load_params
from twostream.runtime import configure_logging
from twostream.streams import fused_spatial_cell


def _default_models(params_path: Path, part: str) -> tuple[Path, Path]:
    params = load_params(params_path)
    split = params.run.splits[0]
    temporal = params.fusion.temporal if part == "ucf101" else params.fusion.hmdb_temporal
    return (Path("models") / part / "spatial" / fused_spatial_cell(params) / f"split{split}.pt",
            Path("models") / part / "temporal" / temporal / f"split{split}.pt")


def predict_command(args: argparse.Namespace) -> int:
    from twostream.predict import TrainedStream, predict
    from twostream.video import VideoError

    configure_logging("predict")
    try:
        params = load_params(args.params)
        spatial_path, temporal_path = _default_models(args.params, args.part)
        spatial = TrainedStream.load(args.spatial or spatial_path)
        temporal = TrainedStream.load(args.temporal or temporal_path)
    except (ParamsError, FileNotFoundError) as err:
        print(f"twostream predict: {err}", file=sys.stderr)
        return 2
    status = 0
    for video in args.videos:
        picture = args.picture / f"{video.stem}.png" if args.picture else None
        try:
            result = predict(video, spatial, temporal, params.evaluate, picture)
        except (VideoError, ValueError, OSError) as err:
            print(f"{video}: {err}", file=sys.stderr)
            status = 1
            continue
        print(f"{video}  (spatial {spatial.path}, temporal {temporal.path})")
        print(f"  {'class':<28} {'spatial':>8} {'temporal':>9} {'fused':>7}")
        for name, s, t, f in result.top(args.top):
            print(f"  {name:<28} {s:8.3f} {t:9.3f} {f:7.3f}")
        if picture is not None:
            print(f"  frames and flow used: {picture}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="twostream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("predict", help="top-5 classes of video files, per stream and fused")
    p.add_argument("videos", type=Path, nargs="+")
    p.add_argument("--part", choices=ROLES, default="ucf101",
                   help="whose classes: the ucf101 or hmdb51 part's fused pair (default ucf101)")
    p.add_argument("--spatial", type=Path,
                   help="a spatial model file (models/<part>/spatial/<cell>/split<k>.pt)")
    p.add_argument("--temporal", type=Path, help="a temporal model file")
    p.add_argument("--picture", type=Path, help="folder for a PNG of each video's frames and flow")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--params", type=Path, default=Path("params.yaml"),
                   help="for the default models and the test protocol (evaluate)")
    p.set_defaults(run=predict_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
