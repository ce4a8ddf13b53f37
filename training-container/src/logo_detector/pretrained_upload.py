"""``python -m logo_detector.pretrained_upload SOURCE OUT_DIR``: the check ``npm run fetch-pretrained`` runs.

Finds GluonCV's VOC SSD weights in a ``.params`` file or a tar archive (SageMaker JumpStart's training artifact),
checks that every parameter fits the network, and writes the file and its record (``weights.json``) for the
artifacts bucket's ``pretrained/`` prefix, where training finds them (``pretrained.find_voc_weights``).
"""
import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .pretrained import (
    VOC_MODEL,
    VOC_WEIGHTS_FILE,
    VOC_WEIGHTS_SHA1,
    WEIGHTS_RECORD,
    PretrainedWeightsError,
    sha1_of,
)


def _params_members(archive: tarfile.TarFile) -> List[tarfile.TarInfo]:
    return [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".params")]


def prepare_upload(source: Path, out_dir: Path, origin: str) -> Dict[str, Any]:
    """Finds the VOC weights in ``source`` and writes what the pretrained channel needs to ``out_dir``.

    ``source`` is a ``.params`` file or a tar archive (gzipped or not); in an archive, every ``.params`` file is
    tried until one fits the VOC network (``backend_gluoncv.check_voc_weights``). Writes the weights as
    ``ssd_512_mobilenet1.0_voc-<first 8 hex digits of its SHA-1>.params`` (GluonCV's own naming) and the record
    ``weights.json``; returns the record. ``origin`` says where ``source`` came from, for the record.
    Raises ``PretrainedWeightsError`` naming each file tried and why it does not fit.
    """
    from .backend_gluoncv import check_voc_weights  # MXNet is imported only when a file is checked

    out_dir.mkdir(parents=True, exist_ok=True)
    checked = out_dir / "checking.params"
    tried: List[str] = []
    candidates: List[Tuple[Optional[str], Path]] = []
    with tempfile.TemporaryDirectory() as scratch:
        if tarfile.is_tarfile(source):
            with tarfile.open(source) as archive:
                members = _params_members(archive)
                if not members:
                    listed = ", ".join(m.name for m in archive.getmembers()[:20]) or "nothing"
                    raise PretrainedWeightsError(f"{origin} holds no .params file (it holds {listed}).")
                for index, info in enumerate(members):
                    # Only the member's bytes are written, to a name of ours: an archive path cannot escape scratch.
                    path = Path(scratch) / f"member-{index}.params"
                    stream = archive.extractfile(info)
                    if stream is None:
                        continue
                    with stream, open(path, "wb") as copy:
                        shutil.copyfileobj(stream, copy, 1 << 20)
                    candidates.append((info.name, path))
        else:
            candidates.append((None, source))
        for member, path in candidates:
            try:
                parameters = check_voc_weights(path, checked)
            except PretrainedWeightsError as err:
                tried.append(str(err).replace(str(path), member or str(source)))
                continue
            digest = sha1_of(checked)
            name = VOC_WEIGHTS_FILE if digest == VOC_WEIGHTS_SHA1 else f"{VOC_MODEL}-{digest[:8]}.params"
            os.replace(checked, out_dir / name)
            record = {
                "file": name, "sha1": digest, "model": VOC_MODEL, "parameters": parameters, "source": origin,
                "member": member, "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            (out_dir / WEIGHTS_RECORD).write_text(json.dumps(record, indent=2) + "\n")
            return record
    raise PretrainedWeightsError(f"No file of {origin} fits GluonCV's {VOC_MODEL}: " + " ".join(tried))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Prints the record as one JSON line and returns 0, or prints why nothing fits to stderr and returns 1."""
    parser = argparse.ArgumentParser(
        prog="python -m logo_detector.pretrained_upload",
        description=f"Finds GluonCV's {VOC_MODEL} weights in a .params file or tar archive, checks that every "
        f"parameter fits the network, and writes the file and its record ({WEIGHTS_RECORD}) to OUT_DIR for "
        "the artifacts bucket's pretrained/ prefix.",
    )
    parser.add_argument("source", type=Path, help="a .params file, or a tar archive holding one")
    parser.add_argument("out_dir", type=Path, help="where to write the weights and weights.json")
    parser.add_argument("--origin", help="where SOURCE came from, for the record (default: its path)")
    args = parser.parse_args(argv)
    try:
        record = prepare_upload(args.source, args.out_dir, args.origin or str(args.source))
    except (PretrainedWeightsError, OSError, tarfile.TarError) as err:
        print(err, file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
