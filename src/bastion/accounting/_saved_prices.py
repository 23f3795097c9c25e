"""The price table's answers for the configured models, looked up without loading genai-prices.

genai-prices builds pydantic models of its whole snapshot on import: about 13 MiB that stay for the
life of the process and a third of a second of start-up, to price the few models a config names.
So at start-up the rates of the configured models are read from a small file in the data directory
(``price-table.json``, valid for one genai-prices version); what it lacks is looked up in a short-
lived child process (``python -m bastion.accounting._saved_prices``) whose memory goes when it
exits, and saved for the next start. Should the child fail (no usable interpreter), the gateway
looks the models up itself, as before. Models named only at run time (wildcard deployments) are
still looked up in the gateway process, on first use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bastion.accounting._price_table import table_price
from bastion.accounting._rates import Rates, TieredRates

__all__ = ["FILE_NAME", "look_up", "table_version"]

_log = logging.getLogger("bastion.pricing")

FILE_NAME = "price-table.json"
_CHILD_TIMEOUT = 60.0

Found = dict[tuple[str, str], TieredRates | None]


def table_version() -> str:
    """The installed genai-prices version (the saved answers are valid for it only)."""
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        return "unknown"


def look_up(models: Iterable[tuple[str, str]], data_dir: Path) -> Found:
    """The table's rates (``None``: unpriced) of ``models`` (provider, model), from the saved file,
    else from a child process, else in this process; newly found answers are saved."""
    wanted = list(dict.fromkeys(models))
    if not wanted:
        return {}
    path = data_dir / FILE_NAME
    version = table_version()
    saved = _read(path, version)
    found: Found = {key: saved[key] for key in wanted if key in saved}
    missing = [key for key in wanted if key not in found]
    if not missing:
        return found
    fresh = _in_child(missing)
    if fresh is None:
        fresh = {key: table_price(*key) for key in missing}
    else:
        for (provider, model), rates in fresh.items():
            if rates is None:
                _log.info("the price table has no price for %s/%s", provider, model)
    found.update(fresh)
    _write(path, version, {**saved, **fresh})
    return found


def _in_child(models: Sequence[tuple[str, str]]) -> Found | None:
    argv = [sys.executable, "-m", __name__, *(f"{provider}/{model}" for provider, model in models)]
    _log.info("looking %d prices up in the price table, in a child process", len(models))
    try:
        done = subprocess.run(argv, capture_output=True, timeout=_CHILD_TIMEOUT, check=True)
        answers = orjson.loads(done.stdout)
        return {key: _decode(answer) for key, answer in zip(models, answers, strict=True)}
    except Exception as exc:  # any failure: the caller looks the models up itself
        _log.info("looking prices up in a child process failed (%s); looking them up here", exc)
        return None


def _read(path: Path, version: str) -> Found:
    try:
        document = orjson.loads(path.read_bytes())
        if document.get("genai_prices") != version:
            return {}
        found: Found = {}
        for name, value in document["models"].items():
            provider, model = name.split("/", 1)
            found[provider, model] = _decode(value)
        return found
    except FileNotFoundError:
        return {}
    except Exception as exc:  # a damaged file is looked up again and rewritten
        _log.info("ignoring the saved price table %s: %s", path, exc)
        return {}


def _write(path: Path, version: str, found: Found) -> None:
    document = {
        "genai_prices": version,
        "models": {f"{provider}/{model}": _encode(rates) for (provider, model), rates in found.items()},
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        os.replace(temporary, path)
    except OSError as exc:  # a read-only data directory: the next start looks them up again
        _log.info("could not save the price table to %s: %s", path, exc)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _encode(rates: TieredRates | None) -> Any:
    if rates is None:
        return None
    return {"base": _flat(rates.base), "tiers": [[start, _flat(tier)] for start, tier in rates.tiers]}


def _flat(rates: Rates) -> list[float | None]:
    return [rates.input, rates.output, rates.cache_read, rates.cache_write]


def _decode(value: Any) -> TieredRates | None:
    if value is None:
        return None
    return TieredRates(
        _rates(value["base"]), tuple((int(start), _rates(tier)) for start, tier in value["tiers"])
    )


def _rates(value: Sequence[Any]) -> Rates:
    given, output, cache_read, cache_write = value
    return Rates(
        input=float(given),
        output=float(output),
        cache_read=None if cache_read is None else float(cache_read),
        cache_write=None if cache_write is None else float(cache_write),
    )


def _main(names: Sequence[str]) -> None:
    """The child: print the rates of each ``provider/model`` as a JSON list, in order."""
    answers = [_encode(table_price(*name.split("/", 1))) for name in names]
    sys.stdout.buffer.write(orjson.dumps(answers))


if __name__ == "__main__":
    _main(sys.argv[1:])
