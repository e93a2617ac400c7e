"""``fastdci encode RUN --out latents.h5`` (a training run) or ``fastdci encode --model module:attr
--out latents.h5`` (any importable model or function): stream the latents of dSprites into HDF5."""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from . import app
from ._common import OutputFormat, print_json, print_table, show_progress
from ._train import _set_threads, device_option, format_option


def load_model(spec: str) -> Any:
    """The object ``module:attr`` names (``attr`` may be dotted), ready to encode with.

    The current directory is importable, as with ``python -m``. A class is constructed without
    arguments; a torch module instance or any other callable (``images -> means``) is returned
    as it is. Every failure is one :class:`~fastdci.errors.InvalidInputError` with the fix.
    """
    from ..errors import InvalidInputError

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInputError(f"--model must be 'module:attr' (e.g. mypackage.models:encoder); got {spec!r}.")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InvalidInputError(
                f"--model {spec}: no module named {exc.name!r}; run from the folder that holds it or add that folder "
                "to PYTHONPATH."
            ) from None
        raise InvalidInputError(f"--model {spec}: importing {module_name} failed: {exc}. Install what it "
                                "needs.") from None
    except Exception as exc:  # the user's module raised while importing
        raise InvalidInputError(
            f"--model {spec}: importing {module_name} raised {type(exc).__name__}: {exc}. Fix the module "
            "(FASTDCI_DEBUG=1 shows the traceback)."
        ) from exc
    owner = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            close = difflib.get_close_matches(part, [n for n in dir(obj) if not n.startswith("_")], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidInputError(f"--model {spec}: {owner} has no attribute {part!r}.{hint}")
        obj = getattr(obj, part)
        owner = f"{owner}{':' if owner == module_name else '.'}{part}"
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise InvalidInputError(
                f"--model {spec} is a class that cannot be constructed without arguments ({type(exc).__name__}: "
                f"{exc}); point --model at an instance, or a function images -> means."
            ) from exc
    if not callable(obj) and not callable(getattr(obj, "encode", None)):
        raise InvalidInputError(
            f"--model {spec} is a {type(obj).__name__}, not a torch module, a class or a function images -> means."
        )
    return obj


@app.command("encode")
def encode_command(
    run: Optional[Path] = typer.Argument(None, help="Run directory of fastdci train (or its checkpoint.pt); "
                                                    "or give --model instead."),
    out: Path = typer.Option(..., "--out", "-o", help="Latents file to write (.h5)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", metavar="MODULE:ATTR",
        help="Encode with an importable torch module, a class constructible without arguments, or a function "
             "images -> means (e.g. mypackage.models:encoder), instead of a training run."),
    rows: str = typer.Option(
        "all", help="'all' (every row, grid order) or N: N rows drawn at random without replacement "
                    "(by --seed), written in dataset order."),
    seed: int = typer.Option(0, help="Seed of the random row subset."),
    batch_size: int = typer.Option(512, help="Images per encoder batch."),
    device: str = device_option("Where to encode: auto (a GPU when one is visible), cpu, cuda or cuda:N."),
    data: Optional[Path] = typer.Option(None, help="The real dSprites .npz; default renders the images."),
    resume: bool = typer.Option(False, "--resume", help="Finish an interrupted file (of a training run)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (default: torch's choice)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
    format: OutputFormat = format_option(),
) -> None:
    """Encode dSprites with a trained model; a background thread writes the latents file.

    A killed encode of a training run leaves a resumable file: rerun with --resume. The model's
    config and checkpoint step (or, with --model, its class) go into the file's `model`
    attribute, the dataset and row selection into `dataset`.
    """
    from ..errors import InvalidInputError

    if (run is None) == (model is None):
        raise InvalidInputError("give a training run directory or --model module:attr (one of them), e.g. "
                                "`fastdci encode run --out latents.h5` or `fastdci encode --model pkg.mod:net --out "
                                "latents.h5`.")
    _set_threads(threads)
    data_path = str(data) if data is not None else None
    if model is not None:
        if resume:
            raise InvalidInputError("--resume finishes a training run's file; with --model encode again with "
                                    "--overwrite.")
        from ..io.model_input import encode_model_to_file

        res = encode_model_to_file(load_model(model), out, data_path, rows=rows, seed=seed, batch_size=batch_size,
                                   device=device, overwrite=overwrite, progress=show_progress(no_progress))
    else:
        from ..encode import encode

        res = encode(run, out, rows=rows, seed=seed, batch_size=batch_size, device=device, data=data_path,
                     resume=resume, overwrite=overwrite, progress=show_progress(no_progress))
    info = {
        "file": str(res.path),
        "rows": res.rows,
        "rows_this_call": res.rows_this_call,
        "seconds": res.seconds,
        "images_per_second": res.images_per_second,
        "writer_wait_seconds": res.writer_wait_seconds,
    }
    if format == OutputFormat.json:
        print_json(info)
        return
    print_table(None, ["name", "value"], [[k, v] for k, v in info.items()])
