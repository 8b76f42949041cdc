"""Generate the Python stubs of protos/ into client/openvz/v1 (or another folder).

The stubs are committed; tests/test_stubs.py regenerates them into a temporary
folder and fails on any difference, so they can never drift from protos/.
Run with the pinned grpcio-tools and mypy-protobuf of the "dev" extra:

    .venv/bin/python scripts/generate_stubs.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

TOP = Path(__file__).resolve().parent.parent
PROTO_ROOT = TOP / "protos"
PACKAGE = Path("openvz") / "v1"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))


def generate(out_dir: Path) -> None:
    """Write *_pb2.py, *_pb2.pyi, *_pb2_grpc.py and *_pb2_grpc.pyi for every proto into out_dir."""
    # protoc finds the mypy plugins (protoc-gen-mypy*) on PATH, beside this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as scratch:
        include = Path(protoc.__file__).parent / "_proto"
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={scratch}",
            f"--grpc_python_out={scratch}",
            f"--mypy_out={scratch}",
            f"--mypy_grpc_out={scratch}",
            *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for generated in sorted((Path(scratch) / PACKAGE).iterdir()):
            shutil.copyfile(generated, out_dir / generated.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TOP / "client" / PACKAGE)
    args = parser.parse_args()
    generate(args.out)
    print(f"stubs written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
