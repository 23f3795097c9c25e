"""Turn a benchmark run into a markdown table (and keep the raw numbers as JSON)."""

from __future__ import annotations

from typing import Any

__all__ = ["NO_JOURNAL", "markdown"]

#: Marks a keyed target run without the spend journal (see bench/keyed.py).
NO_JOURNAL = ", no journal"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else (f"{value:.2f}" if value < 100 else f"{value:.0f}")


def _cell(result: dict[str, Any] | None, stream: bool) -> str:
    if result is None:
        return "n/a"
    if result.get("skipped"):
        return f"not run: {result['skipped']}"
    latency = result.get("latency_ms")
    if latency is None:
        return f"all {result['errors']} failed: {result.get('first_error')}"
    if stream:
        ttfb = result["ttfb_ms"]
        text = f"TTFB p50 {_ms(ttfb['p50'])} / p99 {_ms(ttfb['p99'])} ms · total p50 {_ms(latency['p50'])} ms"
        if result.get("cpu_ms_per_request") is not None:
            text += f" · CPU {result['cpu_ms_per_request']:.2f} ms/stream"
        text += f" · {result['rps']:,.0f} streams/s"
    else:
        text = (
            f"{result['rps']:,.0f} req/s · p50 {_ms(latency['p50'])} · p90 {_ms(latency['p90'])}"
            f" · p99 {_ms(latency['p99'])} ms"
        )
        if result.get("cpu_ms_per_request") is not None:
            text += f" · CPU {result['cpu_ms_per_request']:.2f} ms/req"
    if result["errors"]:
        text += f" · **{result['errors']} errors** ({result['first_error']})"
    return text


def _added(results: dict[str, dict[str, Any]], names: list[str], stream: bool) -> str:
    key = "ttfb_ms" if stream else "latency_ms"
    base = (results.get("direct") or {}).get(key)
    if base is None:
        return "n/a"
    parts = []
    for name in names:
        if name == "direct":
            continue
        measured = (results.get(name) or {}).get(key)
        if measured is not None:
            parts.append(f"{name} {measured['p50'] - base['p50']:+.2f} ms")
    if not parts:
        return "n/a"
    return " · ".join(parts) + (" (TTFB)" if stream else "")


def _mib(kib: int | None) -> str:
    return "n/a" if not kib else f"{kib / 1024:.1f} MiB"


def _intro(names: list[str], targets: dict[str, Any]) -> str:
    text = "Same requests, back to back: straight to the mock upstream (direct)"
    if "bastion" in names:
        text += ", through Bastion with the master key"
    if "litellm" in names:
        text += ", through LiteLLM's proxy (same config, master key)"
    if "portkey" in names:
        text += ", through Portkey's gateway (routed by its headers to the mock, upstream key as Bearer)"
    stores = list(
        dict.fromkeys(
            "its default SQLite store" if "sqlite" in name else "PostgreSQL with the limits in Redis"
            for name, target in targets.items()
            if target.get("keyed")
        )
    )
    if stores:
        text += (
            ", through Bastion with a virtual key (budget, rpm/tpm/parallel limits, spend log and its"
            " journal; limits generous enough that nothing is refused) on " + " and on ".join(stores)
        )
        if any(NO_JOURNAL in name for name in targets):
            text += " (each also without the spend journal, to measure its cost)"
    return text + ". Latency in ms; CPU is the gateway process's CPU time per request or stream."


def _rows(target: dict[str, Any]) -> str:
    spend = target.get("spend_rows")
    if not spend:
        return "n/a"
    written, sent = spend["written"], spend["sent"]
    text = f"{written:,} of {sent:,}" if isinstance(written, int) else f"{written} (of {sent:,})"
    return text if written == sent else f"**{text}**"


def _goals(run: dict[str, Any]) -> list[str]:
    """Issue 3's targets for the keyed runs: added p50 at c1 under 1.5 ms, over 1,000 req/s at c16."""
    steps = {s["name"]: s["results"] for s in run["scenarios"]}
    c1, c16 = steps.get("nonstream-c1", {}), steps.get("nonstream-c16", {})
    base = (c1.get("direct") or {}).get("latency_ms")
    lines = [
        "",
        "| keyed run | added p50, c1 (goal < 1.5 ms) | req/s, c16 (goal > 1,000) | spend rows written |",
        "|---|---|---|---|",
    ]
    for name, target in run["targets"].items():
        if not target.get("keyed"):
            continue
        measured = (c1.get(name) or {}).get("latency_ms")
        if base is None or measured is None:
            added = "n/a"
        else:
            delta = measured["p50"] - base["p50"]
            added = f"{delta:+.2f} ms {'met' if delta < 1.5 else '**missed**'}"
        result = c16.get(name) or {}
        if result.get("latency_ms") is None:
            rps = "n/a"
        else:
            rps = f"{result['rps']:,.0f} {'met' if result['rps'] > 1000 else '**missed**'}"
            rps += f" (**{result['errors']} errors**)" if result["errors"] else ""
        lines.append(f"| {name} | {added} | {rps} | {_rows(target)} |")
    return lines


def _journal_cost(run: dict[str, Any]) -> list[str]:
    """What the spend journal costs: each keyed store with it and without it, in the same run."""
    steps = {s["name"]: s["results"] for s in run["scenarios"]}
    c1, c16 = steps.get("nonstream-c1", {}), steps.get("nonstream-c16", {})
    base = (c1.get("direct") or {}).get("latency_ms")
    lines = [
        "",
        "| spend journal cost | added p50, c1: with / without | req/s, c16: with / without |"
        " CPU per request, c16: with / without |",
        "|---|---|---|---|",
    ]
    for name in run["targets"]:
        off = name[:-1] + NO_JOURNAL + ")"
        if NO_JOURNAL in name or off not in run["targets"]:
            continue
        added = []
        for target in (name, off):
            measured = (c1.get(target) or {}).get("latency_ms")
            added.append(None if base is None or measured is None else measured["p50"] - base["p50"])
        rps = [(c16.get(target) or {}).get("rps") for target in (name, off)]
        cpu = [(c16.get(target) or {}).get("cpu_ms_per_request") for target in (name, off)]
        lines.append(
            f"| {name} | {_pair(added, '+.3f', 'ms')} | {_pair(rps, ',.0f')} | {_pair(cpu, '.3f', 'ms')} |"
        )
    return lines if len(lines) > 3 else []


def _pair(values: list[float | None], fmt: str, unit: str = "") -> str:
    """``first / second unit (difference)``: a measure taken two ways (with and without the journal,
    through chat and through the Responses API)."""
    on, off = values
    if on is None or off is None:
        return "n/a"
    suffix = f" {unit}" if unit else ""
    delta = format(on - off, "+" + fmt.lstrip("+"))
    return f"{format(on, fmt)} / {format(off, fmt)}{suffix} ({delta}{suffix})"


def _cache_goal(run: dict[str, Any]) -> list[str]:
    """Issue 7's target: a cached answer at least as fast as the direct call to the mock."""
    lines = [
        "",
        "| cache-hit run | total p50, direct | total p50, bastion+cache | goal: at least as fast |",
        "|---|---|---|---|",
    ]
    for scenario in run["scenarios"]:
        results = scenario["results"]
        # Total time, streams included: a replayed stream is whole at once.
        direct = (results.get("direct") or {}).get("latency_ms")
        cached = (results.get("bastion+cache") or {}).get("latency_ms")
        if direct is None or cached is None:
            continue
        verdict = "met" if cached["p50"] <= direct["p50"] else "**missed**"
        lines.append(f"| {scenario['label']} | {direct['p50']:.2f} ms | {cached['p50']:.2f} ms | {verdict} |")
    if len(lines) > 3 and any("missed" in line and "non-streaming" in line for line in lines):
        lines += [
            "",
            "The mock answers a non-streaming call at once, with no model time, so there a cache hit "
            "(which still authenticates, logs and records the request) cannot beat it; on streams, "
            "where the mock takes model time as a provider does, it can.",
        ]
    return lines if len(lines) > 3 else []


def _responses_vs_chat(run: dict[str, Any]) -> list[str]:
    """Each gateway's Responses API steps next to the chat steps they mirror. Through Bastion both
    reach the upstream's chat endpoint (the bench group is translated), so added latency is taken
    against the direct chat call for both: the difference is what the Responses front end costs."""
    steps = {s["name"]: s for s in run["scenarios"]}
    lines = [
        "",
        "Responses API vs chat completions through each gateway (responses / chat, and the difference;"
        " added p50 against the direct chat call, TTFB for streams, where the Responses API's first"
        " token is its first `response.output_text.delta`):",
        "",
        "| gateway | step | added p50: responses / chat | req/s: responses / chat |"
        " CPU per request: responses / chat |",
        "|---|---|---|---|---|",
    ]
    for name in run["targets"]:
        if name == "direct":
            continue
        for chat_name in ("nonstream-c1", "nonstream-c16", "stream-c1"):
            chat, responses = steps.get(chat_name), steps.get(f"responses-{chat_name}")
            if chat is None or responses is None:
                continue
            key = "ttfb_ms" if chat["stream"] else "latency_ms"
            base = (chat["results"].get("direct") or {}).get(key)
            results = [responses["results"].get(name) or {}, chat["results"].get(name) or {}]
            measured = [result.get(key) for result in results]
            added = [None if base is None or m is None else m["p50"] - base["p50"] for m in measured]
            ok = [result if result.get(key) is not None else {} for result in results]
            rps = [result.get("rps") for result in ok]
            cpu = [result.get("cpu_ms_per_request") for result in ok]
            lines.append(
                f"| {name} | {chat['label']} | {_pair(added, '+.2f', 'ms')} | {_pair(rps, ',.0f')} |"
                f" {_pair(cpu, '.3f', 'ms')} |"
            )
    return lines if len(lines) > 6 else []


def _side_by_side(run: dict[str, Any]) -> list[str]:
    """One row per gateway with the figures the README compares (Bastion's and the peers'), each
    taken in this run: added p50 at c1 against direct, req/s and CPU per request at c16, CPU per
    100-token stream at c1 and c32, idle RSS, start-up."""
    steps = {s["name"]: s["results"] for s in run["scenarios"]}
    c1, c16 = steps.get("nonstream-c1", {}), steps.get("nonstream-c16", {})
    base = (c1.get("direct") or {}).get("latency_ms")

    def cpu(step: str, name: str) -> str:
        value = (steps.get(step, {}).get(name) or {}).get("cpu_ms_per_request")
        return "n/a" if value is None else f"{value:.2f}"

    lines = [
        "",
        "Side by side (every figure from this run; added latency against direct):",
        "",
        "| gateway | added p50, c1 | req/s, c16 | CPU per request, c16 | CPU per 100-token stream, c1 / c32"
        " | idle RSS | start-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, target in run["targets"].items():
        if name == "direct":
            continue
        measured = (c1.get(name) or {}).get("latency_ms")
        added = "n/a" if base is None or measured is None else f"{measured['p50'] - base['p50']:+.2f} ms"
        result = c16.get(name) or {}
        rps = "n/a" if result.get("latency_ms") is None else f"{result['rps']:,.0f}"
        if result.get("errors"):
            rps += f" (**{result['errors']} errors**)"
        startup = target.get("startup_seconds")
        lines.append(
            f"| {name} | {added} | {rps} | {cpu('nonstream-c16', name)} ms"
            f" | {cpu('stream-c1', name)} / {cpu('stream-c32', name)} ms | {_mib(target.get('idle_rss_kib'))}"
            f" | {'n/a' if startup is None else f'{startup:.2f} s'} |"
        )
    return lines if len(lines) > 5 else []


def markdown(run: dict[str, Any]) -> str:
    """The run as a markdown document: one row per scenario, then the processes' start-up and memory."""
    meta = run["meta"]
    names = list(run["targets"])
    lines = [
        "# Bastion benchmark",
        "",
        f"{meta['date']} · {meta['machine']} · {'quick run' if meta['quick'] else 'full run'} · "
        f"mock token delay {meta['token_delay'] * 1000:g} ms · commit {meta['commit']}",
        "",
        _intro(names, run["targets"]),
        "",
        "| scenario | " + " | ".join(names) + " | added latency p50 |",
        "|---" * (len(names) + 2) + "|",
    ]
    for scenario in run["scenarios"]:
        cells = [_cell(scenario["results"].get(name), scenario["stream"]) for name in names]
        added = _added(scenario["results"], names, scenario["stream"])
        lines.append(f"| {scenario['label']} | " + " | ".join(cells) + f" | {added} |")
    lines += ["", "| process | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    targets = run["targets"]
    startup = [
        "n/a" if t.get("startup_seconds") is None else f"{t['startup_seconds']:.2f} s"
        for t in targets.values()
    ]
    lines.append("| start-up to first served request | " + " | ".join(startup) + " |")
    lines.append("| idle RSS | " + " | ".join(_mib(t.get("idle_rss_kib")) for t in targets.values()) + " |")
    lines.append(
        "| peak RSS (VmHWM) | " + " | ".join(_mib(t.get("peak_rss_kib")) for t in targets.values()) + " |"
    )
    keyed = any(t.get("keyed") for t in targets.values())
    if keyed:
        lines.append("| spend rows written | " + " | ".join(_rows(t) for t in targets.values()) + " |")
    lines += _side_by_side(run)
    if keyed:
        lines += _goals(run)
        lines += _journal_cost(run)
    if "bastion+cache" in targets:
        lines += _cache_goal(run)
    lines += _responses_vs_chat(run)
    failures = [f"- {name}: {t['error']}" for name, t in targets.items() if t.get("error")]
    if failures:
        lines += ["", "Targets that could not be measured:", *failures]
    if meta.get("notes"):
        lines += ["", *[f"- {note}" for note in meta["notes"]]]
    return "\n".join(lines) + "\n"
